// The PortForward's I/O: node address:port → pod ip:port through nftables DNAT in the provider's own table on the
// node. Only rules carrying this resource's owner are read, rewritten or removed.
import { addForward, listForwards, pruneTable, removeForward, sameForward } from '../../host/nftables';
import { pveClient } from '../common/connection';
import { hostExecutor } from '../common/hosts';
import { ownerKey, ownerTag } from '../common/owner';
import { refreshedInputs } from '../common/refresh';
import type { ReadOutcome } from '../types';
import type { PortForwardInputs, PortForwardOutputs } from './schema';

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

export async function createPortForward(inputs: PortForwardInputs): Promise<{ id: string; outs: PortForwardOutputs }> {
  const node = inputs.node ?? (await pveClient().defaultNode());
  await addForward(await hostExecutor(node), specOf(inputs));
  return { id: `${node}/${inputs.name}`, outs: { ...inputs, node, listen: listenOf(inputs), complete: true } };
}

export async function readPortForward(id: string, props: PortForwardOutputs): Promise<ReadOutcome<PortForwardInputs, PortForwardOutputs>> {
  // Ours only: another stack's forward of the same name on this node is not this resource.
  const found = (await listForwards(await hostExecutor(props.node))).find((f) => sameForward(f, { id: props.name, owner: ruleOwner(props) }));
  if (!found) return undefined;
  const now: Partial<PortForwardInputs> = { listenAddress: found.listenAddress, listenPort: found.listenPort, protocol: found.protocol, targetIp: found.targetIp, targetPort: found.targetPort, masquerade: found.masquerade };
  const inputs = refreshedInputs<PortForwardOutputs, PortForwardInputs>(props, ['listen', 'complete'], now);
  const outs = { ...props, ...now };
  return { id, props: { ...outs, listen: listenOf(outs), complete: found.complete }, ...(inputs ? { inputs } : {}) };
}

export async function updatePortForward(olds: PortForwardOutputs, news: PortForwardInputs): Promise<{ outs: PortForwardOutputs }> {
  // Same id: addForward swaps the old rules for the new ones in one nft transaction.
  await addForward(await hostExecutor(olds.node), specOf(news), { previousOwner: ruleOwner(olds) });
  return { outs: { ...news, node: olds.node, listen: listenOf(news), complete: true } };
}

export async function deletePortForward(props: PortForwardOutputs): Promise<void> {
  const exec = await hostExecutor(props.node);
  await removeForward(exec, props.name, ruleOwner(props));
  await pruneTable(exec);
}
