#!/usr/bin/env bash
# The package the three ways a user installs it, from a fresh clone of this checkout's HEAD (what is committed):
#   1. `npm pack` in the clone builds dist/ itself (package.json `prepare`) and gives a tarball;
#   2. `npm install <tarball> @pulumi/pulumi` in an empty project;
#   3. `npm install git+file://<clone> @pulumi/pulumi` in another (npm installs the clone's dev dependencies and
#      runs `prepare` there, as for a GitHub URL).
# Each install must load the SDK, `proxmox-pods/provider` and `proxmox-pods/emulator`, run the CLI, and hold no
# tests, benchmarks or examples. Slow (two full npm installs): .ci/run runs it; `npm test` checks a tarball of the
# working tree (test/package/packed-package.test.ts). Usage: bash scripts/check-package.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# npm and the builds run on the checkout's Node when the machine's is older.
[ -x "$root/.tools/node/node_modules/node/bin/node" ] && export PATH="$root/.tools/node/node_modules/node/bin:$PATH"
work="$(mktemp -d "${TMPDIR:-/tmp}/proxmox-pods-check-package.XXXXXX")"
trap 'rm -rf "$work"' EXIT
say() { printf '\033[1;34m[check-package]\033[0m %s\n' "$*" >&2; }
npm_q() { npm --no-audit --no-fund --loglevel=error --update-notifier=false "$@"; }

git clone -q "$root" "$work/clone"
say "npm pack in a fresh clone of $(git -C "$work/clone" rev-parse --short HEAD)"
(cd "$work/clone" && npm_q pack --pack-destination "$work" >/dev/null)
tarball="$(ls "$work"/proxmox-pods-*.tgz)"
listing="$(tar -tzf "$tarball")"  # whole, first: `tar | grep -q` would end tar early (SIGPIPE under pipefail)
if grep -E '^package/(dist/(test|bench|examples)/|dist/index\.|test/|bench/|examples/|.*\.map$)' <<<"$listing"; then
  echo "check-package: the tarball holds files that do not run (above)" >&2; exit 1
fi
for entry in dist/sdk/index.js dist/sdk/index.d.ts dist/provider/dynamic.js bin/proxmox-pods.js; do
  grep -qx "package/$entry" <<<"$listing" || { echo "check-package: the tarball has no $entry" >&2; exit 1; }
done

check_install() { # <name> <what to npm install>
  local project="$work/$1"
  mkdir -p "$project"
  printf '{"name":"my-infra-%s","version":"1.0.0","private":true}\n' "$1" > "$project/package.json"
  say "npm install $2 @pulumi/pulumi"
  (cd "$project" && npm_q install "$2" @pulumi/pulumi)
  (cd "$project" && node -e '
    const sdk = require("proxmox-pods"), provider = require("proxmox-pods/provider"), emulator = require("proxmox-pods/emulator");
    if (typeof sdk.Pod !== "function" || typeof provider.handler !== "function" || typeof emulator.startEmulator !== "function") throw new Error("entry points missing");
    const fs = require("fs"), path = require("path"), dist = path.join(path.dirname(require.resolve("proxmox-pods/package.json")), "dist");
    const extra = fs.readdirSync(dist).filter((d) => !["sdk", "provider", "emulator", "cli"].includes(d));
    if (extra.length) throw new Error("dist/ holds " + extra.join(", "));')
  (cd "$project" && node_modules/.bin/proxmox-pods help >/dev/null)
  say "$1: SDK, provider, emulator and CLI load"
}
check_install tarball "$tarball"
check_install git "git+file://$work/clone"
say "ok"
