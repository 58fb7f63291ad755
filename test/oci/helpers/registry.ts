// Starts Debian's docker-registry (distribution 2.8) on a random loopback port with a temporary config
// (never the packaged :5000 one), optionally with token auth from the in-test token server.
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { freePort } from './ports';
import { startTokenServer, type TokenServer, type TokenServerOptions } from './token-server';

export interface StartRegistryOptions {
  /** Token auth; `true` for defaults (anonymous pull, users may push). */
  auth?: boolean | Omit<TokenServerOptions, 'dir'>;
}

export interface RunningRegistry {
  /** http://127.0.0.1:<port> */
  url: string;
  /** 127.0.0.1:<port>: use it in references and as the insecure-registry entry. */
  host: string;
  token?: TokenServer;
  dataDir: string;
  close(): Promise<void>;
}

export async function startRegistry(options: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'pp-registry-'));
  const port = await freePort();
  let token: TokenServer | undefined;
  if (options.auth) token = await startTokenServer({ ...(options.auth === true ? {} : options.auth), dir: join(dir, 'token') });
  const lines = [
    'version: 0.1',
    'log:', '  level: error', '  accesslog:', '    disabled: true',
    'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'data')}`, '  delete:', '    enabled: true',
    'http:', `  addr: 127.0.0.1:${port}`, `  secret: test-${process.pid}`,
  ];
  if (token) {
    lines.push('auth:', '  token:', `    realm: ${token.realm}`, `    service: ${token.service}`, `    issuer: ${token.issuer}`, `    rootcertbundle: ${token.certPath}`);
  }
  const config = join(dir, 'config.yml');
  await fs.writeFile(config, `${lines.join('\n')}\n`);
  const child: ResultPromise = execa('docker-registry', ['serve', config], { reject: false, stdin: 'ignore', all: true, buffer: { all: true } });
  let exited = false;
  void child.finally(() => { exited = true; });
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    child.kill('SIGTERM');
    await child;
    await token?.close();
    await fs.rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 200; i++) {
    if (exited) break;
    try {
      const res = await fetch(`${url}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) return { url, host: `127.0.0.1:${port}`, ...(token ? { token } : {}), dataDir: join(dir, 'data'), close };
    } catch { /* not up yet */ }
    await sleep(50);
  }
  const out = await close().then(() => child).catch(() => undefined);
  throw new Error(`docker-registry did not start on ${url}: ${String((out as { all?: string } | undefined)?.all ?? '').slice(0, 2000)}`);
}
