// Reads a whole (small) stream into memory, refusing it as soon as it grows past `cap`: documents (manifests,
// indexes, configs) are bounded so a hostile source cannot make us buffer without end.
import type { Readable } from 'node:stream';

export async function readCapped(stream: Readable, cap: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > cap) {
      stream.destroy();
      throw tooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
