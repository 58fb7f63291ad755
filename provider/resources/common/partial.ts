// A create that fails after the resource exists must not lose it. The dynamic-provider host turns an error that
// carries `id` and `properties` into ErrorResourceInitFailed: Pulumi records the resource and the next `up` updates
// it instead of creating (and leaking) another.
import { ProxmoxPodsError } from '../../errors';

export class PartialCreateError extends ProxmoxPodsError {
  readonly reasons: string[];
  constructor(cause: unknown, readonly id: string, readonly properties: object) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`${reason} (the resource exists as ${id}; the next \`pulumi up\` continues from there)`, 'E_PARTIAL_CREATE', { cause });
    this.reasons = [reason];
  }
}
