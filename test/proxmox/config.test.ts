import { PveConfigError } from '../../provider/proxmox/errors';
import { normalizeEndpoint, normalizeFingerprint, resolveConnectionConfig } from '../../provider/proxmox/config';
import { inspect } from 'node:util';

const SECRET = '0d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5';
const TOKEN = `root@pam!ci=${SECRET}`;
const FP = 'ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89';

describe('resolveConnectionConfig', () => {
  it('reads prefixed and bare stack keys; stack wins over env', () => {
    const cfg = resolveConnectionConfig(
      { 'proxmox-pods:endpoint': 'https://pve.example:8006/api2/json/', node: 'pve2' },
      { PROXMOX_VE_ENDPOINT: 'https://other:8006', PROXMOX_VE_API_TOKEN: TOKEN, PROXMOX_VE_NODE: 'pve1' },
    );
    expect(cfg.endpoint).toBe('https://pve.example:8006');
    expect(cfg.node).toBe('pve2');
    expect(cfg.apiToken?.tokenId).toBe('root@pam!ci');
    expect(cfg.apiToken?.secret.reveal()).toBe(SECRET);
    expect(cfg.insecure).toBe(false);
  });
  it('falls back to env for everything, including username/password and insecure', () => {
    const cfg = resolveConnectionConfig({}, {
      PROXMOX_VE_ENDPOINT: 'https://10.0.0.1:8006',
      PROXMOX_VE_USERNAME: 'root@pam',
      PROXMOX_VE_PASSWORD: 'hunter22',
      PROXMOX_VE_INSECURE: 'true',
    });
    expect(cfg.username).toBe('root@pam');
    expect(cfg.password?.reveal()).toBe('hunter22');
    expect(cfg.insecure).toBe(true);
    expect(cfg.apiToken).toBeUndefined();
  });
  it('never prints credentials when the config is logged', () => {
    const cfg = resolveConnectionConfig({ endpoint: 'https://h:8006', apiToken: TOKEN, password: 'p4ssw0rd', username: 'u@pam' }, {});
    expect(JSON.stringify(cfg)).not.toContain(SECRET);
    expect(inspect(cfg, { depth: 5 })).not.toContain(SECRET);
    expect(`${cfg.apiToken?.secret}`).toBe('[secret]');
  });
  it('normalises the fingerprint and accepts the openssl form', () => {
    const cfg = resolveConnectionConfig({ endpoint: 'https://h:8006', apiToken: TOKEN, tlsFingerprint: `SHA256 Fingerprint=${FP}` }, {});
    expect(cfg.tlsFingerprint).toBe(FP.toUpperCase());
    expect(normalizeFingerprint(FP.replace(/:/g, ''))).toBe(FP.toUpperCase());
    expect(normalizeFingerprint('AB:CD')).toBeUndefined();
  });
  it('names the key and the fix in errors, without echoing secrets', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as PveConfigError;
      }
      throw new Error('expected an error');
    };
    const missing = err(() => resolveConnectionConfig({}, {}));
    expect(missing).toBeInstanceOf(PveConfigError);
    expect(missing.message).toMatch(/proxmox-pods:endpoint .*PROXMOX_VE_ENDPOINT/);

    const badToken = err(() => resolveConnectionConfig({ endpoint: 'https://h' }, { PROXMOX_VE_API_TOKEN: 'root@pam=nosep-secretvalue' }));
    expect(badToken.message).toMatch(/^PROXMOX_VE_API_TOKEN: must look like USER@REALM!TOKENID=SECRET/);
    expect(badToken.message).not.toContain('nosep-secretvalue');

    expect(err(() => resolveConnectionConfig({ endpoint: 'https://h' }, {})).message).toMatch(/no credentials/);
    expect(err(() => resolveConnectionConfig({ endpoint: 'https://h', username: 'root' , password: 'x'}, {})).message).toMatch(/proxmox-pods:username: must include the realm/);
    expect(err(() => resolveConnectionConfig({ endpoint: 'https://h', apiToken: TOKEN, tlsFingerprint: 'zz' }, {})).message).toMatch(/proxmox-pods:tlsFingerprint: must be a SHA-256/);
    expect(err(() => resolveConnectionConfig({ endpoint: 'https://h', apiToken: TOKEN, insecure: 'maybe' }, {})).message).toMatch(/insecure.*not a boolean/);
    expect(err(() => resolveConnectionConfig({ endpoint: 'https://h', apiToken: TOKEN, insecure: '1', tlsFingerprint: FP }, {})).message).toMatch(/conflicts with tlsFingerprint/);
    expect(err(() => resolveConnectionConfig({ endpoint: 'https://h', apiToken: TOKEN, caCert: 'not pem' }, {})).message).toMatch(/caCert: must be PEM/);
  });
  it('refuses token ids PVE refuses, saying the rule and never the secret', () => {
    // pve-access-control: realm and token id match [A-Za-z][A-Za-z0-9.\-_]+ (two characters at least).
    const problem = (token: string) => {
      try {
        resolveConnectionConfig({ endpoint: 'https://h' }, { PROXMOX_VE_API_TOKEN: token });
      } catch (e) {
        expect(e).toBeInstanceOf(PveConfigError);
        expect((e as Error).message).not.toContain('s3cret');
        return (e as Error).message;
      }
      throw new Error(`expected ${token} to be refused`);
    };
    expect(problem('root@pam!a=s3cret')).toMatch(/^PROXMOX_VE_API_TOKEN: the token id 'a' is not valid: a token id starts with a letter followed by at least one letter, digit, "\.", "-" or "_"/);
    expect(problem('root@pam!1ci=s3cret')).toMatch(/the token id '1ci' is not valid/);
    expect(problem('root@pam!c i=s3cret')).toMatch(/the token id 'c i' is not valid/);
    expect(problem('root@p!ci=s3cret')).toMatch(/the realm 'p' is not valid/);
    expect(problem('root!ci=s3cret')).toMatch(/needs its realm, e\.g\. root@pam/);
    expect(problem('ro:ot@pam!ci=s3cret')).toMatch(/the user 'ro:ot' must not contain/);
    expect(problem('root@pam!ci=')).toMatch(/the secret after "=" is missing/);
    const ok = resolveConnectionConfig({ endpoint: 'https://h' }, { PROXMOX_VE_API_TOKEN: 'svc.deploy@pve!ci-1.x_y=s3cret' });
    expect(ok.apiToken?.tokenId).toBe('svc.deploy@pve!ci-1.x_y');
    expect(ok.apiToken?.secret.reveal()).toBe('s3cret');
  });
  it('allows plain http only to loopback, or with insecure', () => {
    expect(resolveConnectionConfig({ endpoint: 'http://127.0.0.1:8006', apiToken: TOKEN }, {}).endpoint).toBe('http://127.0.0.1:8006');
    expect(resolveConnectionConfig({ endpoint: 'http://[::1]:8006/', apiToken: TOKEN }, {}).endpoint).toBe('http://[::1]:8006');
    expect(() => resolveConnectionConfig({ endpoint: 'http://pve.lan:8006', apiToken: TOKEN }, {})).toThrow(/clear text/);
    expect(resolveConnectionConfig({ endpoint: 'http://pve.lan:8006', apiToken: TOKEN, insecure: 'yes' }, {}).insecure).toBe(true);
  });
});

describe('normalizeEndpoint', () => {
  it('strips a trailing slash and /api2/json, keeps the port', () => {
    expect(normalizeEndpoint('https://pve:8006')).toBe('https://pve:8006');
    expect(normalizeEndpoint('https://pve:8006/')).toBe('https://pve:8006');
    expect(normalizeEndpoint('https://pve:8006/api2/json')).toBe('https://pve:8006');
    expect(normalizeEndpoint('https://pve/api2/json/')).toBe('https://pve');
  });
  it('rejects other paths, schemes and embedded credentials', () => {
    expect(normalizeEndpoint('https://pve/foo')).toEqual({ error: expect.stringMatching(/unexpected path/) });
    expect(normalizeEndpoint('ftp://pve')).toEqual({ error: expect.stringMatching(/not supported/) });
    expect(normalizeEndpoint('https://u:p@pve')).toEqual({ error: expect.stringMatching(/credentials/) });
    expect(normalizeEndpoint('pve:8006')).toEqual({ error: expect.any(String) });
  });
});
