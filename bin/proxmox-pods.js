#!/usr/bin/env node
'use strict';
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(`proxmox-pods needs Node.js >= 22 (this is ${process.version}); in a checkout, \`npm run demo\` installs one`);
  process.exit(1);
}
require('../dist/cli/main.js')
  .main(process.argv.slice(2))
  .then((code) => { process.exitCode = code ?? 0; })
  .catch((err) => {
    console.error(`proxmox-pods: ${err && err.message ? err.message : err}`);
    process.exitCode = 1;
  });
