// Tests are compiled by `tsc` first and run from dist/, so they exercise exactly what ships.
// NODE_OPTIONS=--experimental-vm-modules (set by scripts/run.sh) lets Jest load ESM-only deps such as execa.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/dist/test'],
  testMatch: ['**/*.test.js'],
  // Stops the zfs-fuse daemon the ZFS suites started (only if it was not running before and holds no pool).
  globalSetup: '<rootDir>/dist/test/global-setup.js',
  globalTeardown: '<rootDir>/dist/test/global-teardown.js',
  testTimeout: 60000,
  maxWorkers: 2,
  verbose: false,
};
