// Warnings as the Pulumi engine's own diagnostics, from inside the dynamic-provider process. That process is started
// by the engine with its address as the one argument (@pulumi/pulumi cmd/dynamic-provider/index.js `main(args)`:
// "the address of the RPC endpoint for the engine"), but never connects to it, so `pulumi.log.warn` there has no
// engine and only prints to stderr (pulumi/pulumi#6065; since #18253 the CLI passes that stderr through as plain
// text). This sink calls the engine's `Log` RPC with severity WARNING itself: the CLI then shows it as a warning
// in `pulumi up`/`preview` output and in the diagnostics summary. There is no URN to attach (the dynamic provider
// API does not pass it), so the message names the resource itself.
import { createRequire } from 'node:module';
import type { WarningSink } from './diagnostics';
import { format } from './diagnostics';

/** The engine address when this process is @pulumi/pulumi's dynamic-provider host; undefined anywhere else. */
export function engineAddressOf(argv: readonly string[]): string | undefined {
  const script = argv[1] ?? '';
  if (!/[\\/]cmd[\\/]dynamic-provider([\\/]index(\.js)?)?$/.test(script)) return undefined;
  const address = argv[2];
  return address && /^[A-Za-z0-9.[\]:-]+:\d+$/.test(address) ? address : undefined;
}

interface EngineModules {
  grpc: { credentials: { createInsecure(): unknown } };
  rpc: { EngineClient: new (address: string, credentials: unknown) => { log(req: unknown, cb: (err: Error | null) => void): void } };
  proto: { LogRequest: new () => { setSeverity(s: number): void; setMessage(m: string): void; setUrn(u: string): void; setEphemeral(e: boolean): void }; LogSeverity: { WARNING: number } };
}

/** The engine protocol as the installed @pulumi/pulumi ships it (and the gRPC library it resolves). */
function engineModules(): EngineModules {
  const fromPulumi = createRequire(require.resolve('@pulumi/pulumi/package.json'));
  return { grpc: fromPulumi('@grpc/grpc-js'), rpc: fromPulumi('./proto/engine_grpc_pb'), proto: fromPulumi('./proto/engine_pb') };
}

export function engineLogSink(address: string): WarningSink {
  const m = engineModules();
  const client = new m.rpc.EngineClient(address, m.grpc.credentials.createInsecure());
  return (warning) =>
    new Promise<void>((resolve, reject) => {
      const req = new m.proto.LogRequest();
      req.setSeverity(m.proto.LogSeverity.WARNING);
      req.setMessage(format(warning));
      req.setUrn('');
      req.setEphemeral(false);
      client.log(req, (err) => (err ? reject(err) : resolve()));
    });
}
