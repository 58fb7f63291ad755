// PortForward: node address:port → pod ip:port through nftables DNAT in the provider's own table on the node.
import { z } from 'zod';
import { addForward, forwardSpecSchema, listForwards, pruneTable, removeForward, sameForward } from '../../host/nftables';
import { NODE_RE } from '../../proxmox/ids';
import { checkWithSchema } from '../common/check';
import { pveClient } from '../common/connection';
import { timeoutsSchema } from '../common/duration';
import { hostExecutor } from '../common/hosts';
import { ownerKey, ownerTag, ownerScopeSchema } from '../common/owner';
import { declaredDiff, type ResourceDefinition } from '../common/definition';
import type { ResourceModule } from '../types';
import { refreshedInputs } from '../common/refresh';

/** How a PortForward's inputs apply: its rules are rewritten in place; its name identifies them, so a new name is a new forward. */
const portForwardDefinition: ResourceDefinition<PortForwardInputs> = {
  kind: 'PortForward',
  fields: {
    name: 'replace', node: { apply: 'replace', chosenWhenUnset: true },
    listenAddress: 'live', listenPort: 'live', protocol: 'live', targetIp: 'live', targetPort: 'live', masquerade: 'live',
    owner: 'live', timeouts: 'state',
  },
  deleteBeforeReplace: true,
};

export const portForwardInputsSchema = forwardSpecSchema
  .omit({ id: true, owner: true })
  .extend({
    /** The resource name; identifies the forward's rules on the node. */
    name: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, { message: 'must be 1–64 of [A-Za-z0-9_.:-] (it names the nft rules)' }),
    /**
     * The node whose nftables get the rules.
     * @default the `proxmox-pods:node` config, or the cluster's only node
     */
    node: z.string().regex(NODE_RE, { message: 'must be a PVE node name' }).optional(),
    /** Deadlines of create, update and delete, such as "10m"; the provider enforces them (Pulumi gives dynamic providers none). */
    timeouts: timeoutsSchema.optional(),
    /** Hidden input from the SDK: the stack that owns the forward (8 hex digits of its owner tag in the rules' comments). */
    owner: ownerScopeSchema.optional(),
  })
  .strict();
export type PortForwardInputs = z.infer<typeof portForwardInputsSchema>;
export interface PortForwardOutputs extends PortForwardInputs {
  node: string;
  /** Where clients connect: `<address or *>:<port>/<protocol>`. */
  listen: string;
  /** False when a rule was removed on the node behind Pulumi's back (refresh); the next update restores it. */
  complete: boolean;
}

/** 8 hex digits of the owner's tag: what the rules' comments carry (nft comments are short, see nftables.ts). */
const ruleOwner = (i: Pick<PortForwardInputs, 'owner' | 'name'>) => {
  const key = ownerKey(i.owner, 'PortForward', i.name);
  return key ? ownerTag(key).slice(3, 11) : undefined;
};
const specOf = (i: PortForwardInputs) => ({
  id: i.name, listenAddress: i.listenAddress, listenPort: i.listenPort, protocol: i.protocol, targetIp: i.targetIp, targetPort: i.targetPort, masquerade: i.masquerade,
  ...(ruleOwner(i) ? { owner: ruleOwner(i) } : {}),
});
const listenOf = (i: PortForwardInputs) => `${i.listenAddress ?? '*'}:${i.listenPort}/${i.protocol}`;

export const portForwardModule: ResourceModule<PortForwardInputs, PortForwardOutputs> = {
  kind: 'PortForward',
  schema: portForwardInputsSchema,
  check: (_olds, news) => checkWithSchema(portForwardInputsSchema, news),
  diff(_id, olds, news) {
    const d = declaredDiff(portForwardDefinition, olds as PortForwardInputs, news);
    // A rule removed by hand (seen on refresh) is put back by an update.
    if (olds.complete === false && !d.changes) return { ...d, changes: true, changed: ['complete'] };
    return d;
  },
  async create(inputs) {
    const node = inputs.node ?? (await pveClient().defaultNode());
    await addForward(await hostExecutor(node), specOf(inputs));
    return { id: `${node}/${inputs.name}`, outs: { ...inputs, node, listen: listenOf(inputs), complete: true } };
  },
  async read(id, props) {
    // Ours only: another stack's forward of the same name on this node is not this resource.
    const found = (await listForwards(await hostExecutor(props.node))).find((f) => sameForward(f, { id: props.name, owner: ruleOwner(props) }));
    if (!found) return { id: '', props: {} as PortForwardOutputs };
    const now: Partial<PortForwardInputs> = { listenAddress: found.listenAddress, listenPort: found.listenPort, protocol: found.protocol, targetIp: found.targetIp, targetPort: found.targetPort, masquerade: found.masquerade };
    const inputs = refreshedInputs<PortForwardOutputs, PortForwardInputs>(props, ['listen', 'complete'], now);
    const outs = { ...props, ...now };
    return { id, props: { ...outs, listen: listenOf(outs), complete: found.complete }, ...(inputs ? { inputs } : {}) };
  },
  async update(_id, olds, news) {
    // Same id: addForward swaps the old rules for the new ones in one nft transaction.
    await addForward(await hostExecutor(olds.node), specOf(news), { previousOwner: ruleOwner(olds) });
    return { outs: { ...news, node: olds.node, listen: listenOf(news), complete: true } };
  },
  async delete(_id, props) {
    const exec = await hostExecutor(props.node);
    await removeForward(exec, props.name, ruleOwner(props));
    await pruneTable(exec);
  },
};
