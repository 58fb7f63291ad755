// Errors the emulator raises while handling a request. The server turns each into PVE's wire format,
// so handlers only say *what* went wrong, the way the matching PVE code path would.
import { ProxmoxPodsError } from '../provider/errors';

/** A `die "msg\n"` or `raise(msg, code => N)` in a PVE handler: JSON error body, message in the reason phrase. */
export class ApiError extends ProxmoxPodsError {
  constructor(readonly status: number, message: string, readonly errors?: Record<string, string>) {
    super(message.replace(/\n+$/, ''), 'E_PVE_API');
  }
}

/** PVE's `raise_param_exc`: 400 `Parameter verification failed.` with a per-parameter map. */
export class ParamError extends ApiError {
  constructor(errors: Record<string, string>) {
    super(400, 'Parameter verification failed.', errors);
  }
}

/**
 * An error raised by the HTTP layer before any handler runs (auth, CSRF, body framing). PVE answers
 * these with the message in the status line only: no body and no Content-Type.
 */
export class BareHttpError extends ProxmoxPodsError {
  constructor(readonly status: number, message: string, readonly delayAuth = false) {
    super(message, 'E_PVE_HTTP');
  }
}

/** `die` with a 500, the default for handler errors. */
export function fail(message: string): never {
  throw new ApiError(500, message);
}

export function paramFail(errors: Record<string, string>): never {
  throw new ParamError(errors);
}
