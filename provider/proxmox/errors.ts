// Errors raised by the PVE client. Each message carries PVE's own text and what the user can do about
// it; none of them ever include credentials (the transport scrubs known secrets as a second line of
// defence, see redact()).
import { InputError, ProxmoxPodsError } from '../errors';

/** A connection setting is missing or malformed. `field` is the stack config key or env var at fault. */
export class PveConfigError extends InputError {}

/** The peer's TLS certificate did not match the configured SHA-256 pin. */
export class TlsFingerprintError extends ProxmoxPodsError {
  constructor(readonly expected: string, readonly actual: string | undefined, host: string) {
    super(
      `TLS fingerprint mismatch for ${host}: expected ${expected}, server presented ${actual ?? 'no certificate'}; ` +
        'check proxmox-pods:tlsFingerprint (PVE shows it under Node → System → Certificates, or run ' +
        "`openssl x509 -noout -fingerprint -sha256 -in /etc/pve/local/pve-ssl.pem` on the node)",
      'E_TLS_FINGERPRINT',
    );
  }
}

/** The request never got an HTTP answer (DNS, refused, reset, TLS, timeout). */
export class PveConnectionError extends ProxmoxPodsError {
  /** The server's certificate was not accepted; repeating will not help. */
  readonly certificate: boolean;
  constructor(readonly method: string, readonly path: string, detail: string, options?: { cause?: unknown; code?: string; endpoint?: string }) {
    const certificate = isCertificateCode(options?.code);
    super(
      `PVE ${method} ${path}${options?.endpoint ? ` at ${options.endpoint}` : ''}: cannot reach the API (${detail}); ` +
        (certificate
          ? 'the server certificate is not trusted: set proxmox-pods:tlsFingerprint (PVE nodes use self-signed certs) or proxmox-pods:caCert, or insecure=true for testing'
          : 'check proxmox-pods:endpoint and that pveproxy runs on the node'),
      'E_PVE_CONNECTION',
      options,
    );
    this.certificate = certificate;
  }
}

/**
 * The endpoint took the request (or the connection) and gave no answer within proxmox-pods:requestTimeout. Not
 * repeated: a server that stays silent that long is hung, and repeating would multiply the wait.
 */
export class PveRequestTimeoutError extends ProxmoxPodsError {
  constructor(readonly method: string, readonly path: string, readonly endpoint: string, readonly timeoutMs: number, options?: { cause?: unknown }) {
    super(
      `PVE ${method} ${path} at ${endpoint}: no answer within ${formatMs(timeoutMs)}; check that pveproxy on that node answers ` +
        '(`systemctl status pveproxy`), or raise proxmox-pods:requestTimeout (PROXMOX_PODS_REQUEST_TIMEOUT) for a slow link',
      'E_PVE_TIMEOUT',
      options,
    );
  }
}

const formatMs = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);

function isCertificateCode(code: string | undefined): boolean {
  return !!code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT_ALTNAME_INVALID/.test(code);
}

export interface PveApiErrorInit {
  status: number;
  method: string;
  path: string;
  /** PVE's message: the JSON `message`, else the HTTP reason phrase (servers before pve-http-server 5.2). */
  pveMessage: string;
  /** Per-parameter errors from a 400 `Parameter verification failed.` */
  errors?: Record<string, string>;
  /** How the client authenticates, to word the 401 advice. */
  auth?: 'token' | 'ticket';
}

/** PVE answered with an error status. */
export class PveApiError extends ProxmoxPodsError {
  readonly status: number;
  readonly method: string;
  readonly path: string;
  readonly pveMessage: string;
  readonly errors: Record<string, string>;

