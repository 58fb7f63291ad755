// `pulumi preview --json` through the real CLI against the emulator: what a green preview promises, `up` can do.
// Wrong settings and names the cluster does not have fail the preview with messages that name the field and the
// fix; nested values are printed (never `{<nil>}`), long ones cut; offlinePreview opts out of the cluster.
import { stackConfig, startEmulator, type RunningEmulator } from '../../emulator';
import { PulumiWorkspace } from '../../cli/pulumi-workspace';
import { programPath, requirePulumiCli } from '../helpers/pulumi';

jest.setTimeout(300_000);

const T = 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';

interface PreviewJson {
  steps?: Array<{ op: string; urn: string }>;
  diagnostics?: Array<{ urn?: string; message: string; severity: string }>;
}

describe('preview checks through the real pulumi CLI', () => {
  let emu: RunningEmulator;
  let ws: PulumiWorkspace;

  beforeAll(async () => {
    requirePulumiCli();
    emu = await startEmulator({ nodes: 1, httpPort: false, taskDurationMs: 10 });
    ws = await PulumiWorkspace.create({
      program: programPath('pods'),
      project: 'e2e-preview-checks',
      config: {
        ...stackConfig(emu),
        pods: JSON.stringify({ web: { image: T, rootfs: { storage: 'local-zfs', sizeGiB: 2 }, network: { ip: '10.5.0.10/24', gateway: '10.5.0.1' } } }),
      },
    });
  }, 120_000);

  afterAll(async () => {
    await ws?.dispose();
    await emu?.close();
  });

  async function preview(pods?: Record<string, unknown>): Promise<{ exitCode: number; json: PreviewJson; errors: string[] }> {
    if (pods) await ws.setConfig('pods', JSON.stringify(pods));
    const r = await ws.run(['preview', '--json']);
    let json: PreviewJson;
    try {
      json = JSON.parse(r.stdout) as PreviewJson;
    } catch {
      throw new Error(`preview --json printed no JSON (exit ${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
    }
    const errors = (json.diagnostics ?? []).filter((d) => d.severity === 'error').map((d) => d.message);
    return { exitCode: r.exitCode, json, errors };
  }
  const pod = (over: Record<string, unknown> = {}) => ({ web: { image: T, rootfs: { storage: 'local-zfs', sizeGiB: 2 }, network: { ip: '10.5.0.10/24', gateway: '10.5.0.1' }, ...over } });

  test('a pod that fits the cluster previews as a create', async () => {
    const r = await preview(pod());
    expect(r.errors).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.json.steps?.map((s) => s.op)).toContain('create');
  });

  test('an unknown storage, a storage without rootdir, a missing template and bridge: each named with its fix', async () => {
    let r = await preview(pod({ rootfs: { storage: 'tank', sizeGiB: 2 } }));
    expect(r.exitCode).not.toBe(0);
    expect(r.errors.join('\n')).toMatch(/property 'rootfs\.storage' value "tank" has a problem: storage "tank" does not exist on node pve or is not enabled there; storages on pve that hold container root disks: local-zfs, local-lvm/);
    expect(r.errors.join('\n')).not.toMatch(/<nil>|pulumi refresh/);
    r = await preview(pod({ rootfs: { storage: 'local', sizeGiB: 2 } }));
    expect(r.errors.join('\n')).toMatch(/storage "local" on node pve cannot hold container root disks: its content types are .*without "rootdir"/);
    r = await preview(pod({ image: 'local:vztmpl/missing.tar.zst', network: { bridge: 'vmbr7', ip: 'dhcp' } }));
    const all = r.errors.join('\n');
    // A short top-level value is printed by the engine itself (in its own braces, redacted when secret).
    expect(all).toMatch(/property image value \{local:vztmpl\/missing.tar.zst\} has a problem: template local:vztmpl\/missing.tar.zst is not on storage "local" of node pve/);
    expect(all).toMatch(/property 'network\.bridge' value "vmbr7" has a problem: bridge "vmbr7" does not exist on node pve \(bridges there: vmbr0\)/);
  });

  test('an unknown node; a gateway outside the subnet; an 8,000-character value is cut', async () => {
    let r = await preview(pod({ node: 'pve7' }));
    expect(r.errors.join('\n')).toMatch(/node "pve7" is not a node of the cluster \(nodes: pve\); use one of them/);
    r = await preview(pod({ network: { ip: '10.5.0.10/24', gateway: '10.6.0.1' } }));
    expect(r.errors.join('\n')).toMatch(/property 'network\.gateway' value "10\.6\.0\.1" has a problem: gateway 10\.6\.0\.1 is outside the pod's subnet 10\.5\.0\.0\/24/);
    r = await preview(pod({ description: 'y'.repeat(8000) }));
    const msg = r.errors.find((m) => m.includes('description'))!;
    expect(msg).toMatch(/value "y{119}… \(8002 characters\) has a problem: must be at most 7000 characters/);
    expect(msg.length).toBeLessThan(1000);
  });

  test('a wrong token, a wrong fingerprint, an unreachable host and no endpoint fail the preview; offlinePreview opts out', async () => {
    await ws.setConfig('pods', JSON.stringify(pod()));
    await ws.setConfig('proxmox-pods:apiToken', { secret: 'root@pam!ci=11111111-2222-3333-4444-555555555555' });
    let r = await preview();
    expect(r.exitCode).not.toBe(0);
    expect(r.errors.join('\n')).toMatch(/cannot check this resource against the cluster: PVE GET \/version failed \(401\).*proxmox-pods:apiToken/);
    await ws.setConfig('proxmox-pods:apiToken', { secret: emu.token });

    await ws.setConfig('proxmox-pods:tlsFingerprint', Array(32).fill('0F').join(':'));
    r = await preview();
    expect(r.errors.join('\n')).toMatch(/TLS fingerprint mismatch .*proxmox-pods:tlsFingerprint/);
    await ws.setConfig('proxmox-pods:tlsFingerprint', emu.fingerprint);

    await ws.setConfig('proxmox-pods:endpoint', 'https://127.0.0.1:9');
    r = await preview();
    expect(r.errors.join('\n')).toMatch(/cannot reach the API .*check proxmox-pods:endpoint/);

    await ws.mustRun(['config', 'rm', 'proxmox-pods:endpoint']);
    r = await preview();
    expect(r.errors.join('\n')).toMatch(/proxmox-pods:endpoint \(or PROXMOX_VE_ENDPOINT\): is not set.*offlinePreview true/);

    await ws.setConfig('proxmox-pods:offlinePreview', 'true');
    r = await preview();
    expect(r.errors).toEqual([]);
    expect(r.exitCode).toBe(0);
    // Offline, the checks that need no cluster still run.
    r = await preview(pod({ network: { ip: '10.5.0.10/24', gateway: '10.6.0.1' } }));
    expect(r.errors.join('\n')).toMatch(/gateway 10\.6\.0\.1 is outside the pod's subnet/);
    await ws.mustRun(['config', 'rm', 'proxmox-pods:offlinePreview']);
    await ws.setConfig('proxmox-pods:endpoint', emu.url);
  });
});
