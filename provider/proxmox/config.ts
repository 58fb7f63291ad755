// Connection settings for one PVE cluster: from Pulumi stack config (`proxmox-pods:*`) with the bpg
// provider's PROXMOX_VE_* environment variables as fallback. Stack config wins over env.
//
// Transport policy:
//  - https is the norm. Verification is on unless `insecure` is set.
//  - http is accepted for loopback hosts (the embedded emulator, SSH tunnels), and for other hosts only
//    with insecure=true, because the token/password would cross the network in clear text.
//  - tlsFingerprint pins the leaf certificate (PVE nodes ship self-signed certs); caCert verifies the
//    chain against that CA. Both may be given (then both must pass). insecure conflicts with either.
import { isIP } from 'node:net';
import { z } from 'zod';
import { PveConfigError } from './errors';
import { NODE_RE } from './ids';
import { Secret } from './secret';
import { parseApiToken } from './token-id';

const PREFIX = 'proxmox-pods:';

/** Stack config key → env fallback. */
export const CONFIG_KEYS = {
  endpoint: 'PROXMOX_VE_ENDPOINT',
  apiToken: 'PROXMOX_VE_API_TOKEN',
  username: 'PROXMOX_VE_USERNAME',
  password: 'PROXMOX_VE_PASSWORD',
  insecure: 'PROXMOX_VE_INSECURE',
  tlsFingerprint: 'PROXMOX_VE_TLS_FINGERPRINT',
  caCert: 'PROXMOX_VE_CA_CERT',
  node: 'PROXMOX_VE_NODE',
  // Ours, not bpg's: how long one HTTP request may go unanswered before it fails naming the endpoint.
  requestTimeout: 'PROXMOX_PODS_REQUEST_TIMEOUT',
} as const;
export type ConfigKey = keyof typeof CONFIG_KEYS;

/** One HTTP request; PVE cuts synchronous calls at 30 s, so 60 s leaves room for queueing. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** Below this a request timeout would cut ordinary answers of a loaded node; above an hour it bounds nothing useful. */
const REQUEST_TIMEOUT_RANGE_MS = [100, 3_600_000] as const;

/**
 * `proxmox-pods:requestTimeout`: a duration (`"30s"`, `"1500ms"`, `"2m"`) or a bare number of seconds. The same
 * spellings as the resources' `timeouts` (provider/resources/common/duration.ts), parsed here because the PVE client
 * does not depend on the resource layer.
 */
export function parseRequestTimeout(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm']);
  return ms >= REQUEST_TIMEOUT_RANGE_MS[0] && ms <= REQUEST_TIMEOUT_RANGE_MS[1] ? ms : undefined;
}

export const timeoutsSchema = z.object({
  /** One HTTP request (connect included): a request unanswered this long fails, naming the endpoint, and is not repeated. */
  requestMs: z.number().int().positive().default(DEFAULT_REQUEST_TIMEOUT_MS),
  /** Default budget for a whole operation (create + wait, destroy + wait...) when the caller gives none. */
  operationMs: z.number().int().positive().default(20 * 60_000),
});

export const connectionConfigSchema = z
  .object({
    endpoint: z.string().transform((v, ctx) => {
      const r = normalizeEndpoint(v);
      if (typeof r !== 'string') ctx.addIssue({ code: 'custom', message: r.error });
      return typeof r === 'string' ? r : '';
    }),
    apiToken: z
      .string()
      .transform((v, ctx) => {
        // PVE's token id rules (provider/proxmox/token-id.ts); the message says which part breaks which rule.
        const t = parseApiToken(v);
        if ('problem' in t) {
          ctx.addIssue({ code: 'custom', message: t.problem });
          return z.NEVER;
        }
        return { tokenId: t.tokenId, secret: new Secret(t.secret) };
      })
      .optional(),
    username: z.string().regex(/^[^\s@]+@[^\s@]+$/, 'must include the realm, e.g. root@pam').optional(),
    password: z.string().min(1).transform((v) => new Secret(v)).optional(),
    insecure: z.boolean().default(false),
    tlsFingerprint: z
      .string()
      .transform((v, ctx) => {
        const r = normalizeFingerprint(v);
        if (!r) ctx.addIssue({ code: 'custom', message: 'must be a SHA-256 fingerprint: 32 hex bytes, colon-separated (AB:CD:...)' });
        return r ?? '';
      })
      .optional(),
    caCert: z.string().regex(/-----BEGIN CERTIFICATE-----/, 'must be PEM text (-----BEGIN CERTIFICATE-----...)').optional(),
    node: z.string().regex(NODE_RE, 'must be a PVE node name (letters, digits, -)').optional(),
    timeouts: timeoutsSchema.default({ requestMs: DEFAULT_REQUEST_TIMEOUT_MS, operationMs: 20 * 60_000 }),
  })
  .superRefine((c, ctx) => {
    if (!c.apiToken && !(c.username && c.password)) {
      ctx.addIssue({ code: 'custom', path: ['apiToken'], message: 'no credentials: set an API token, or username and password' });
    }
    if (!c.apiToken && (c.username === undefined) !== (c.password === undefined)) {
      ctx.addIssue({ code: 'custom', path: [c.username ? 'password' : 'username'], message: 'username and password go together' });
    }
    if (c.insecure && (c.tlsFingerprint || c.caCert)) {
      ctx.addIssue({ code: 'custom', path: ['insecure'], message: 'conflicts with tlsFingerprint/caCert, which verify the server; drop insecure' });
    }
    if (c.endpoint.startsWith('http:') && !c.insecure && !isLoopback(new URL(c.endpoint).hostname)) {
      ctx.addIssue({
        code: 'custom',
        path: ['endpoint'],
        message: 'plain http sends the credentials in clear text; use https (PVE listens on https://<node>:8006), or set insecure=true to accept the risk',
      });
    }
  });

