// Conformance by code we did not write: proxmoxer (Debian python3-proxmoxer, scripts/apt-packages.txt) drives a
// full container lifecycle against the emulator over HTTPS, trusting only the emulator's CA. The script is
// test/emulator/clients/proxmoxer_lifecycle.py; this test runs it and checks what it saw against PVE's behaviour.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startEmulator, RunningEmulator } from '../../emulator';

const run = promisify(execFile);
// The Debian package installs for the system interpreter, not for any other python3 on PATH.
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(__dirname, '..', '..', '..', 'test', 'emulator', 'clients', 'proxmoxer_lifecycle.py');

let emu: RunningEmulator;
let dir: string;

beforeAll(async () => {
  emu = await startEmulator({ taskDurationMs: 10, lockTimeoutMs: 2000, httpPort: false });
  dir = await mkdtemp(join(tmpdir(), 'proxmoxer-'));
});
afterAll(async () => {
  await emu?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('proxmoxer: create, config get/set/delete, start, status, snapshot, clone, stop, rollback, template, linked clone, destroy', async () => {
  const ca = join(dir, 'ca.pem');
  await writeFile(ca, emu.caCertPem);
  const { stdout } = await run(PYTHON, [SCRIPT], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', PVE_HOST: new URL(emu.url).host, PVE_TOKEN: emu.token, PVE_CA: ca, PVE_NODE: 'pve' },
    timeout: 60000,
  });
  const seen = JSON.parse(stdout);
  const vmid: number = seen.vmid;
  expect(seen.version).toBe('9.1');
  expect(seen.create).toBe('OK');
  // pve-container src/PVE/LXC/Config.pm valid_volume_keys: rootfs is allocated first, then mp0.
  expect(seen.config.rootfs).toBe(`local-zfs:subvol-${vmid}-disk-0,size=2G`);
  expect(seen.config.mp0).toBe(`local-zfs:subvol-${vmid}-disk-1,mp=/data,size=1G`);
  // pve-common JSONSchema.pm parse_property_string keeps values as sent (rate=12.50); parse_lxc_network adds hwaddr, type.
  expect(seen.config.net0).toMatch(/^name=eth0,bridge=vmbr0,hwaddr=BC:24:11:[0-9A-F:]{8},ip=dhcp,rate=12\.50,type=veth$/);
  // write_pct_config writes the description as comment lines; parse_pct_config reads each back with '\n'.
  expect(seen.config.description).toBe('made by proxmoxer\n');
  // description= (empty) writes no line at all: the key is gone; repeated delete keys removed both.
  expect(seen.after_set.description).toBeUndefined();
  expect(seen.after_set.cores).toBe(2);
  expect(seen.after_set.net1).toBeUndefined();
  expect(seen.after_set.onboot).toBeUndefined();
  // RESTHandler + JSONSchema.pm check_type: a repeated non-list key is an ARRAY, a 400 (proxmoxer 1.2 reads
  // `errors` from `data`, which is null, so only the status line reaches it; the body is checked in conformance.test).
  expect(seen.repeated_non_list).toEqual({ status: 400, reason: 'Parameter verification failed.', errors: null });
  expect(seen.start).toBe('OK');
  expect(seen.status).toBe('running');
  expect(seen.snapshot).toBe('OK');
  expect(seen.snapshots).toEqual(['before_clone', 'current']);
  // pve-snapshot-name is format pve-configid: [a-z][a-z0-9_-]+.
  expect(seen.bad_snapname).toEqual({ status: 400, reason: 'Parameter verification failed.', errors: null });
  expect(seen.clone_running_full).toBe('OK');
  expect(seen.clone_config.hostname).toBe('px1-clone');
  expect(seen.clone_config.rootfs).toBe(`local-zfs:subvol-${vmid + 1}-disk-0,size=2G`);
  expect(seen.clone_config.parent).toBeUndefined();
  expect(seen.clone_config.lock).toBeUndefined();
  expect(seen.stop).toBe('OK');
  expect(seen.rollback).toBe('OK');
  expect(seen.delsnapshot).toBe('OK');
  expect(seen.linked).toBe('OK');
  // ZFSPoolPlugin clone_image: "<basename>/<name>".
  expect(seen.linked_rootfs).toBe(`local-zfs:basevol-${vmid + 1}-disk-0/subvol-${vmid + 2}-disk-0,size=2G`);
  for (const v of [vmid, vmid + 1, vmid + 2]) expect(seen[`destroy_${v}`]).toBe('OK');
  expect(seen.left).toEqual([]);
});
