// ImageSource over a registry repository.
import { DigestMismatchError } from '../errors';
import type { Descriptor } from '../manifest';
import type { RegistryReference } from '../reference';
import type { BlobRange, FetchedDocument, ImageSource } from '../source';
import { verifyBuffer } from '../verify';
import { RegistryClient, type RegistryClientOptions } from './client';

export class RegistrySource implements ImageSource {
  readonly name: string;
  readonly client: RegistryClient;

  constructor(private readonly ref: RegistryReference, options: Omit<RegistryClientOptions, 'host'>) {
    this.name = `${ref.registry}/${ref.repository}`;
    this.client = new RegistryClient({ ...options, host: ref.host });
  }

  async fetchRoot(): Promise<FetchedDocument> {
    const target = this.ref.digest ?? this.ref.tag ?? 'latest';
    const res = await this.client.getManifest(this.ref.repository, target);
    if (this.ref.digest && res.digest !== this.ref.digest) throw new DigestMismatchError(`manifest ${this.name}`, this.ref.digest, res.digest);
    return res;
  }

  async resolveRoot(): Promise<string> {
    if (this.ref.digest) return this.ref.digest;
    return this.client.resolveDigest(this.ref.repository, this.ref.tag ?? 'latest');
  }

  async fetchManifest(desc: Descriptor): Promise<FetchedDocument> {
    const res = await this.client.getManifest(this.ref.repository, desc.digest);
    verifyBuffer(res.bytes, { digest: desc.digest, size: desc.size, what: `manifest ${this.name}@${desc.digest}` });
    return res;
  }

  openBlob(desc: Descriptor, offset: number): Promise<BlobRange> {
    return this.client.openBlob(this.ref.repository, desc.digest, offset);
  }

  close(): Promise<void> { return this.client.close(); }
}
