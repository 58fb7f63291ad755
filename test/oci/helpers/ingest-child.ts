// Child process for the two-process store test: ingests one blob from a URL into a store, prints the result.
import { request } from 'undici';
import { ContentStore } from '../../../provider/oci/store/store';

async function main(): Promise<void> {
  const [root, url, digest, size] = process.argv.slice(2) as [string, string, string, string];
  const store = await ContentStore.open(root);
  await store.ingest({ digest, size: Number(size) }, async (offset) => {
    const res = await request(url, { headers: offset > 0 ? { range: `bytes=${offset}-` } : {} });
    return { stream: res.body, offset: res.statusCode === 206 ? offset : 0 };
  });
  process.stdout.write(`ok ${store.blobPath(digest)}\n`);
}

main().catch((err: unknown) => { process.stderr.write(`${(err as Error).stack}\n`); process.exit(1); });