  constructor(init: PveApiErrorInit) {
    const errors = init.errors ?? {};
    const perParam = Object.entries(errors).map(([k, v]) => `${k}: ${v.trim()}`).join('; ');
    const text = init.pveMessage.trim() || `HTTP ${init.status}`;
    super(
      `PVE ${init.method} ${init.path} failed (${init.status}): ${text}${perParam ? ` [${perParam}]` : ''} — ${adviceFor(init)}`,
      codeFor(init.status),
    );
    this.status = init.status;
    this.method = init.method;
    this.path = init.path;
    this.pveMessage = text;
    this.errors = errors;
  }

  /** A per-CT flock timeout or a persistent config lock: another task holds the CT. */
  get isLockError(): boolean {
    return isLockMessage(this.pveMessage);
  }

  /** `Configuration file 'nodes/pve/lxc/100.conf' does not exist` — the CT is gone (or on another node). */
  get isMissingConfig(): boolean {
    return /Configuration file '[^']*' does not exist/.test(this.pveMessage);
  }
}

/**
 * A create POST got no definite answer (gateway timeout, lost connection): the CT may or may not
 * exist now. The create is not repeated blindly; the caller can look for `vmid` and adopt or remove it.
 */
export class CreateOutcomeUnknownError extends ProxmoxPodsError {
  constructor(readonly node: string, readonly vmid: number, readonly last: Error) {
    super(
      `creating CT ${vmid} on ${node} may or may not have started (${last.message}); ` +
        `check it with \`pct status ${vmid}\` on the node or run \`pulumi refresh\`, then retry`,
      'E_PVE_CREATE_UNKNOWN',
      { cause: last },
    );
  }
}

/**
 * A create POST was accepted (the CT config exists, locked `create`) but waiting for its task failed: the task
 * failed (`cause` is a TaskFailedError: PVE removed the config), or its end could not be seen in time.
 */
export class CreateTaskError extends ProxmoxPodsError {
  constructor(readonly node: string, readonly vmid: number, override readonly cause: Error) {
    super(cause.message, cause instanceof ProxmoxPodsError ? cause.code : 'E_PVE_TASK', { cause });
  }
}

/** Whether a failed request may still have been carried out by PVE. */
export function isAmbiguousFailure(err: unknown): err is Error {
  if (err instanceof PveConnectionError) return !err.certificate;
  // The request was sent and the answer never came: PVE may have acted on it.
  if (err instanceof PveRequestTimeoutError) return true;
  return err instanceof PveApiError && [502, 503, 504, 595, 596, 599].includes(err.status);
}

/** A task (UPID) ended with an error exit status. */
export class TaskFailedError extends ProxmoxPodsError {
  constructor(readonly upid: string, readonly exitstatus: string, readonly logTail: string[]) {
    super(
      `PVE task ${upid} failed: ${exitstatus}` +
        (logTail.length ? `\n  last log lines:\n    ${logTail.join('\n    ')}` : '') +
        `\n  ${taskAdvice(exitstatus)}`,
      'E_PVE_TASK',
    );
  }
}

/** Retries ran out while PVE kept reporting a retryable condition (lock, 5xx). */
export class RetriesExhaustedError extends ProxmoxPodsError {
  constructor(what: string, attempts: number, readonly last: unknown) {
    super(`${what}: gave up after ${attempts} attempts; last error: ${last instanceof Error ? last.message : String(last)}`, 'E_PVE_RETRIES', { cause: last });
  }
}

/** The flock on a guest's config timed out: another task holds it now (pve-guest-common AbstractConfig.pm lock_config). */
export function isFlockTimeout(message: string): boolean {
  return /can't lock file '[^']*' - got timeout/.test(message);
}

/**
 * The `lock` key a guest's config carries, named by PVE's refusal (`CT is locked (backup)`: pve-guest-common
 * AbstractConfig.pm check_lock); undefined for any other message.
 */
export function configLockIn(message: string): string | undefined {
  return /(?:CT|VM) is locked \(([^)]*)\)/.exec(message)?.[1];
}

export function isLockMessage(message: string): boolean {
  return isFlockTimeout(message) || configLockIn(message) !== undefined;
}

