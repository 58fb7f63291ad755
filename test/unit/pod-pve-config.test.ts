import { containerConfigSchema, type ContainerConfig } from '../../provider/proxmox/schemas';
import { driftedInputs } from '../../provider/resources/pod/observe';
import { podInputsSchema as podInputs } from '../../provider/resources/pod/schema';
import { configUpdate, createParams, inputsFromConfig, managedConfig, parseDescription, renderDescription, shellJoin, shellSplit } from '../../provider/resources/pod/pve-config';
import { podInputsSchema } from '../../provider/resources/pod/schema';

const image = { template: 'local:vztmpl/app.tar', digest: 'sha256:' + 'a'.repeat(64), entrypoint: ['/bin/app'], cmd: ['--port', '80'], env: { PATH: '/usr/bin', A: 'img' } };
const pod = podInputsSchema.parse({
  name: 'web', image, env: { A: 'pod', B: 'it\'s' }, tags: ['web', 'b'], description: 'hello',
  network: { bridge: 'vmbr1', ip: '10.0.0.5/24', gateway: '10.0.0.1', vlan: 20, mtu: 1400 }, nameserver: ['10.0.0.53'], onboot: true,
});

describe('Pod ↔ PVE config', () => {
  test('create params carry PVE property strings and merged env/entrypoint', () => {
    const p = createParams(pod, 'local-zfs');
    expect(p.ostemplate).toBe('local:vztmpl/app.tar');
    expect(p.rootfs).toBe('local-zfs:4');
    // An application image: host-managed as PVE's OCI create sets it (pod-oci-config.test.ts covers the rules).
    expect(p.net0).toBe('name=eth0,bridge=vmbr1,gw=10.0.0.1,host-managed=1,ip=10.0.0.5/24,mtu=1400,tag=20');
    expect(p.tags).toBe('b;proxmox-pods;web');
    expect(p.env).toBe(['PATH=/usr/bin', 'A=pod', "B=it's"].join('\0'));
    expect(p.entrypoint).toBe('/bin/app --port 80');
    expect(p.unprivileged).toBe(1);
    expect(p.start).toBe(0);
    expect(p.arch).toBeUndefined();
    // An OciImage's platform sets PVE's arch at create (PVE cannot detect it without /bin/sh in the image).
    expect(createParams({ ...pod, image: { template: 'local:vztmpl/app.tar', arch: 'arm64' } }, 'local-zfs').arch).toBe('arm64');
  });

  test('shell quoting round-trips hostile arguments', () => {
    const argv = ['/bin/sh', '-c', "echo 'hi' && rm -rf $HOME; `x`", '', 'a b'];
    expect(shellSplit(shellJoin(argv))).toEqual(argv);
  });

  test('description keeps the user text and hides metadata', () => {
    const d = renderDescription('user text', { v: 1, kind: 'Pod', name: 'web', image: 'local:vztmpl/x.tar' });
    expect(parseDescription(d + '\n')).toEqual({ user: 'user text', meta: { v: 1, kind: 'Pod', name: 'web', image: 'local:vztmpl/x.tar' } });
    expect(parseDescription('just a note\n')).toEqual({ user: 'just a note' });
  });

  test('inputs rebuild from a live config (refresh/adoption)', () => {
    const desired = managedConfig(pod);
    // What GET config returns, typed as the client reads it.
    const cfg = containerConfigSchema.parse({ ...desired, rootfs: 'local-zfs:subvol-100-disk-0,size=4G', unprivileged: 1, net0: `${desired.net0},hwaddr=BC:24:11:00:00:01,type=veth`, description: `${desired.description}\n` }) as ContainerConfig;
    const back = inputsFromConfig(cfg, {});
    expect(back).toMatchObject({ name: 'web', image, env: { A: 'pod', B: "it's" }, tags: ['b', 'web'], description: 'hello', cores: 1, memory: 512 });
    expect(back.network).toEqual({ bridge: 'vmbr1', ip: '10.0.0.5/24', gateway: '10.0.0.1', vlan: 20, mtu: 1400 });
    expect(back.entrypoint).toBeUndefined(); // it is the image's own
    expect(back.rootfs).toEqual({ storage: 'local-zfs', sizeGiB: 4 });
  });

  test('config update sends only what differs and deletes what the inputs dropped', () => {
    const live = containerConfigSchema.parse({ ...managedConfig(pod), net0: `${managedConfig(pod).net0},hwaddr=BC:24:11:00:00:01,type=veth`, nameserver: '10.0.0.53' }) as ContainerConfig;
    expect(configUpdate(live, managedConfig(pod))).toEqual({ set: {}, del: [] });
    const { nameserver: _n, ...rest } = pod;
    const next = managedConfig({ ...rest, memory: 1024 });
    const u = configUpdate(live, next);
    expect(u.set).toEqual({ memory: 1024 });
    expect(u.del).toEqual(['nameserver']);
  });
});

describe('rootfs sizes in every unit PVE writes', () => {
  test('size=1T reads as 1024 GiB: no drift at 1024, a grow from 1 TiB to 2 TiB is seen', () => {
    const base = podInputs.parse({ name: 'big', image: 'local:vztmpl/a.tar.zst', rootfs: { storage: 'local-zfs', sizeGiB: 1024 } });
    const outs = { ...base, node: 'pve', vmid: 100, hostname: 'big', status: 'running' };
    const cfg = containerConfigSchema.parse({ ...managedConfig(base), rootfs: 'local-zfs:subvol-100-disk-0,size=1T' }) as ContainerConfig;
    expect(driftedInputs(outs, cfg, {}, undefined).rootfs).toBeUndefined();
    expect(driftedInputs({ ...outs, rootfs: { storage: 'local-zfs', sizeGiB: 2048 } }, cfg, {}, undefined).rootfs).toEqual({ storage: 'local-zfs', sizeGiB: 1024 });
    const half = containerConfigSchema.parse({ ...managedConfig(base), rootfs: 'local-zfs:subvol-100-disk-0,size=512M' }) as ContainerConfig;
    expect(driftedInputs(outs, half, {}, undefined).rootfs).toEqual({ storage: 'local-zfs', sizeGiB: 0.5 });
  });
});
