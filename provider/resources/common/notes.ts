// Notes for the user that are not errors (a retry, a container adopted after a crash). The dynamic-provider host
// forwards the provider process's stderr to the engine's log; the warning channel (provider/diagnostics.ts) is
// where these are meant to go once it exists.
export function noteToUser(message: string): void {
  process.stderr.write(`proxmox-pods: ${message}\n`);
}
