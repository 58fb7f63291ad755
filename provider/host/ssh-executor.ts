// Kept for existing imports; the SSH executor lives in ssh.ts.
export { HostKeyMismatchError, keyFingerprint, shellQuote, SshConnectError, SshExecutor, sshTargetSchema, type SshTarget } from './ssh';
