#!/usr/bin/env bash
# package.json `prepare`: compile what the package ships (tsconfig.build.json) into dist/. npm runs it before
# `npm pack` and `npm publish`, and for `npm install git+…` (after installing the dev dependencies in its clone;
# `prepack` would not run there: pacote runs only `prepare` for git dependencies). A fresh clone has no node_modules,
# so the compiler is installed first from the lockfile. No build output means no package: any failure stops here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# npm also runs `prepare` after a plain `npm ci` in this checkout; scripts/bootstrap.sh compiles everything (tests
# included) right after its npm ci, so it asks to skip this one.
if [ -n "${PROXMOX_PODS_SKIP_PREPARE:-}" ]; then exit 0; fi
if [ ! -x node_modules/.bin/tsc ]; then
  echo "build-package: installing the build's dependencies (npm ci)" >&2
  # --ignore-scripts: nothing here needs install scripts, and they must not start another pack.
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
fi
echo "build-package: compiling tsconfig.build.json into dist/" >&2
node_modules/.bin/tsc -p tsconfig.build.json
# The schema fields' JSDoc into the declarations, where the SDK's Args types find it (see the script's header).
node scripts/carry-schema-docs.js tsconfig.build.json
for entry in dist/sdk/index.js dist/sdk/index.d.ts dist/provider/dynamic.js dist/emulator/index.js dist/cli/main.js; do
  [ -f "$entry" ] || { echo "build-package: $entry was not built" >&2; exit 1; }
done
