# Puts this checkout's tools first on PATH in the current shell: the Node.js >= 22 the bootstrap installed (when the
# machine's is older), the Pulumi CLI and its Node.js language host, `proxmox-pods`, and node_modules/.bin (tsc).
#   source scripts/env.sh
# On a fresh clone it runs the bootstrap first (in a child process: the bootstrap's `set -e` must not reach an
# interactive shell). Sourced, so no `set -e` and no `exit` here either: a failure returns and leaves PATH alone.
_pp_env() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)" || return 1
  local tools="$root/.tools"
  if [ ! -f "$root/node_modules/.package-lock.json" ] || [ ! -f "$root/dist/cli/main.js" ] || [ ! -e "$tools/bin/proxmox-pods" ] ||
     { ! command -v pulumi >/dev/null && [ ! -x "$tools/pulumi/bin/pulumi" ]; }; then
    echo "env.sh: bootstrapping this checkout first (scripts/bootstrap.sh)" >&2
    bash "$root/scripts/bootstrap.sh" || { echo "env.sh: the bootstrap failed; PATH is unchanged" >&2; return 1; }
  fi
  local dir
  for dir in "$root/node_modules/.bin" "$tools/pulumi/bin" "$tools/bin" "$tools/node/node_modules/node/bin"; do
    [ -d "$dir" ] || continue
    case ":$PATH:" in *":$dir:"*) ;; *) PATH="$dir:$PATH" ;; esac
  done
  export PATH
  # The dynamic-provider plugin (scripts/langhost) resolves @pulumi/pulumi from here when a program's own
  # node_modules has none.
  export PROXMOX_PODS_ROOT="$root"
  export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  echo "env.sh: node $(node --version) ($(command -v node)), pulumi $(pulumi version 2>/dev/null || echo 'not found'), proxmox-pods ($(command -v proxmox-pods))" >&2
}
_pp_env
_pp_status=$?
unset -f _pp_env
return "$_pp_status" 2>/dev/null || true
