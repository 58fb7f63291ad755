// The HeadlessService's I/O: the StatefulSet's DNS zone, served by dnsmasq on a node through the host executor. Only a
// zone this resource owns is changed or removed.
import { pveClient, stackSetting } from '../common/connection';
import { hostExecutor } from '../common/hosts';
import { canonical } from '../common/definition';
import { refreshedInputs } from '../common/refresh';
import type { ReadOutcome } from '../types';
import { DnsmasqZones, ZoneOwnerMismatchError } from '../../host/dnsmasq';
import { NotOwnedError, ownerId, parseOwnerId, scopedOwnerKey } from '../common/owner';
import { warn } from '../../diagnostics';
import { servedRecords, zoneOf, type HeadlessServiceInputs, type HeadlessServiceOutputs } from './schema';

const serviceOwner = (i: Pick<HeadlessServiceInputs, 'owner' | 'name'>) => scopedOwnerKey(i.owner, 'HeadlessService', i.name);
const ownerIdOf = (i: Pick<HeadlessServiceInputs, 'owner' | 'name'>) => {
  const key = serviceOwner(i);
  return key ? ownerId(key) : undefined;
};

/** The host layer's mismatch in the resource's terms (NotOwnedError names both owners and the way out). */
async function owned<T>(i: HeadlessServiceInputs, fix: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof ZoneOwnerMismatchError) throw new NotOwnedError(`DNS zone ${err.zone} on ${err.node}`, parseOwnerId(err.recorded), serviceOwner(i), fix);
    throw err;
  }
}

/** The dnsmasq instance on `node` that listens where the service says. */
async function zonesOn(node: string, listen: HeadlessServiceInputs['listen']): Promise<DnsmasqZones> {
  return new DnsmasqZones(await hostExecutor(node), { stateDir: stackSetting('dnsStateDir'), listenAddress: listen.address, listenPort: listen.port });
}

/** `previous`: the state's inputs on update, whose owner may hand the zone over (a renamed stack). */
async function apply(inputs: HeadlessServiceInputs, node: string, previous?: HeadlessServiceInputs): Promise<HeadlessServiceOutputs> {
  const zone = zoneOf(inputs);
  const records = servedRecords(inputs);
  const zones = await zonesOn(node, inputs.listen);
  await owned(inputs, 'choose another service name, namespace or listen address', () => zones.upsertZone(zone, { pods: records, ports: inputs.ports }, { srvTarget: inputs.srvTarget }, ownerIdOf(inputs), previous && ownerIdOf(previous)));
  return {
    ...inputs,
    node,
    zone,
    records: records.map((r) => ({ name: `${r.hostname}.${zone}`, ip: r.ip })),
    srv: inputs.ports.map((p) => `_${p.name}._${p.protocol}.${zone}`),
  };
}

export async function createHeadlessService(inputs: HeadlessServiceInputs): Promise<{ id: string; outs: HeadlessServiceOutputs }> {
  const node = inputs.node ?? (await pveClient().defaultNode());
  const outs = await apply(inputs, node);
  return { id: `${node}/${outs.zone}`, outs };
}

export async function readHeadlessService(id: string, props: HeadlessServiceOutputs): Promise<ReadOutcome<HeadlessServiceInputs, HeadlessServiceOutputs>> {
  const zones = await zonesOn(props.node, props.listen);
  const live = await zones.readZone(props.zone);
  if (!live) return undefined;
  // Another owner's zone of that name now: ours is gone.
  const recorded = await zones.zoneOwner(props.zone);
  const mine = ownerIdOf(props);
  if (recorded && mine && recorded !== mine) return undefined;
  // Drift: records or ports changed on the node show up as changed inputs.
  const byName = new Map(live.pods.map((r) => [r.hostname, r.ip]));
  // A member is served when it is ready and has an address (servedRecords): one without either is as asked when
  // it has no record, and a served one whose record is gone reads as not ready.
  const pods = props.pods.map((p) => {
    const ip = byName.get(p.name);
    if (ip !== undefined) return { ...p, ready: true, ip };
    return p.ready && p.ip !== undefined ? { ...p, ready: false } : p;
  });
  // The zone file lists ports sorted (dnsmasq.ts renderZoneConf): the same set in the program's order is no change.
  const samePorts = live.ports.length === props.ports.length && live.ports.every((p) => props.ports.some((q) => canonical(q) === canonical(p)));
  const now: Partial<HeadlessServiceInputs> = { pods, ports: samePorts ? props.ports : live.ports };
  const inputs = refreshedInputs<HeadlessServiceOutputs, HeadlessServiceInputs>(props, ['zone', 'records', 'srv'], now);
  const records = servedRecords({ ...props, pods }).map((r) => ({ name: `${r.hostname}.${props.zone}`, ip: r.ip }));
  return { id, props: { ...props, ...now, records }, ...(inputs ? { inputs } : {}) };
}

export async function updateHeadlessService(olds: HeadlessServiceOutputs, news: HeadlessServiceInputs): Promise<{ outs: HeadlessServiceOutputs }> {
  const outs = await apply(news, olds.node, olds);
  // Moved to another listen address/port: the old instance stops serving the zone.
  if (olds.listen.address !== news.listen.address || olds.listen.port !== news.listen.port) {
    const old = await zonesOn(olds.node, olds.listen);
    await owned(olds, 'it is no longer this stack\'s: leave it', () => old.removeZone(olds.zone, ownerIdOf(olds)));
  }
  return { outs };
}

export async function deleteHeadlessService(props: HeadlessServiceOutputs): Promise<void> {
  const zones = await zonesOn(props.node, props.listen);
  try {
    await owned(props, 'left alone; this service leaves the stack', () => zones.removeZone(props.zone, ownerIdOf(props)));
  } catch (err) {
    // Another owner's zone of that name now: never removed, and said; this resource is gone.
    if (!(err instanceof NotOwnedError)) throw err;
    warn(err.message);
  }
}
