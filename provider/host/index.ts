// The host layer: commands on a PVE node through an Executor (local, network namespace, or SSH), and the services
// built on it. The older module paths (hosts-config, ssh-executor, bridge-security, nft-forward) re-export these.
export * from './executor';
export * from './names';
export * from './config';
export * from './ssh';
export * from './capabilities';
export * from './bridge';
export * from './nftables';
export * from './zfs-dataset';
