// The host layer: commands on a PVE node through an Executor (local, network namespace, or SSH), and the services
// built on it.
export * from './executor';
export * from './names';
export * from './config';
export * from './ssh';
export * from './capabilities';
export * from './bridge';
export * from './nftables';
export * from './zfs';
export * from './dnsmasq';
