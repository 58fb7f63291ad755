// A PVE client on the same terms as a stack's connection to an in-process emulator (emulator stackConfig: HTTPS,
// API token, pinned fingerprint), for a test's own calls (drift made through the API).
import type { RunningEmulator } from '../../emulator';
import { PveClient } from '../../provider/proxmox/client';
import { parseConnectionConfig } from '../../provider/proxmox/config';

export function emulatorClient(emu: RunningEmulator): PveClient {
  return PveClient.create(parseConnectionConfig({ endpoint: emu.url, apiToken: emu.token, tlsFingerprint: emu.fingerprint }));
}
