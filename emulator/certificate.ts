// A throwaway self-signed certificate for the HTTPS listener, made with the openssl CLI (Node has no
// certificate builder). Argument arrays only; the key never leaves the temp dir we delete.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxmoxPodsError } from '../provider/errors';

export class CertificateError extends ProxmoxPodsError {
  constructor(detail: string) {
    super(`cannot create the emulator's TLS certificate: ${detail} (install the 'openssl' package)`, 'E_EMULATOR_CERT');
  }
}

export interface SelfSigned {
  certPem: string;
  keyPem: string;
  /** SHA-256, colon-separated uppercase hex, as PVE shows it. */
  fingerprint: string;
}

export async function createSelfSigned(host: string): Promise<SelfSigned> {
  const { execa } = await import('execa');
  const dir = await mkdtemp(join(tmpdir(), 'pve-emu-cert-'));
  try {
    const sans = new Set(['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']);
    if (host && host !== '0.0.0.0' && host !== '::') sans.add(isIP(host) ? `IP:${host}` : `DNS:${host}`);
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    try {
      await execa('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', keyFile, '-out', certFile, '-days', '30', '-subj', '/CN=pve-emulator/O=proxmox-pods',
        '-addext', `subjectAltName=${[...sans].join(',')}`,
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,digitalSignature,keyCertSign',
      ]);
    } catch (err) {
      throw new CertificateError((err as Error).message.split('\n')[0] ?? 'openssl failed');
    }
    const certPem = await readFile(certFile, 'utf8');
    const keyPem = await readFile(keyFile, 'utf8');
    return { certPem, keyPem, fingerprint: new X509Certificate(certPem).fingerprint256 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
