// Public surface of the PVE client layer.
export { PveClient, type PveClientOptions, type Budget, type ConfigValues, type GuestType } from './client';
export { resolveConnectionConfig, parseConnectionConfig, normalizeEndpoint, normalizeFingerprint, type ConnectionConfig, type ConnectionConfigInput } from './config';
export * from './errors';
export * from './properties';
export type * from './schemas';
export { Secret } from './secret';
export { Deadline, type RetryPolicy } from './retry';
export type { UploadRequest, ChecksumAlgorithm } from './upload';
