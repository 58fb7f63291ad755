#!/usr/bin/env bash
# Entry point for `npm test`, `npm run demo`, `npm run bench:image` and `npm run lint`: bootstrap, then run.
set -euo pipefail
cmd="${1:?usage: run.sh test|demo|bench-image|lint [args]}"; shift
case "$cmd" in
  test|bench-image) source "$(dirname "$0")/bootstrap.sh" --apt ;;
  lint) source "$(dirname "$0")/bootstrap.sh" --deps-only ;;
  demo) source "$(dirname "$0")/bootstrap.sh" --apt=demo ;;
  *) source "$(dirname "$0")/bootstrap.sh" ;;
esac
case "$cmd" in
  test) NODE_OPTIONS="--experimental-vm-modules ${NODE_OPTIONS:-}" exec npx jest "$@" ;;
  demo) exec node bin/proxmox-pods.js demo "$@" ;;
  bench-image) exec node dist/bench/image.js "$@" ;;
  # ESLint over every source file, then the whitespace rules of .editorconfig (scripts/check-format.js).
  lint) npx eslint --max-warnings 0 "${@:-.}" && exec node scripts/check-format.js ;;
  *) echo "run.sh: unknown command $cmd" >&2; exit 2 ;;
esac
