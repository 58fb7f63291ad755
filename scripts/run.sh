#!/usr/bin/env bash
# Entry point for `npm test`, `npm run demo` and `npm run bench:image`: bootstrap, then run.
set -euo pipefail
cmd="${1:?usage: run.sh test|demo|bench-image [args]}"; shift
case "$cmd" in
  test|bench-image) source "$(dirname "$0")/bootstrap.sh" --apt ;;
  demo) source "$(dirname "$0")/bootstrap.sh" --apt=demo ;;
  *) source "$(dirname "$0")/bootstrap.sh" ;;
esac
case "$cmd" in
  test) NODE_OPTIONS="--experimental-vm-modules ${NODE_OPTIONS:-}" exec npx jest "$@" ;;
  demo) exec node bin/proxmox-pods.js demo "$@" ;;
  bench-image) exec node dist/bench/image.js "$@" ;;
  *) echo "run.sh: unknown command $cmd" >&2; exit 2 ;;
esac
