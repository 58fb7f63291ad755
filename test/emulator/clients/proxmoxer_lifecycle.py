#!/usr/bin/python3
"""A full container lifecycle driven by proxmoxer (Debian python3-proxmoxer), an independent PVE client library,
against the emulator over HTTPS with its CA. Prints one JSON object with what it saw; the Jest test asserts on it.

Environment: PVE_HOST (host:port), PVE_TOKEN (user@realm!id=secret), PVE_CA (PEM file), PVE_NODE.
"""
import json
import os
import time

from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException

TEMPLATE = 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst'

user, rest = os.environ['PVE_TOKEN'].split('!', 1)
token_name, token_value = rest.split('=', 1)
px = ProxmoxAPI(os.environ['PVE_HOST'], user=user, token_name=token_name, token_value=token_value,
                verify_ssl=os.environ['PVE_CA'])
node = px.nodes(os.environ['PVE_NODE'])
seen = {}


def wait(upid):
    deadline = time.time() + 20
    while time.time() < deadline:
        st = node.tasks(upid).status.get()
        if st['status'] == 'stopped':
            return st['exitstatus']
        time.sleep(0.02)
    raise RuntimeError('task %s did not finish' % upid)


def error_of(call):
    try:
        call()
    except ResourceException as e:
        return {'status': e.status_code, 'reason': e.content, 'errors': e.errors}
    return None


seen['version'] = px.version.get()['release']
vmid = int(px.cluster.nextid.get())
seen['vmid'] = vmid
# mp0 before rootfs on purpose: PVE allocates rootfs first whatever the order.
seen['create'] = wait(node.lxc.create(vmid=vmid, ostemplate=TEMPLATE, mp0='local-zfs:1,mp=/data',
                                      rootfs='local-zfs:2', hostname='px1', description='made by proxmoxer',
                                      net0='name=eth0,bridge=vmbr0,ip=dhcp,rate=12.50',
                                      net1='name=eth1,bridge=vmbr0,ip=manual', onboot=1))
ct = node.lxc(vmid)
seen['config'] = ct.config.get()
ct.config.put(cores=2, description='')
# A list: requests sends repeated `delete` keys; PVE joins them with ','.
ct.config.put(delete=['net1', 'onboot'])
seen['after_set'] = ct.config.get()
seen['repeated_non_list'] = error_of(lambda: ct.config.put(cores=[1, 2]))
seen['start'] = wait(ct.status.start.post())
seen['status'] = ct.status.current.get()['status']
seen['snapshot'] = wait(ct.snapshot.post(snapname='before_clone', description='first'))
seen['snapshots'] = [s['name'] for s in ct.snapshot.get()]
seen['bad_snapname'] = error_of(lambda: ct.snapshot.post(snapname='1bad'))
clone_id = vmid + 1
seen['clone_running_full'] = wait(ct.clone.post(newid=clone_id, snapname='before_clone', full=1, hostname='px1-clone'))
seen['clone_config'] = node.lxc(clone_id).config.get()
seen['stop'] = wait(ct.status.stop.post())
seen['rollback'] = wait(ct.snapshot('before_clone').rollback.post())
seen['delsnapshot'] = wait(ct.snapshot('before_clone').delete())
# A template made by `POST template` has base volumes; a linked clone of it works.
tmpl = node.lxc(clone_id)
tmpl.template.post()
time.sleep(0.5)
seen['linked'] = wait(tmpl.clone.post(newid=clone_id + 1))
seen['linked_rootfs'] = node.lxc(clone_id + 1).config.get()['rootfs']
for v in (clone_id + 1, clone_id, vmid):
    seen['destroy_%d' % v] = wait(node.lxc(v).delete())
seen['left'] = [c['vmid'] for c in node.lxc.get()]
print(json.dumps(seen))
