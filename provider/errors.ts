// Typed errors shared by every layer. Each carries a message a user can act on; `field` names the
// input at fault where there is one, so `check` and the CLI can point at it.

export class ProxmoxPodsError extends Error {
  constructor(message: string, readonly code: string = 'E_PROXMOX_PODS', options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad user input. `field` is the dotted input path, `fix` says what to do instead. */
export class InputError extends ProxmoxPodsError {
  constructor(readonly field: string, reason: string, readonly fix?: string) {
    super(`${field}: ${reason}${fix ? ` (${fix})` : ''}`, 'E_INPUT');
  }
}

/** An operation did not finish within the deadline the resource was given. */
export class DeadlineError extends ProxmoxPodsError {
  constructor(what: string, readonly ms: number) {
    super(`${what} did not finish within ${Math.round(ms / 1000)}s; raise the resource's timeouts or check the node`, 'E_DEADLINE');
  }
}

/** Something we need on a host (a tool, a kernel feature) is missing. */
export class CapabilityError extends ProxmoxPodsError {
  constructor(readonly node: string, readonly missing: string, fix: string) {
    super(`node ${node}: ${missing} is not available; ${fix}`, 'E_CAPABILITY');
  }
}
