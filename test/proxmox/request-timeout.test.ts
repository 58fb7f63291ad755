// An endpoint that accepts connections and never answers: the client must fail within proxmox-pods:requestTimeout,
// naming the endpoint, and must not repeat the request (which would multiply the wait). A real TCP listener on
// loopback that accepts and stays silent, for plain http and for https (the TLS handshake never completes).
import { createServer, type Server, type Socket } from 'node:net';
import { PveClient } from '../../provider/proxmox/client';
import { parseRequestTimeout, resolveConnectionConfig } from '../../provider/proxmox/config';
import { PveConfigError, PveRequestTimeoutError } from '../../provider/proxmox/errors';

const TOKEN = 'root@pam!ci=0d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5';
const FP = 'AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89';

let server: Server;
let port = 0;
/** HTTP request lines received (https requests never get past the handshake, so they count connections). */
let requests = 0;
let accepted = 0;
const sockets: Socket[] = [];

beforeAll(async () => {
  server = createServer((s) => {
    accepted++;
    sockets.push(s);
    s.on('error', () => undefined); // the client aborting resets the socket; nothing to report
    // Reads what the client sends, answers nothing.
    s.on('data', (d: Buffer) => { requests += (d.toString('latin1').match(/^[A-Z]+ \/api2\/json\//gm) ?? []).length; });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

async function timeToFail(scheme: 'http' | 'https', requestTimeout: string): Promise<{ ms: number; err: unknown }> {
  const cfg = resolveConnectionConfig(
    { 'proxmox-pods:endpoint': `${scheme}://127.0.0.1:${port}`, 'proxmox-pods:apiToken': TOKEN, 'proxmox-pods:requestTimeout': requestTimeout, ...(scheme === 'https' ? { 'proxmox-pods:tlsFingerprint': FP } : {}) },
    {},
  );
  const client = PveClient.create(cfg);
  const started = Date.now();
  try {
    await client.nodes();
    return { ms: Date.now() - started, err: undefined };
  } catch (err) {
    return { ms: Date.now() - started, err };
  } finally {
    await client.close();
  }
}

describe('an endpoint that accepts and never answers', () => {
  it.each(['http', 'https'] as const)('%s: an idempotent GET fails once, within the configured 1500ms, naming the endpoint', async (scheme) => {
    const before = scheme === 'http' ? requests : accepted;
    const { ms, err } = await timeToFail(scheme, '1500ms');
    expect(err).toBeInstanceOf(PveRequestTimeoutError);
    const message = (err as Error).message;
    expect(message).toContain(`${scheme}://127.0.0.1:${port}`);
    expect(message).toContain('no answer within 1500 ms');
    expect(message).toContain('proxmox-pods:requestTimeout');
    expect(message).not.toContain('0d1e2f30'); // the token's secret
    expect(ms).toBeGreaterThanOrEqual(1400);
    expect(ms).toBeLessThan(3000);
    // Not repeated. (After the abort undici may open a fresh idle connection for its pool; it sends nothing.)
    if (scheme === 'http') expect(requests - before).toBe(1);
    else expect(accepted - before).toBeLessThanOrEqual(2);
  });

  it('takes the timeout from PROXMOX_PODS_REQUEST_TIMEOUT when the stack does not set it (bare number = seconds)', () => {
    const cfg = resolveConnectionConfig({ endpoint: `http://127.0.0.1:${port}`, apiToken: TOKEN }, { PROXMOX_PODS_REQUEST_TIMEOUT: '2' });
    expect(cfg.timeouts.requestMs).toBe(2000);
    const stackWins = resolveConnectionConfig({ endpoint: `http://127.0.0.1:${port}`, apiToken: TOKEN, requestTimeout: '5s' }, { PROXMOX_PODS_REQUEST_TIMEOUT: '2' });
    expect(stackWins.timeouts.requestMs).toBe(5000);
    expect(resolveConnectionConfig({ endpoint: `http://127.0.0.1:${port}`, apiToken: TOKEN }, {}).timeouts.requestMs).toBe(60_000);
  });

  it('refuses a timeout that is not a duration, naming the key it came from', () => {
    expect(parseRequestTimeout('1m')).toBe(60_000);
    expect(parseRequestTimeout('250ms')).toBe(250);
    expect(parseRequestTimeout('10ms')).toBeUndefined();
    expect(() => resolveConnectionConfig({ endpoint: 'http://127.0.0.1:1', apiToken: TOKEN }, { PROXMOX_PODS_REQUEST_TIMEOUT: 'soon' })).toThrow(PveConfigError);
    expect(() => resolveConnectionConfig({ endpoint: 'http://127.0.0.1:1', apiToken: TOKEN }, { PROXMOX_PODS_REQUEST_TIMEOUT: 'soon' })).toThrow(/PROXMOX_PODS_REQUEST_TIMEOUT.*not a duration/);
  });
});
