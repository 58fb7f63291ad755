// What the serialized dynamic provider loads at run time (by package name, so state stays tiny): routes Pulumi's
// calls to the resource module of the given kind and turns failures into messages the engine shows well.
import type * as pulumi from '@pulumi/pulumi';
import { CONFIG_KEYS, setStackConfig } from './resources/common/connection';
import { resourceModules } from './resources';
import type { ResourceModule } from './resources/types';

export async function configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
  const values: Record<string, string | undefined> = {};
  for (const key of CONFIG_KEYS) values[`proxmox-pods:${key}`] = req.config.get(`proxmox-pods:${key}`);
  setStackConfig(values);
}

function moduleFor(kind: string): ResourceModule {
  const m = resourceModules[kind];
  if (!m) throw new Error(`proxmox-pods: unknown resource kind "${kind}"; the installed proxmox-pods package is older than the program's`);
  return m;
}

export function handler(kind: string): Required<Omit<pulumi.dynamic.ResourceProvider, 'configure'>> {
  const m = () => moduleFor(kind);
  return {
    check: async (olds, news) => m().check(olds ?? {}, news ?? {}),
    diff: async (id, olds, news) => {
      const d = m().diff(id, olds, news);
      return { changes: d.changes, replaces: d.replaces, stables: d.stables, deleteBeforeReplace: d.deleteBeforeReplace };
    },
    create: async (inputs) => m().create(inputs),
    read: async (id, props) => {
      const mod = m();
      return mod.read ? mod.read(id, props) : { id, props };
    },
    update: async (id, olds, news) => {
      const mod = m();
      return mod.update ? mod.update(id, olds, news) : { outs: news };
    },
    delete: async (id, props) => m().delete(id, props),
  };
}
