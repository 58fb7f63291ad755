#!/usr/bin/env node
'use strict';
// Kept to syntax every Node.js still around understands: this file must be able to say "wrong Node" on old ones.
const path = require('node:path');
const fs = require('node:fs');

const MIN_MAJOR = 22; // @pulumi/pulumi >= 3.249 needs Node 22 (package.json engines)
const major = (version) => Number(String(version).replace(/^v/, '').split('.')[0]);

// The Node.js scripts/bootstrap.sh installs into a checkout (.tools/node) when the machine's is older. An installed
// package has none; then the user's own Node must be new enough.
function projectNode() {
  const candidate = path.join(__dirname, '..', '.tools', 'node', 'node_modules', 'node', 'bin', 'node');
  return fs.existsSync(candidate) ? candidate : undefined;
}

if (major(process.versions.node) < MIN_MAJOR) {
  const node = projectNode();
  // PROXMOX_PODS_REEXEC stops a loop when the project's Node turns out to be old as well.
  if (!node || process.env.PROXMOX_PODS_REEXEC) {
    console.error(
      `proxmox-pods needs Node.js >= ${MIN_MAJOR} (this is ${process.version}). ` +
        (node
          ? `The project's own Node (${node}) is not new enough either: run scripts/bootstrap.sh again.`
          : 'Install Node.js 22 or later; in a checkout of proxmox-pods, `npm run demo` installs one into .tools/node.'),
    );
    process.exit(1);
  }
  const { spawn } = require('node:child_process');
  const child = spawn(node, [__filename].concat(process.argv.slice(2)), {
    stdio: 'inherit',
    env: Object.assign({}, process.env, { PROXMOX_PODS_REEXEC: '1' }),
  });
  // A terminal's Ctrl-C reaches both processes (same process group); a signal sent to this pid alone is passed on,
  // so the emulator behind it shuts down cleanly.
  const forward = (signal) => child.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward);
  child.on('error', (err) => {
    console.error(`proxmox-pods: cannot start ${node}: ${err.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.off(s, forward);
      process.kill(process.pid, signal); // die the way the child died, so shells see the same status
    } else {
      process.exit(code === null ? 1 : code);
    }
  });
} else {
  require('../dist/cli/main.js')
    .main(process.argv.slice(2))
    .then((code) => {
      process.exitCode = code === undefined ? 0 : code;
    })
    .catch((err) => {
      console.error(`proxmox-pods: ${err && err.message ? err.message : err}`);
      process.exitCode = 1;
    });
}
