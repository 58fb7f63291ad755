#!/usr/bin/env bash
# Idempotent set-up for a fresh clone: a current Node.js, npm dependencies, (with --apt) the Debian packages the
# tests use, and the Pulumi CLI with a Node.js language host. Sourced by scripts/run.sh; prints what it does.
# Usage: source scripts/bootstrap.sh [--apt | --apt=demo | --deps-only]   (--apt=demo: only the packages marked [demo];
#        --deps-only: Node.js and npm dependencies, nothing else, for `npm run lint`)
set -euo pipefail
PROXMOX_PODS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PROXMOX_PODS_ROOT
cd "$PROXMOX_PODS_ROOT"
tools="$PROXMOX_PODS_ROOT/.tools"
say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }
want_apt=0; apt_only=''; deps_only=0
for a in "$@"; do
  case "$a" in --apt) want_apt=1;; --apt=demo) want_apt=1; apt_only='[demo]';; --deps-only) deps_only=1;; esac
done

# 1. Node.js >= 22. The machine's Node may be older (Debian/bookworm images ship 20, past end of life): then install
#    Node 24 LTS from the npm registry (the `node` package carries the binary) into .tools and put it first on PATH.
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
local_node="$tools/node/node_modules/node/bin"
if [ -x "$local_node/node" ] && [ "$(node_major "$local_node/node")" -ge 22 ]; then
  export PATH="$local_node:$PATH"
elif command -v node >/dev/null && [ "$(node_major node)" -ge 22 ]; then
  :
else
  command -v npm >/dev/null || { echo "bootstrap: npm is required to install Node.js 24 (apt-get install npm)" >&2; exit 1; }
  say "installing Node.js 24 LTS into .tools/node (machine has $(node --version 2>/dev/null || echo no node))"
  mkdir -p "$tools/node"
  npm install --prefix "$tools/node" --no-save --no-audit --no-fund --loglevel=error node@24 >&2
  export PATH="$local_node:$PATH"
fi
say "node $(node --version) at $(command -v node)"

# 2. npm dependencies (npm ci when the lockfile changed since the last install).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)"
  PROXMOX_PODS_SKIP_PREPARE=1 npm ci --no-audit --no-fund --loglevel=error >&2  # step 5 compiles
fi
# The dynamic provider loads its implementation by package name (state stays small): make the package resolvable
# from this repository's own programs.
[ -e node_modules/proxmox-pods ] || ln -s .. node_modules/proxmox-pods

if [ "$deps_only" = 1 ]; then return 0 2>/dev/null || exit 0; fi

# 3. Debian packages for the tests (only the missing ones; apt-get update only when something is missing).
if [ "$want_apt" = 1 ]; then
  missing=()
  while read -r pkg rest; do
    case "$pkg" in ''|'#'*) continue;; esac
    [ -z "$apt_only" ] || [[ "$rest" == *"$apt_only"* ]] || continue
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done < scripts/apt-packages.txt
  if [ "${#missing[@]}" -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "bootstrap: missing Debian packages (${missing[*]}); run as root or install them" >&2; exit 1; }
    say "installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    # Packaged services (docker-registry on :5000, dnsmasq on :53) must not start: the tests run their own instances.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    rm -f /usr/sbin/policy-rc.d
  fi
fi

# 4. Pulumi CLI + Node.js language host + dynamic-provider plugin.
# The CLI matching the @pulumi/pulumi the lockfile installed (package.json allows ^3.276.0 so that a user's project
# shares one copy with this package).
pulumi_version="$(node -p "require('./node_modules/@pulumi/pulumi/package.json').version")"
if ! command -v pulumi >/dev/null || ! pulumi version 2>/dev/null | grep -q .; then
  if [ ! -x "$tools/pulumi/bin/pulumi" ] || ! "$tools/pulumi/bin/pulumi" version 2>/dev/null | grep -qx "v$pulumi_version"; then
    export PATH="$PATH:/usr/local/go/bin"
    say "building the Pulumi CLI v$pulumi_version from the Go module proxy into .tools/pulumi (once; several minutes)"
    bash scripts/build-pulumi.sh "$pulumi_version" >&2
  fi
  export PATH="$tools/pulumi/bin:$PATH"
fi
# Links are relative (to .tools/pulumi/bin), so the checkout can move; links an older bootstrap made absolute are
# replaced.
relink() { [ "$(readlink "$2" 2>/dev/null)" = "$1" ] || ln -sfn "$1" "$2"; }
if ! command -v pulumi-language-nodejs >/dev/null || [ -L "$tools/pulumi/bin/pulumi-language-nodejs" ]; then
  mkdir -p "$tools/pulumi/bin"
  relink ../../../scripts/langhost/pulumi-language-nodejs.js "$tools/pulumi/bin/pulumi-language-nodejs"
  relink ../../../scripts/langhost/pulumi-resource-pulumi-nodejs "$tools/pulumi/bin/pulumi-resource-pulumi-nodejs"
  export PATH="$tools/pulumi/bin:$PATH"
fi
# The CLI under its own name for `source scripts/env.sh` (npm links a package's bin only into its dependents).
mkdir -p "$tools/bin"
relink ../../bin/proxmox-pods.js "$tools/bin/proxmox-pods"
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
say "pulumi $(pulumi version) at $(command -v pulumi)"

# 5. Compile the TypeScript (incremental). tsc never removes an output whose source is gone, and jest runs every
# dist/test/**/*.test.js: a test moved or deleted in the sources would go on running (and failing) from dist/.
say "compiling TypeScript"
if [ -d dist/test ]; then
  find dist/test -name '*.test.js' -print0 | while IFS= read -r -d '' js; do
    src="${js#dist/}"
    if [ ! -e "${src%.js}.ts" ]; then
      say "removing $js: its source ${src%.js}.ts is gone"
      rm -f "$js" "${js%.js}.d.ts" "$js.map"
    fi
  done
fi
npx tsc -p tsconfig.json >&2
node scripts/carry-schema-docs.js tsconfig.build.json
