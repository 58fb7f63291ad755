// The provider object Pulumi stores with every resource (twice): measured with Pulumi's own closure serializer.
// Installed from a registry (a real directory under node_modules) it is a require() of the per-kind module; from a
// linked checkout it is serialized by value, still capturing nothing but the kind. One object per kind, so a
// program serializes it once per kind, not once per resource.
import { execaSync } from 'execa';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../cli/pulumi-workspace';
import { providerFor } from '../../sdk/provider';

const { serializeFunction } = require('@pulumi/pulumi/runtime/closure/serializeClosure') as { serializeFunction: (f: () => unknown, o: object) => Promise<{ text: string }> };

const serialized = async (p: unknown) => (await serializeFunction(() => p, { allowSecrets: true })).text;

describe('the serialized provider', () => {
  test('one object per kind, whose methods route by the kind it carries', async () => {
    expect(providerFor('Pod')).toBe(providerFor('Pod'));
    expect(providerFor('Pod')).not.toBe(providerFor('OciImage'));
    expect(providerFor('StatefulSetPod').k).toBe('StatefulSetPod');
    expect(() => providerFor('Nope')).toThrow(/no provider module/);
  });

  test('by value (a linked checkout) it captures nothing but the kind and loads the implementation by package name', async () => {
    const text = await serialized(providerFor('OciImage'));
    expect(text).toContain('k: "OciImage"');
    expect(text).toContain(`require('proxmox-pods/provider')`);
    expect(text).not.toMatch(/__dirname|dist\/sdk|zod|PveClient/);
    // 2,339 before (seven closures each capturing `impl` and `kind`); Pulumi wraps every function in ~185 characters of
    // its own, so by value this is close to the floor: the gain is the require() form below.
    expect(text.length).toBeLessThan(2339);
  });

  test('installed under node_modules it is a require() of the per-kind module, a few hundred characters', () => {
    const root = mkdtempSync(join(tmpdir(), 'pp-installed-'));
    try {
      const pkg = join(root, 'node_modules', 'proxmox-pods');
      mkdirSync(join(pkg, 'dist'), { recursive: true });
      cpSync(join(REPO_ROOT, 'package.json'), join(pkg, 'package.json'));
      cpSync(join(REPO_ROOT, 'dist', 'sdk'), join(pkg, 'dist', 'sdk'), { recursive: true });
      symlinkSync(join(REPO_ROOT, 'node_modules', '@pulumi'), join(root, 'node_modules', '@pulumi'));
      writeFileSync(join(root, 'measure.js'), `
        const { serializeFunction } = require('@pulumi/pulumi/runtime/closure/serializeClosure');
        // What the state's require() names must resolve through the package's exports, as Pulumi will load it.
        const providers = { Pod: require('proxmox-pods/dist/sdk/providers/pod.js'), OciImage: require('proxmox-pods/dist/sdk/providers/oci-image.js') };
        (async () => {
          const out = {};
          for (const k of ['Pod', 'OciImage']) { const p = providers[k]; out[k] = (await serializeFunction(() => p, { allowSecrets: true })).text; }
          process.stdout.write(JSON.stringify(out));
        })();`);
      const r = execaSync(process.execPath, ['measure.js'], { cwd: root });
      const out = JSON.parse(String(r.stdout)) as Record<string, string>;
      expect(out.Pod).toContain('require("proxmox-pods/dist/sdk/providers/pod.js")');
      expect(out.OciImage).toContain('require("proxmox-pods/dist/sdk/providers/oci-image.js")');
      expect(out.Pod!.length).toBeLessThan(300);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
