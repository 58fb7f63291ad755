// The `emulator` CLI command: argument parsing, and a real child process that serves, prints the
// connection details, and exits cleanly on SIGTERM.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { parseEmulatorArgs } from '../../cli/emulator-command';
import { InputError } from '../../provider/errors';

describe('parseEmulatorArgs', () => {
  test('all flags, both --flag value and --flag=value forms', () => {
    const token = `root@pam!ci=${randomUUID()}`;
    expect(parseEmulatorArgs(['--port', '0', '--http-port=off', '--nodes', '3', '--token', token, '--task-ms=5'])).toEqual({
      port: 0, httpPort: false, nodes: 3, tokens: [token], taskDurationMs: 5,
    });
    expect(parseEmulatorArgs([`--token=${token}`]).tokens).toEqual([token]);
    expect(parseEmulatorArgs(['--zfs-pool', 'tank/pve-data']).zfsPool).toBe('tank/pve-data');
  });

  test('bad input names the flag', () => {
    expect(() => parseEmulatorArgs(['--port', 'abc'])).toThrow(InputError);
    expect(() => parseEmulatorArgs(['--port', '70000'])).toThrow(/--port: expects an integer between 0 and 65535/);
    expect(() => parseEmulatorArgs(['--token', 'root@pam=abc'])).toThrow(/--token: expects USER@REALM!ID=SECRET/);
    expect(() => parseEmulatorArgs(['--bogus'])).toThrow(/--bogus: unknown option/);
    expect(() => parseEmulatorArgs(['--zfs-pool', '-o x'])).toThrow(/--zfs-pool: expects an existing ZFS dataset/);
  });
});

describe('runEmulatorCommand in a child process', () => {
  test('prints URL, fingerprint, token and export line; serves; exits 0 on SIGTERM', async () => {
    const token = `root@pam!cli=${randomUUID()}`;
    const modulePath = join(__dirname, '..', '..', 'cli', 'emulator-command.js');
    const script = `require(${JSON.stringify(modulePath)}).runEmulatorCommand(process.argv.slice(1)).catch((e) => { console.error(e.message); process.exitCode = 1; });`;
    const child = spawn(process.execPath, ['-e', script, '--', '--port', '0', '--http-port', '0', '--nodes', '2', '--token', token], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      let out = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no banner; stdout so far: ${out}`)), 15000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('Press Ctrl-C')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.on('exit', () => reject(new Error(`exited early: ${out}`)));
      });
      expect(out).toMatch(/fingerprint: ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
      expect(out).toContain(`token:       ${token}`);
      expect(out).toMatch(/nodes: pve1, pve2/);
      const exp = /export PROXMOX_VE_ENDPOINT=(https:\/\/127\.0\.0\.1:\d+)\/ PROXMOX_VE_API_TOKEN='([^']+)'/.exec(out);
      expect(exp?.[2]).toBe(token);
      const httpUrl = /HTTP URL:\s+(\S+)/.exec(out)![1]!;
      const res = await fetch(`${httpUrl}/nodes`, { headers: { Authorization: `PVEAPIToken=${token}` } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { data: unknown[] }).data).toHaveLength(2);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
