// Capability detection through a real executor inside a namespace, checked against independent oracles (the tool on
// PATH, the bridge's sysfs attributes); the error path through a scripted executor.
import { execa } from 'execa';
import { CapabilityError } from '../../provider/errors';
import { detectCapabilities, FEATURES, parseProbeLines, requireCapability, TOOLS, type HostCapabilities } from '../../provider/host/capabilities';
import { LocalExecutor, type Executor, type RunResult } from '../../provider/host/executor';
import { RecordingExecutor } from './support/recording';
import { requireTools } from './support/tools';

const ns = `pp-cap-${process.pid}`;

describe('capabilities', () => {
  beforeAll(async () => {
    await requireTools('ip', 'unshare');
    await execa('ip', ['netns', 'add', ns]);
  });
  afterAll(async () => {
    await execa('ip', ['netns', 'del', ns], { reject: false });
  });

  test('detects tools and kernel features as the node really has them', async () => {
    const exec = new LocalExecutor('pve1', { netns: ns });
    const caps = await detectCapabilities(exec);
    expect(caps.node).toBe('pve1');
    for (const t of TOOLS) {
      const onPath = (await execa('sh', ['-c', 'command -v "$1"', 'sh', t], { reject: false })).exitCode === 0;
      expect([t, caps.tools[t]]).toEqual([t, onPath]);
    }
    // Oracle for VLAN filtering: a bridge exposes bridge/vlan_filtering in sysfs only with kernel support.
    await execa('ip', ['-n', ns, 'link', 'add', 'ppcaporacle', 'type', 'bridge']);
    const attr = await execa('ip', ['netns', 'exec', ns, 'test', '-e', '/sys/class/net/ppcaporacle/bridge/vlan_filtering'], { reject: false });
    expect(caps.features.bridgeVlanFiltering).toBe(attr.exitCode === 0);
    const snoop = await execa('ip', ['netns', 'exec', ns, 'test', '-e', '/sys/class/net/ppcaporacle/bridge/multicast_snooping'], { reject: false });
    expect(caps.features.multicastSnooping).toBe(snoop.exitCode === 0);
    expect(caps.features.portIsolation).toBe(true); // kernel ≥ 4.18 everywhere these tests run
    expect(caps.features.nftablesNat).toBe(caps.tools.nft);
    expect(caps.probeError).toBeUndefined();
    // The probe ran in a throwaway namespace: nothing of it is left in the node's.
    expect(String((await execa('ip', ['-n', ns, '-br', 'link'])).stdout)).not.toMatch(/ppcap(br|v)/);
    expect(String((await execa('ip', ['netns', 'exec', ns, 'nft', 'list', 'tables'])).stdout)).not.toContain('ppcap');
  });

  test('cached per executor; refresh re-probes', async () => {
    const exec = new RecordingExecutor(new LocalExecutor('pve1', { netns: ns }));
    const a = await detectCapabilities(exec);
    const calls = exec.calls.length;
    expect(calls).toBeGreaterThan(0);
    expect(await detectCapabilities(exec)).toBe(a);
    expect(exec.calls.length).toBe(calls);
    await detectCapabilities(exec, { refresh: true });
    expect(exec.calls.length).toBe(calls * 2);
  });

  test('a node missing tools: features that need them are off, errors name the fix', async () => {
    // A scripted node: only ip, tar and unshare; the kernel probe succeeds for everything.
    const fake: Executor = {
      node: 'pve7',
      async run(cmd, args): Promise<RunResult> {
        if (cmd === 'sh') return { stdout: args.slice(3).map((t) => `${t} ${['ip', 'tar', 'unshare'].includes(t) ? 1 : 0}`).join('\n'), stderr: '', exitCode: 0 };
        return { stdout: 'bridgeVlanFiltering 0\nmulticastSnooping 1\nportIsolation 1\nnftablesNat 1\n', stderr: '', exitCode: 0 };
      },
    };
    const caps = await detectCapabilities(fake);
    expect(caps.tools).toMatchObject({ ip: true, tar: true, nft: false, bridge: false, dnsmasq: false });
    expect(caps.features).toEqual({ bridgeVlanFiltering: false, multicastSnooping: true, portIsolation: false, nftablesNat: false });
    expect(() => requireCapability(caps, 'ip')).not.toThrow();
    const nft = (() => { try { requireCapability(caps, 'nft'); } catch (e) { return e; } })();
    expect(nft).toBeInstanceOf(CapabilityError);
    expect((nft as Error).message).toBe('node pve7: nft (nftables) is not available; install nftables on the node (apt-get install nftables)');
    expect(() => requireCapability(caps, 'bridgeVlanFiltering')).toThrow(/node pve7: bridge VLAN filtering is not available; .*CONFIG_BRIDGE_VLAN_FILTERING.*"if-supported"/);
    expect(() => requireCapability(caps, 'dnsmasq')).toThrow(/dnsmasq-base/);
  });

  test('without unshare the kernel is not probed and the reason is reported', async () => {
    const fake: Executor = {
      node: 'pve8',
      async run(cmd, args): Promise<RunResult> {
        if (cmd !== 'sh') throw new Error(`unexpected ${cmd}`);
        return { stdout: args.slice(3).map((t) => `${t} ${t === 'unshare' ? 0 : 1}`).join('\n'), stderr: '', exitCode: 0 };
      },
    };
    const caps: HostCapabilities = await detectCapabilities(fake);
    for (const f of FEATURES) expect(caps.features[f]).toBe(false);
    expect(() => requireCapability(caps, 'portIsolation')).toThrow(/bridge port isolation \(cannot probe kernel features without unshare/);
  });

  test('probe output parsing ignores noise', () => {
    expect([...parseProbeLines('ip 1\nnoise here\nnft 0\n  tar 1  \nbad 2\n')]).toEqual([['ip', true], ['nft', false], ['tar', true]]);
  });
});
