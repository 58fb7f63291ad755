// An executor wrapper that records every command, to assert what ran (idempotence, caching).
import type { Executor, RunOptions, RunResult } from '../../../provider/host/executor';

export class RecordingExecutor implements Executor {
  readonly calls: Array<{ cmd: string; args: readonly string[] }> = [];
  constructor(private readonly inner: Executor) {}
  get node(): string {
    return this.inner.node;
  }
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    this.calls.push({ cmd, args: [...args] });
    return this.inner.run(cmd, args, opts);
  }
  count(pred: (c: { cmd: string; args: readonly string[] }) => boolean): number {
    return this.calls.filter(pred).length;
  }
}
