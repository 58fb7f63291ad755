// The `emulator` CLI command: argument parsing, and a real child process that serves, prints the
// connection details, and exits cleanly on SIGTERM.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { environmentBlock, parseEmulatorArgs } from '../../cli/emulator-command';
import { InputError } from '../../provider/errors';
import { PveClient } from '../../provider/proxmox/client';
import { CONFIG_KEYS, resolveConnectionConfig } from '../../provider/proxmox/config';

/** What `bash` exports after running `line` (only the PROXMOX_VE_* names). */
function pastedEnvironment(line: string): Record<string, string> {
  const r = spawnSync('bash', ['-c', `${line}\nenv -0`], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, encoding: 'utf8' });
  expect(r.status).toBe(0);
  const vars = r.stdout.split('\0').filter((kv) => kv.startsWith('PROXMOX_VE_')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]);
  return Object.fromEntries(vars) as Record<string, string>;
}

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
    // PVE's token id rule (pve_verify_tokenid): a letter, then at least one more character.
    expect(() => parseEmulatorArgs(['--token', 'root@pam!a=abc'])).toThrow(/the token id 'a' is not valid: a token id starts with a letter followed by at least one/);
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
      const exp = /export PROXMOX_VE_ENDPOINT='(https:\/\/127\.0\.0\.1:\d+)\/' PROXMOX_VE_API_TOKEN='([^']+)'/.exec(out);
      expect(exp?.[2]).toBe(token);
      // The export line, pasted into a shell as printed, is all the provider needs to connect: the self-signed
      // certificate is pinned by the fingerprint in it, and the second node makes it name a default node.
      const line = out.split('\n').find((l) => l.startsWith('export '))!;
      const env = pastedEnvironment(line);
      expect(Object.keys(env).sort()).toEqual(['PROXMOX_VE_API_TOKEN', 'PROXMOX_VE_ENDPOINT', 'PROXMOX_VE_NODE', 'PROXMOX_VE_TLS_FINGERPRINT']);
      const client = PveClient.create(resolveConnectionConfig({}, env));
      try {
        expect((await client.nodes()).map((n) => n.node).sort()).toEqual(['pve1', 'pve2']);
      } finally {
        await client.close();
      }
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

describe('environmentBlock', () => {
  test('one export line with exactly the names the provider reads, quoted for a shell', () => {
    const emu = { url: 'https://127.0.0.1:8006', token: "root@pam!ci=it's", fingerprint: 'AB:CD', nodes: ['pve1'] };
    expect(environmentBlock(emu)).toBe(
      `export PROXMOX_VE_ENDPOINT='https://127.0.0.1:8006/' PROXMOX_VE_API_TOKEN='root@pam!ci=it'\\''s' PROXMOX_VE_TLS_FINGERPRINT='AB:CD'`,
    );
    expect(pastedEnvironment(environmentBlock(emu)).PROXMOX_VE_API_TOKEN).toBe("root@pam!ci=it's");
    for (const name of Object.keys(pastedEnvironment(environmentBlock({ ...emu, nodes: ['pve1', 'pve2'] })))) {
      expect(Object.values(CONFIG_KEYS)).toContain(name);
    }
  });
});
