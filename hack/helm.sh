#!/usr/bin/env bash
# Builds Helm's CLI from its Go module (helm.sh/helm/v3) in a scratch module under the per-user
# cache, keyed by version, for the chart tests and dist/install.yaml. No Helm code lands in this
# repository. Idempotent: prints the path of the helm binary on stdout, progress on stderr; a
# second call with the binary present costs well under a second.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE_ROOT="${STELLAR_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stellar-operator}"
OUT="$CACHE_ROOT/helm-$HELM_VERSION"

log() { printf '[helm] %s\n' "$*" >&2; }

if [ -x "$OUT/helm" ]; then
  echo "$OUT/helm"
  exit 0
fi

export GOWORK=off GOFLAGS=-buildvcs=false GOTOOLCHAIN=local CGO_ENABLED=0
src="$CACHE_ROOT/src/helm-$HELM_VERSION"
rm -rf "$src" && mkdir -p "$src" "$OUT"
cd "$src"
go mod init stellar-operator.local/helm >/dev/null 2>&1
log "Resolving helm.sh/helm/v3 $HELM_VERSION"
go get "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
started=$(date +%s)
log "Compiling helm (cold: a few minutes on 2 cores)"
# Helm reports its version from these variables; without them `helm version` says v3.x-dev.
go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  -o "$OUT/helm.tmp" helm.sh/helm/v3/cmd/helm
mv "$OUT/helm.tmp" "$OUT/helm"
log "Built $OUT/helm in $(($(date +%s) - started)) s"
echo "$OUT/helm"
