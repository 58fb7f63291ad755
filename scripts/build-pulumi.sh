#!/usr/bin/env bash
# Builds the Pulumi CLI that matches the pinned @pulumi/pulumi version from the Go module proxy
# into .tools/pulumi/bin. `go install .../pkg/v3/cmd/pulumi@vX` refuses (the module has replace
# directives), so we generate a tiny module that requires pkg/v3 and sdk/v3 at the same version and
# carries over pkg's non-local replaces.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${1:-$(node -p "require('$root/package.json').dependencies['@pulumi/pulumi'].replace(/^[^0-9]*/, '')")}"
out="$root/.tools/pulumi/bin"
if [ -x "$out/pulumi" ] && "$out/pulumi" version 2>/dev/null | grep -qx "v$version"; then
  echo "pulumi v$version already built at $out/pulumi"; exit 0
fi
command -v go >/dev/null || { echo "build-pulumi: Go is required to build the Pulumi CLI (install golang or put pulumi on PATH)" >&2; exit 1; }
work="$root/.tools/pulumi/build"
rm -rf "$work"; mkdir -p "$work" "$out"
cd "$work"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
echo "build-pulumi: fetching github.com/pulumi/pulumi/pkg/v3@v$version go.mod"
go mod download -json "github.com/pulumi/pulumi/pkg/v3@v$version" > pkg.json
gomod="$(node -p "require('./pkg.json').GoMod")"
cat > go.mod <<MOD
module proxmox-pods.local/pulumi-build

go 1.26

require (
	github.com/pulumi/pulumi/pkg/v3 v$version
	github.com/pulumi/pulumi/sdk/v3 v$version
)
MOD
# carry over every replace that points at another module (not at a local path)
grep -E '^replace [^ ]+ => [^.][^ ]* v' "$gomod" >> go.mod || true
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
GO
echo "build-pulumi: resolving dependencies"
go mod tidy
echo "build-pulumi: compiling pulumi v$version (takes several minutes on a cold cache)"
go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version" \
  -o "$out/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
"$out/pulumi" version
