// The warning channel: warnings raised at any depth are collected by the operation that runs them, and delivered to
// the Pulumi engine over its real `Log` RPC (a gRPC Engine server here stands for the CLI's; the end-to-end run through
// the CLI is in test/e2e/warnings.e2e.test.ts). PVE retries reach it too, through the real client and the emulator's fault injection.
import { createRequire } from 'node:module';
import { addWarningSink, warn, withOperation, type Warning } from '../../provider/diagnostics';
import { engineAddressOf, engineLogSink } from '../../provider/engine-log';
import { startEmulator } from '../../emulator';
import { PveClient } from '../../provider/proxmox/client';
import { parseConnectionConfig } from '../../provider/proxmox/config';

const fromPulumi = createRequire(require.resolve('@pulumi/pulumi/package.json'));
const grpc = fromPulumi('@grpc/grpc-js');
const engineRpc = fromPulumi('./proto/engine_grpc_pb');
const engineProto = fromPulumi('./proto/engine_pb');
const emptyProto = fromPulumi('google-protobuf/google/protobuf/empty_pb');

async function nested(): Promise<void> {
  await new Promise((r) => setTimeout(r, 5));
  warn('deep inside');
}

test('warnings are collected per operation, however deep, and parallel operations keep their own', async () => {
  const seen: Warning[] = [];
  const remove = addWarningSink((w) => { seen.push(w); });
  try {
    const [a, b] = await Promise.all([
      withOperation('Pod a', async () => { await nested(); warn('first'); return 1; }),
      withOperation('Pod b', async () => { warn('second'); await nested(); return 2; }),
    ]);
    expect(a).toEqual({ result: 1, warnings: ['deep inside', 'first'] });
    expect(b).toEqual({ result: 2, warnings: ['second', 'deep inside'] });
    expect(seen.filter((w) => w.resource === 'Pod a').map((w) => w.message)).toEqual(['deep inside', 'first']);
    warn('outside');
    expect(seen.at(-1)).toEqual({ message: 'outside' });
  } finally {
    remove();
  }
});

test('a sink that fails does not fail the operation; the warning goes to stderr instead', async () => {
  const remove = addWarningSink(() => Promise.reject(new Error('engine gone')));
  const written: string[] = [];
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => { written.push(String(chunk)); return true; });
  try {
    await expect(withOperation('OciImage app', async () => { warn('template kept'); return 'ok'; })).resolves.toMatchObject({ result: 'ok' });
    expect(written.join('')).toMatch(/warning: proxmox-pods: OciImage app: template kept \(not delivered as a warning: engine gone\)/);
  } finally {
    spy.mockRestore();
    remove();
  }
});

test('the engine address is taken only in the dynamic-provider host', () => {
  expect(engineAddressOf(['node', '/p/node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js', '127.0.0.1:40123'])).toBe('127.0.0.1:40123');
  expect(engineAddressOf(['node', '/p/node_modules/@pulumi/pulumi/cmd/dynamic-provider', '127.0.0.1:40123'])).toBe('127.0.0.1:40123');
  expect(engineAddressOf(['node', '/usr/bin/jest', '127.0.0.1:40123'])).toBeUndefined();
  expect(engineAddressOf(['node', '/p/cmd/dynamic-provider/index.js', '--inspect'])).toBeUndefined();
});

describe('delivery to the engine', () => {
  let server: { tryShutdown(cb: () => void): void; forceShutdown(): void };
  let address: string;
  const received: { severity: number; message: string; urn: string }[] = [];

  beforeAll(async () => {
    server = new grpc.Server();
    (server as unknown as { addService: (s: unknown, impl: unknown) => void }).addService(engineRpc.EngineService, {
      log: (call: { request: { getSeverity(): number; getMessage(): string; getUrn(): string } }, cb: (err: null, v: unknown) => void) => {
        received.push({ severity: call.request.getSeverity(), message: call.request.getMessage(), urn: call.request.getUrn() });
        cb(null, new emptyProto.Empty());
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      (server as unknown as { bindAsync: (a: string, c: unknown, cb: (e: Error | null, p: number) => void) => void }).bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    address = `127.0.0.1:${port}`;
  });
  afterAll(() => server?.forceShutdown());

  test('warnings arrive as WARNING log requests before the operation answers', async () => {
    const remove = addWarningSink(engineLogSink(address));
    try {
      await withOperation('OciImage app', async () => {
        warn('layer chain rpool/images/abc is kept: pods were cloned from it');
      });
      // withOperation waited for the delivery: it is there already.
      expect(received).toEqual([{ severity: engineProto.LogSeverity.WARNING, message: 'OciImage app: layer chain rpool/images/abc is kept: pods were cloned from it', urn: '' }]);
    } finally {
      remove();
    }
  });

  test('PVE retries are warnings of the operation that retried (real client against the emulator)', async () => {
    received.length = 0;
    const emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 10 });
    const pve = PveClient.create(parseConnectionConfig({ endpoint: emu.url, apiToken: emu.token, caCert: emu.caCertPem }), { retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20 } });
    const remove = addWarningSink(engineLogSink(address));
    try {
      emu.faults.add({ method: 'GET', path: '/nodes', times: 1, status: 500, message: 'got timeout' });
      const { result, warnings } = await withOperation('Pod web', () => pve.nodes());
      expect(result.map((n) => n.node)).toEqual(['pve']);
      expect(warnings).toEqual([expect.stringMatching(/^retrying GET \/nodes \(attempt 2\) in \d+ ms: .*got timeout/)]);
      expect(received.map((r) => r.message)).toEqual([`Pod web: ${warnings[0]}`]);
      expect(received[0]!.message).not.toContain(emu.token.split('=')[1]!);
    } finally {
      remove();
      await pve.close();
      await emu.close();
    }
  });
});