/** What PVE said in a refusal or a failed task, also behind exhausted retries; undefined for any other failure. */
export function pveMessageOf(err: unknown): string | undefined {
  if (err instanceof RetriesExhaustedError) return pveMessageOf(err.last);
  if (err instanceof PveApiError) return err.pveMessage;
  if (err instanceof TaskFailedError) return err.exitstatus;
  return undefined;
}

function codeFor(status: number): string {
  if (status === 401) return 'E_PVE_AUTH';
  if (status === 403) return 'E_PVE_PERMISSION';
  if (status === 400) return 'E_PVE_PARAMS';
  return 'E_PVE_API';
}

function adviceFor(init: PveApiErrorInit): string {
  const msg = init.pveMessage;
  if (init.status === 401) {
    if (/invalid csrf token/i.test(msg)) return 'the CSRF token was rejected; the client logs in again, so report this if it persists';
    return init.auth === 'ticket'
      ? 'check proxmox-pods:username/password (PROXMOX_VE_USERNAME/PROXMOX_VE_PASSWORD), including the realm, e.g. root@pam'
      : 'check proxmox-pods:apiToken (PROXMOX_VE_API_TOKEN, format USER@REALM!TOKENID=SECRET): the token must exist, be unexpired and its user enabled';
  }
  if (init.status === 403) {
    const priv = /Permission check failed \(([^)]*)\)/.exec(msg);
    return priv
      ? `grant the privilege on that path (${priv[1]}) to the user, and to the token itself if it has privilege separation; some options (non-nesting features, bind mounts, devices) are root@pam only and never work with a token`
      : 'the user or token lacks a privilege for this call; grant it (Datacenter → Permissions)';
  }
  if (init.status === 400) return 'fix the parameters named above';
  if (init.status === 501) return 'this PVE version does not offer the call; check the PVE version (9.1+ for OCI features) and the endpoint';
  if (isFlockTimeout(msg)) return 'another task holds the CT lock; retry later or check the running tasks on the node';
  const locked = configLockIn(msg);
  if (locked !== undefined) return `the CT carries the lock '${locked}' from an unfinished operation; wait for it, or run \`pct unlock <vmid>\` on the node if it is stale`;
  if (/detected modified configuration/.test(msg)) return 'the CT config changed since it was read; refresh and retry';
  // Names the user gave (a storage, a template volume) that PVE does not know are input errors, not vanished objects.
  const storage = /storage '([^']*)' does not exist/.exec(msg);
  if (storage) return `no storage "${storage[1]}" is configured for this node; check the storage id (Datacenter → Storage) and that it is enabled on the node`;
  const volume = /volume '([^']*)' does not exist/.exec(msg);
  if (volume) return `the volume ${volume[1]} is not on its storage; check the name (a template must be downloaded or uploaded first)`;
  if (/does not exist/.test(msg)) return 'the object is gone or lives on another node; run `pulumi refresh`';
  if (/already exists/.test(msg)) return 'pick another id/name, or import the existing object';
  if (init.status === 595 || init.status === 596 || init.status === 599 || init.status >= 502) {
    return 'the node did not answer in time (pveproxy → pvedaemon or cluster); check the node\'s load and retry';
  }
  return 'see the PVE task log / journal on the node for details';
}

function taskAdvice(exitstatus: string): string {
  if (isLockMessage(exitstatus)) return 'another task held the CT lock; retry later';
  if (/does not support container directories/.test(exitstatus)) return 'choose a storage with "rootdir" content (e.g. local-zfs or local-lvm)';
  if (/checksum mismatch/.test(exitstatus)) return 'the uploaded file is corrupt or the checksum is wrong; upload again';
  if (/container did not stop/.test(exitstatus)) return 'the container ignored the shutdown request; raise the timeout or use forceStop';
  return 'see the task log on the node (Datacenter → Tasks) for the full output';
}
