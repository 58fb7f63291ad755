// TLS for PVE connections, scoped to one undici Agent. Nothing here touches process-wide settings
// (NODE_TLS_REJECT_UNAUTHORIZED, global dispatcher): other connections in the process keep full
// verification whatever this client is configured to accept.
import type { TLSSocket } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import type { ConnectionConfig } from './config';
import { TlsFingerprintError } from './errors';

export interface TlsPolicy {
  /** Colon-separated uppercase SHA-256 of the leaf certificate to accept. */
  fingerprint?: string;
  /** PEM CA bundle to verify the chain against (instead of the system roots). */
  ca?: string;
  /** Accept any certificate (logged as a warning). */
  insecure?: boolean;
}

export interface DispatcherOptions {
  /** Where to report that verification is off; defaults to console.warn. */
  warn?: (message: string) => void;
  connectTimeoutMs?: number;
}

export function tlsPolicyFrom(cfg: Pick<ConnectionConfig, 'tlsFingerprint' | 'caCert' | 'insecure'>): TlsPolicy {
  return { fingerprint: cfg.tlsFingerprint, ca: cfg.caCert, insecure: cfg.insecure };
}

/** Format Node's `fingerprint256` the way PVE and our config do (it already is, but be strict). */
function formatFingerprint(fp: string | undefined): string | undefined {
  return fp ? fp.toUpperCase() : undefined;
}

/**
 * An Agent that verifies the server per the policy:
 *  - fingerprint: chain verification is relaxed for this agent only (self-signed PVE certs), and the
 *    connection is accepted only if the leaf's SHA-256 matches; with `ca` as well, the chain must verify too.
 *  - ca: normal verification against that CA.
 *  - insecure: no verification, for this agent only, with a warning.
 *  - none: the system's default roots.
 */
export function createDispatcher(policy: TlsPolicy, opts: DispatcherOptions = {}): Agent {
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  const timeout = opts.connectTimeoutMs ?? 10_000;
  if (policy.insecure) {
    warn('proxmox-pods: TLS verification is disabled for the PVE connection (insecure=true); anyone on the path can read the credentials');
    return new Agent({ connect: { rejectUnauthorized: false, timeout } });
  }
  if (policy.fingerprint) {
    const expected = policy.fingerprint.toUpperCase();
    const base = buildConnector({
      rejectUnauthorized: false,
      ca: policy.ca,
      timeout,
      // A resumed session would skip the handshake we inspect below; never resume.
      maxCachedSessions: 0,
    });
    const connector: buildConnector.connector = (options, callback) => {
      base(options, (err, socket) => {
        if (err || !socket) {
          callback(err ?? new Error('TLS connect failed'), null);
          return;
        }
        const tls = socket as TLSSocket;
        if (typeof tls.getPeerCertificate !== 'function') {
          callback(null, socket); // plain http: nothing to pin (config only allows this for loopback/insecure)
          return;
        }
        const actual = formatFingerprint(tls.getPeerCertificate()?.fingerprint256);
        if (policy.ca && !tls.authorized) {
          socket.destroy();
          callback(new Error(`TLS certificate of ${options.hostname} does not chain to the configured caCert: ${String(tls.authorizationError)}`), null);
          return;
        }
        if (actual !== expected) {
          socket.destroy();
          callback(new TlsFingerprintError(expected, actual, `${options.hostname}:${options.port}`), null);
          return;
        }
        callback(null, socket);
      });
    };
    return new Agent({ connect: connector });
  }
  if (policy.ca) return new Agent({ connect: { ca: policy.ca, timeout } });
  return new Agent({ connect: { timeout } });
}
