#!/usr/bin/env bash
# Prepares the tools of the anycast end-to-end test (test/e2e):
#   - FRR (bgpd/zebra/vtysh), socat and iproute2 from Debian, installed only when missing;
#   - MetalLB's speaker, built from the Go module proxy in a scratch module under the per-user
#     cache (no MetalLB code lands in this repository). v0.15.2 is the newest release the proxy
#     can build: v0.16.x needs github.com/metallb/frr-k8s v0.0.27, which it does not serve, and
#     v0.15.2's own frr-k8s v0.0.20 is missing too, so the scratch module requires v0.0.21.
# Idempotent: prints the directory holding the speaker binary on stdout, progress on stderr.
# A second call with everything present costs well under a second.
set -euo pipefail

METALLB_VERSION="${METALLB_VERSION:-v0.15.2}"
FRRK8S_VERSION="${FRRK8S_VERSION:-v0.0.21}"
CACHE_ROOT="${STELLAR_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stellar-operator}"
OUT="$CACHE_ROOT/metallb-speaker-$METALLB_VERSION"

log() { printf '[e2e-tools] %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------------------------
missing=()
command -v vtysh >/dev/null 2>&1 && [ -x /usr/lib/frr/bgpd ] && [ -x /usr/lib/frr/zebra ] || missing+=(frr)
command -v socat >/dev/null 2>&1 || missing+=(socat)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing packages: ${missing[*]} (run this script as root, or: apt-get install -y ${missing[*]})"
    exit 1
  fi
  log "Installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y --no-install-recommends "${missing[@]}" >&2
  # Debian's package may start the system-wide FRR service: the tests run their own instances
  # under private pathspaces and do not need it.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet frr 2>/dev/null; then
    systemctl stop frr >&2 || true
  fi
fi

# --- MetalLB speaker -------------------------------------------------------------------------
if [ -x "$OUT/speaker" ]; then
  echo "$OUT"
  exit 0
fi

export GOWORK=off GOFLAGS=-buildvcs=false GOTOOLCHAIN=local CGO_ENABLED=0
src="$CACHE_ROOT/src/metallb-speaker-$METALLB_VERSION"
rm -rf "$src" && mkdir -p "$src" "$OUT"
cd "$src"
go mod init stellar-operator.local/metallb-speaker >/dev/null 2>&1
log "Resolving go.universe.tf/metallb $METALLB_VERSION with github.com/metallb/frr-k8s $FRRK8S_VERSION"
# The speaker is a main package of the metallb module: `go get` only records the requirements.
# Pin both in one `go get`: a bare `go get go.universe.tf/metallb/speaker` would upgrade metallb.
go get "go.universe.tf/metallb/speaker@$METALLB_VERSION" "github.com/metallb/frr-k8s@$FRRK8S_VERSION" >&2
started=$(date +%s)
log "Compiling the speaker (cold: a few minutes on 2 cores)"
go build -trimpath -o "$OUT/speaker.tmp" go.universe.tf/metallb/speaker
mv "$OUT/speaker.tmp" "$OUT/speaker"
log "Built $OUT/speaker in $(($(date +%s) - started)) s"
echo "$OUT"
