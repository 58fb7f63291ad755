// The image figures in the README ("Performance") come from `npm run bench:image` (bench/image.ts), which is not part
// of `npm test`; this runs it small (BENCH_SCALE) so that the command keeps working and every part it measures (our
// pull + unpack against skopeo + umoci on the same image, the cached re-pull, the template pack, ZFS chains and
// clones) still runs and still agrees with the reference tools. It writes its results to a temporary file, never over
// the committed bench/results/latest.json.
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../../cli/pulumi-workspace';
import { requireTools } from '../oci/helpers/tools';

jest.setTimeout(300_000);

const ready = requireTools('image bench smoke test', ['docker-registry', 'skopeo', 'umoci', 'zstd', 'tar', 'zfs']);
const t = ready ? test : test.skip;

t('BENCH_SCALE=0.01 node dist/bench/image.js: every measurement runs, the trees agree, the ZFS chains and clones are measured', async () => {
  const dir = await fs.mkdtemp(path.join(tmpdir(), 'pp-image-bench-'));
  try {
    const out = path.join(dir, 'results.json');
    const committed = await fs.readFile(path.join(REPO_ROOT, 'bench', 'results', 'latest.json'), 'utf8');
    const r = await execa(process.execPath, [path.join(REPO_ROOT, 'dist', 'bench', 'image.js')], {
      env: { ...process.env, BENCH_SCALE: '0.01', BENCH_ROUNDS: '1', BENCH_RESULTS: out }, reject: false, all: true,
    });
    expect({ exitCode: r.exitCode, output: r.exitCode === 0 ? '' : r.all }).toEqual({ exitCode: 0, output: '' });
    const results = JSON.parse(await fs.readFile(out, 'utf8')) as {
      scale: number; image: { layers: number }; skopeoUmoci: { sameTree: boolean }; ratio: number; ours: { totalMs: number };
      cachedRepullMs: number; template: { bytes: number }; zfs: Array<{ layers: number; podRootfsMedianMs: number }> | { error: string };
    };
    expect(results.scale).toBe(0.01);
    expect(results.image.layers).toBe(4);
    // Our unpack and umoci's give the same tree (entries and bytes).
    expect(results.skopeoUmoci.sameTree).toBe(true);
    expect(results.ours.totalMs).toBeGreaterThan(0);
    expect(results.ratio).toBeGreaterThan(0);
    expect(results.template.bytes).toBeGreaterThan(0);
    // ZFS was measured, not skipped with an error: a chain per layer count, each with a clone time.
    expect(Array.isArray(results.zfs) ? results.zfs.map((z) => z.layers) : results.zfs).toEqual([1, 2, 3, 4]);
    // The committed figures were not touched.
    expect(await fs.readFile(path.join(REPO_ROOT, 'bench', 'results', 'latest.json'), 'utf8')).toBe(committed);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
