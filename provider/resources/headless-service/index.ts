// HeadlessService: the StatefulSet's DNS zone, served by dnsmasq on a node through the host executor.
import { checkWithSchema } from '../common/check';
import { pveClient, stackSetting } from '../common/connection';
import { hostExecutor } from '../common/hosts';
import type { ResourceModule } from '../types';
import { DnsmasqZones } from '../../host/dnsmasq';
import { headlessServiceInputsSchema, servedRecords, zoneOf, type HeadlessServiceInputs, type HeadlessServiceOutputs } from './schema';

/** The dnsmasq instance on `node` that listens where the service says. */
async function zonesOn(node: string, listen: HeadlessServiceInputs['listen']): Promise<DnsmasqZones> {
  return new DnsmasqZones(await hostExecutor(node), { stateDir: stackSetting('dnsStateDir'), listenAddress: listen.address, listenPort: listen.port });
}

async function apply(inputs: HeadlessServiceInputs, node: string): Promise<HeadlessServiceOutputs> {
  const zone = zoneOf(inputs);
  const records = servedRecords(inputs);
  await (await zonesOn(node, inputs.listen)).upsertZone(zone, { pods: records, ports: inputs.ports }, { srvTarget: inputs.srvTarget });
  return {
    ...inputs,
    node,
    zone,
    records: records.map((r) => ({ name: `${r.hostname}.${zone}`, ip: r.ip })),
    srv: inputs.ports.map((p) => `_${p.name}._${p.protocol}.${zone}`),
  };
}

export const headlessServiceModule: ResourceModule<HeadlessServiceInputs, HeadlessServiceOutputs> = {
  kind: 'HeadlessService',
  schema: headlessServiceInputsSchema,
  check: (_olds, news) => checkWithSchema(headlessServiceInputsSchema, news),
  diff(_id, olds, news) {
    const replaces = (['name', 'namespace', 'domain'] as const).filter((k) => olds[k] !== news[k]);
    if (news.node !== undefined && news.node !== olds.node) replaces.push('node' as never);
    const changed = [...replaces];
    for (const k of ['listen', 'ports', 'pods', 'srvTarget', 'timeouts'] as const) if (JSON.stringify(olds[k]) !== JSON.stringify(news[k])) changed.push(k as never);
    return { changes: changed.length > 0, replaces, changed, deleteBeforeReplace: false };
  },
  async create(inputs) {
    const node = inputs.node ?? (await pveClient().defaultNode());
    const outs = await apply(inputs, node);
    return { id: `${node}/${outs.zone}`, outs };
  },
  async read(id, props) {
    const live = await (await zonesOn(props.node, props.listen)).readZone(props.zone);
    if (!live) return { id: '', props: {} as HeadlessServiceOutputs };
    // Drift: records or ports changed on the node show up as changed inputs.
    const byName = new Map(live.pods.map((r) => [r.hostname, r.ip]));
    const pods = props.pods.map((p) => {
      const ip = byName.get(p.name);
      return { ...p, ready: ip !== undefined, ...(ip ? { ip } : {}) };
    });
    const inputs: HeadlessServiceInputs = { ...props, pods, ports: live.ports };
    const { zone: _z, records: _r, srv: _s, ...rest } = { ...props, ...inputs };
    return { id, props: { ...props, ...inputs }, inputs: rest as HeadlessServiceInputs };
  },
  async update(_id, olds, news) {
    const outs = await apply(news, olds.node);
    // Moved to another listen address/port: the old instance stops serving the zone.
    if (olds.listen.address !== news.listen.address || olds.listen.port !== news.listen.port) await (await zonesOn(olds.node, olds.listen)).removeZone(olds.zone);
    return { outs };
  },
  async delete(_id, props) {
    await (await zonesOn(props.node, props.listen)).removeZone(props.zone);
  },
};
