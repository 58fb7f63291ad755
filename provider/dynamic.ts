// What the serialized dynamic provider loads at run time (by package name, so state stays tiny): routes Pulumi's
// calls to the resource module of the given kind and turns failures into messages the engine shows well.
import type * as pulumi from '@pulumi/pulumi';
import { assertEngineAlive, parentWatch } from './engine-liveness';
import { CONFIG_KEYS, setStackConfig } from './resources/common/connection';
import { resourceModules } from './resources';
import type { ResourceModule } from './resources/types';
import { addWarningSink, withOperation } from './diagnostics';
import { engineAddressOf, engineLogSink } from './engine-log';
import { runPreflight } from './resources/preflights';
import { presentFailures } from './resources/common/failure-message';

// In the dynamic-provider process, warnings go to the engine, which shows them in `pulumi up`/`preview`.
const engineAddress = engineAddressOf(process.argv);
if (engineAddress) addWarningSink(engineLogSink(engineAddress));

export async function configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
  // Only the dynamic-provider host calls configure (right after the engine started it): from here on the process
  // exits once its engine is gone (see engine-liveness.ts for what the host allows).
  parentWatch({ exitWhenGone: true });
  const values: Record<string, string | undefined> = {};
  for (const key of CONFIG_KEYS) values[`proxmox-pods:${key}`] = req.config.get(`proxmox-pods:${key}`);
  setStackConfig(values);
}

function moduleFor(kind: string): ResourceModule {
  const m = resourceModules[kind];
  if (!m) throw new Error(`proxmox-pods: unknown resource kind "${kind}"; the installed proxmox-pods package is older than the program's`);
  return m;
}

/** Pulumi's Struct encoding rejects `undefined` anywhere in a value: drop such keys (deeply) from what we return. */
export function withoutUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutUndefined) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, withoutUndefined(v)])) as T;
  }
  return value;
}

/** What the dynamic-provider host reads as "the resource no longer exists" (an empty id): refresh drops it from state. */
const GONE = { id: '', props: {} };

/** `Pod web`: what a warning names (the dynamic provider API does not pass the URN). */
function label(kind: string, props: unknown, id?: string): string {
  const name = props && typeof props === 'object' ? (props as { name?: unknown }).name : undefined;
  return `${kind} ${typeof name === 'string' ? name : id ?? ''}`.trim();
}

/** Runs one provider call as an operation: warnings raised anywhere inside it are delivered before it answers. */
async function operation<T>(resource: string, fn: () => Promise<T>): Promise<T> {
  return (await withOperation(resource, fn)).result;
}

export function handler(kind: string): Required<Omit<pulumi.dynamic.ResourceProvider, 'configure'>> {
  const m = () => moduleFor(kind);
  return {
    check: (olds, news) =>
      operation(label(kind, news), async () => {
        const mod = m();
        const result = await mod.check(olds ?? {}, news ?? {});
        // Cluster checks only for inputs the schema accepted: a bad field is reported once, by the schema.
        const failures = result.failures?.length ? result.failures : result.inputs ? await runPreflight(mod, olds ?? {}, result.inputs) : [];
        return withoutUndefined({ ...result, failures: failures.length ? presentFailures(failures, news ?? {}) : undefined });
      }),
    diff: async (id, olds, news) => {
      const d = m().diff(id, olds, news);
      return { changes: d.changes, replaces: d.replaces, stables: d.stables, deleteBeforeReplace: d.deleteBeforeReplace };
    },
    create: (inputs) =>
      operation(label(kind, inputs), async () => {
        assertEngineAlive(`create ${kind}`);
        return withoutUndefined(await m().create(inputs));
      }),
    read: (id, props) =>
      operation(label(kind, props, id), async () => {
        const mod = m();
        if (!mod.read) return withoutUndefined({ id, props });
        // Gone is a value (undefined) in the modules; Pulumi spells it as an empty id.
        return withoutUndefined((await mod.read(id, props)) ?? GONE);
      }),
    update: (id, olds, news) =>
      operation(label(kind, news, id), async () => {
        assertEngineAlive(`update ${kind} ${id}`);
        const mod = m();
        return withoutUndefined(mod.update ? await mod.update(id, olds, news) : { outs: news });
      }),
    delete: (id, props) =>
      operation(label(kind, props, id), async () => {
        assertEngineAlive(`delete ${kind} ${id}`);
        return m().delete(id, props);
      }),
  };
}
