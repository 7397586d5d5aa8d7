#!/usr/bin/env bash
# Prepares the tools of the anycast end-to-end test (test/e2e):
#   - from Debian, installed only when missing: FRR (zebra, bgpd, bfdd, staticd, vtysh) with
#     frr-pythontools (frr-reload.py, which the per-region reloader calls), socat, iproute2,
#     nftables (cuts a region's link in the node-death test);
#   - MetalLB's speaker and controller, frr-k8s' daemon and status exporter, built from the Go module proxy in one
#     scratch module under the per-user cache (no MetalLB or frr-k8s code lands in this repository).
#     MetalLB v0.15.2 is the newest release the proxy can build (v0.16.x needs frr-k8s v0.0.27,
#     which it does not serve); frr-k8s v0.0.20 is the version v0.15.2 requires (served although
#     the proxy does not list it);
#   - kube-controller-manager, through hack/k8s-binaries.sh --controller-manager;
#   - frr-k8s' CRDs, copied from its module next to its binaries, so the tests need not resolve a
#     module the project does not require.
# Idempotent: prints the cache root on stdout, progress on stderr. A second call with everything
# present costs well under a second.
set -euo pipefail

METALLB_VERSION="${METALLB_VERSION:-v0.15.2}"
FRRK8S_VERSION="${FRRK8S_VERSION:-v0.0.20}"
CACHE_ROOT="${STELLAR_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stellar-operator}"
MLB="$CACHE_ROOT/metallb-$METALLB_VERSION"
FRK="$CACHE_ROOT/frr-k8s-$FRRK8S_VERSION"

log() { printf '[e2e-tools] %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------------------------
missing=()
have_frr() {
  command -v vtysh >/dev/null 2>&1 || return 1
  local d
  for d in bgpd zebra bfdd staticd; do [ -x "/usr/lib/frr/$d" ] || return 1; done
}
have_frr || missing+=(frr)
[ -x /usr/lib/frr/frr-reload.py ] && command -v python3 >/dev/null 2>&1 || missing+=(frr-pythontools python3)
command -v socat >/dev/null 2>&1 || missing+=(socat)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v nft >/dev/null 2>&1 || missing+=(nftables)
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

# --- kube-controller-manager (garbage collector, endpointslice and namespace controllers) ------
# Built next to kube-apiserver, from the same k8s.io/kubernetes version.
"$(dirname "$0")/k8s-binaries.sh" --controller-manager >/dev/null

# --- MetalLB speaker + controller, frr-k8s daemon ----------------------------------------------
if [ -x "$MLB/speaker" ] && [ -x "$MLB/controller" ] && [ -x "$FRK/frr-k8s" ] && [ -x "$FRK/frr-status" ] &&
  [ -d "$FRK/crds" ]; then
  echo "$CACHE_ROOT"
  exit 0
fi

export GOWORK=off GOFLAGS=-buildvcs=false GOTOOLCHAIN=local CGO_ENABLED=0
src="$CACHE_ROOT/src/metallb-$METALLB_VERSION-frr-k8s-$FRRK8S_VERSION"
mkdir -p "$MLB" "$FRK"
if [ ! -f "$src/go.sum" ]; then
  rm -rf "$src" && mkdir -p "$src"
  (cd "$src" && go mod init stellar-operator.local/metallb-e2e >/dev/null 2>&1)
  log "Resolving go.universe.tf/metallb $METALLB_VERSION with github.com/metallb/frr-k8s $FRRK8S_VERSION"
  # The binaries are main packages of their modules: `go get` only records the requirements.
  # Pin both in one `go get`: a bare `go get go.universe.tf/metallb/speaker` would upgrade metallb.
  (cd "$src" && go get "go.universe.tf/metallb/speaker@$METALLB_VERSION" "go.universe.tf/metallb/controller@$METALLB_VERSION" \
    "github.com/metallb/frr-k8s/cmd@$FRRK8S_VERSION" >&2)
fi
cd "$src"
build() { # build <package> <output>
  [ -x "$2" ] && return 0
  local started; started=$(date +%s)
  log "Compiling $1 (cold: a few minutes on 2 cores)"
  go build -trimpath -ldflags "-s -w" -o "$2.tmp" "$1"
  mv "$2.tmp" "$2"
  log "Built $2 in $(($(date +%s) - started)) s"
}
# Together they share one build cache: the second and third are mostly linking.
build go.universe.tf/metallb/speaker "$MLB/speaker"
build go.universe.tf/metallb/controller "$MLB/controller"
build github.com/metallb/frr-k8s/cmd "$FRK/frr-k8s"
# frr-k8s' status exporter writes the BGPSessionState objects (a container of its own in the
# DaemonSet): the operator reads them.
build github.com/metallb/frr-k8s/frr-tools/status "$FRK/frr-status"
dir=$(go list -m -f '{{.Dir}}' github.com/metallb/frr-k8s)
rm -rf "$FRK/crds.tmp" && mkdir -p "$FRK/crds.tmp"
cp "$dir"/config/crd/bases/*.yaml "$FRK/crds.tmp/"
rm -rf "$FRK/crds" && mv "$FRK/crds.tmp" "$FRK/crds"
echo "$CACHE_ROOT"
