// An Executor for fault injection: every command runs for real on this machine (LocalExecutor) unless `inject`
// returns a stderr text for it, which then comes back as a failure (exit 1) as the real command's would.
import { HostCommandError, LocalExecutor, type Executor, type RunOptions, type RunResult } from '../../../provider/host/executor';

export type Inject = (args: readonly string[], cmd: string) => string | undefined;

export class ScriptedExecutor implements Executor {
  readonly node = 'pve';
  /** Every command asked for, `[cmd, ...args]`, in order (injected failures included). */
  readonly calls: string[][] = [];
  private readonly real = new LocalExecutor('pve');

  constructor(public inject: Inject = () => undefined) {}

  async run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    this.calls.push([cmd, ...args]);
    const stderr = this.inject(args, cmd);
    if (stderr === undefined) return this.real.run(cmd, args, opts);
    const result: RunResult = { stdout: '', stderr: `${stderr}\n`, exitCode: 1 };
    if (!opts.allowFailure) throw new HostCommandError(this.node, cmd, args, result);
    return result;
  }
}
