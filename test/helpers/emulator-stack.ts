// A stack's connection to an in-process emulator (HTTPS, API token, pinned fingerprint), and a PVE client on the same
// terms for the test's own calls (drift made through the API), so suites do not spell them out each time.
import type { RunningEmulator } from '../../emulator';
import { PveClient } from '../../provider/proxmox/client';
import { parseConnectionConfig } from '../../provider/proxmox/config';

export function emulatorStackConfig(emu: RunningEmulator): Record<string, string | { secret: string }> {
  return {
    'proxmox-pods:endpoint': emu.url,
    'proxmox-pods:tlsFingerprint': emu.fingerprint,
    'proxmox-pods:apiToken': { secret: emu.token },
  };
}

export function emulatorClient(emu: RunningEmulator): PveClient {
  return PveClient.create(parseConnectionConfig({ endpoint: emu.url, apiToken: emu.token, tlsFingerprint: emu.fingerprint }));
}
