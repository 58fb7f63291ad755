// Tests are compiled by `tsc` first and run from dist/, so they exercise exactly what ships.
// NODE_OPTIONS=--experimental-vm-modules (set by scripts/run.sh) lets Jest load ESM-only deps such as execa.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/dist/test'],
  testMatch: ['**/*.test.js'],
  // Starts zfs-fuse for the ZFS suites once, and stops it again (with any pool left in it) if this run started it.
  globalSetup: '<rootDir>/dist/test/global-setup.js',
  globalTeardown: '<rootDir>/dist/test/global-teardown.js',
  testTimeout: 60000,
  maxWorkers: 2,
  verbose: false,
};