export type ConnectionConfigInput = z.input<typeof connectionConfigSchema>;
export type ConnectionConfig = z.output<typeof connectionConfigSchema>;

/** `https://h:8006/`, `https://h:8006/api2/json/` … → `https://h:8006` (no trailing slash, no api path). */
export function normalizeEndpoint(value: string): string | { error: string } {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return { error: `'${value}' is not a URL; use e.g. https://pve.example.com:8006` };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { error: `scheme ${url.protocol} is not supported; use https://` };
  if (url.username || url.password) return { error: 'must not carry credentials; use apiToken or username/password' };
  if (url.search || url.hash) return { error: 'must not carry a query or fragment' };
  const path = url.pathname.replace(/\/+$/, '').replace(/\/api2\/json$/, '');
  if (path !== '') return { error: `unexpected path '${url.pathname}'; give the base URL, e.g. https://pve.example.com:8006` };
  return `${url.protocol}//${url.host}`;
}

/** Accepts `ab:cd:…`, `ABCD…`, or openssl's `SHA256 Fingerprint=AB:CD…`; returns colon-separated uppercase. */
export function normalizeFingerprint(value: string): string | undefined {
  const hex = value.trim().replace(/^sha256( fingerprint)?\s*[=:]\s*/i, '').replace(/:/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return undefined;
  return hex.match(/.{2}/g)!.join(':');
}

export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1';
  return false;
}

function parseBool(text: string): boolean | undefined {
  const v = text.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  return undefined;
}

/**
 * Merge stack config (keys with or without `proxmox-pods:`) and env into a validated config.
 * Errors name the key the bad value came from and how to fix it.
 */
export function resolveConnectionConfig(
  stackConfig: Record<string, string | undefined>,
  env: NodeJS.ProcessEnv,
  extra: { timeouts?: Partial<z.input<typeof timeoutsSchema>> } = {},
): ConnectionConfig {
  const source: Partial<Record<ConfigKey, string>> = {};
  const raw: Partial<Record<ConfigKey, string>> = {};
  for (const key of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
    const fromStack = stackConfig[`${PREFIX}${key}`] ?? stackConfig[key];
    const fromEnv = env[CONFIG_KEYS[key]];
    if (fromStack !== undefined && fromStack !== '') {
      raw[key] = fromStack;
      source[key] = `${PREFIX}${key}`;
    } else if (fromEnv !== undefined && fromEnv !== '') {
      raw[key] = fromEnv;
      source[key] = CONFIG_KEYS[key];
    }
  }
  const name = (key: string) => source[key as ConfigKey] ?? `${PREFIX}${key} (or ${CONFIG_KEYS[key as ConfigKey] ?? 'env'})`;

  if (raw.endpoint === undefined) {
    throw new PveConfigError(name('endpoint'), 'is not set', 'run `pulumi config set proxmox-pods:endpoint https://<node>:8006` or export PROXMOX_VE_ENDPOINT');
  }
  let insecure = false;
  if (raw.insecure !== undefined) {
    const b = parseBool(raw.insecure);
    if (b === undefined) throw new PveConfigError(name('insecure'), `'${raw.insecure}' is not a boolean`, 'use true or false');
    insecure = b;
  }
  let requestMs = DEFAULT_REQUEST_TIMEOUT_MS;
  if (raw.requestTimeout !== undefined) {
    const ms = parseRequestTimeout(raw.requestTimeout);
    if (ms === undefined) {
      throw new PveConfigError(name('requestTimeout'), `'${raw.requestTimeout}' is not a duration between 100ms and 1h`, 'use e.g. "30s", "1500ms" or 45 (seconds)');
    }
    requestMs = ms;
  }
  // With a token configured, a username/password pair elsewhere (e.g. in the shell's env) is ignored.
  const useToken = raw.apiToken !== undefined;
  const input: ConnectionConfigInput = {
    endpoint: raw.endpoint,
    insecure,
    ...(useToken ? { apiToken: raw.apiToken } : { username: raw.username, password: raw.password }),
    tlsFingerprint: raw.tlsFingerprint,
    caCert: raw.caCert?.replace(/\\n/g, '\n'),
    node: raw.node,
    timeouts: { requestMs, operationMs: 20 * 60_000, ...extra.timeouts },
  };
  return parseConnectionConfig(input, name);
}

/** Validate a config object given directly (tests, CLI); `name` maps a field to the user-facing key. */
export function parseConnectionConfig(input: ConnectionConfigInput, name: (key: string) => string = (k) => `${PREFIX}${k}`): ConnectionConfig {
  const parsed = connectionConfigSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const key = String(issue.path[0] ?? 'endpoint');
  // Never echo the offending value for credential fields.
  throw new PveConfigError(name(key), issue.message, fixFor(key));
}

function fixFor(key: string): string {
  switch (key) {
    case 'apiToken':
      return 'create one under Datacenter → Permissions → API Tokens and set proxmox-pods:apiToken (secret) or PROXMOX_VE_API_TOKEN';
    case 'username':
    case 'password':
      return 'set both proxmox-pods:username and proxmox-pods:password (secret), or use an API token';
    case 'tlsFingerprint':
      return 'copy it from Node → System → Certificates (SHA-256)';
    case 'endpoint':
      return 'use https://<node>:8006';
    default:
      return `correct proxmox-pods:${key}`;
  }
}
