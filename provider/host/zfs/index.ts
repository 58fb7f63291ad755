// ZFS on a PVE node: one command layer over the host Executor (command.ts), one naming rule (names.ts), and what is
// built on them: layer chains (chains.ts), the pod rootfs swap (clone-swap.ts) and persistent volumes (volumes.ts).
export * from './names';
export * from './command';
export * from './chains';
export * from './clone-swap';
export * from './volumes';
