// Kept for existing imports; the per-node access config lives in config.ts.
export { executorFor, hostAccessSchema, hostsConfigSchema, parseHostsConfig, type HostAccess, type HostsConfig } from './config';
