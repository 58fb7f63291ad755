// The application image tests run (built offline from busybox-static); the demo builds the same one.
export * from '../../cli/busybox-image';
