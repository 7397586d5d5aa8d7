#!/usr/bin/env bash
# Builds the real control plane used by the tests and by `make run-local`:
# kube-apiserver from k8s.io/kubernetes and etcd from go.etcd.io/etcd/server/v3,
# both from the Go module proxy, into a per-user cache keyed by version.
# With --controller-manager it also builds kube-controller-manager from the same
# k8s.io/kubernetes version (same scratch module and flags): the e2e runs its garbage collector
# and endpointslice controllers (internal/controlplane.StartControllerManager).
# Prints the directory holding the binaries (usable as KUBEBUILDER_ASSETS) on stdout;
# progress goes to stderr. A second call with the binaries present costs well under a second.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"
CACHE_ROOT="${STELLAR_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stellar-operator}"
OUT="$CACHE_ROOT/k8s${K8S_VERSION#v}-etcd${ETCD_VERSION#v}"

log() { printf '[k8s-binaries] %s\n' "$*" >&2; }

WITH_KCM=false
case "${1:-}" in
  --controller-manager) WITH_KCM=true ;;
  "") ;;
  *) log "unknown argument $1 (only --controller-manager)"; exit 2 ;;
esac

built() { [ -x "$OUT/$1" ] && "$OUT/$1" --version 2>/dev/null | grep -qx "Kubernetes $K8S_VERSION"; }

if [ -x "$OUT/etcd" ] && built kube-apiserver && { [ "$WITH_KCM" = false ] || built kube-controller-manager; }; then
  echo "$OUT"
  exit 0
fi

export GOWORK=off GOFLAGS=-buildvcs=false GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$OUT" "$CACHE_ROOT/src"
started=$(date +%s)

# k8s_module makes the scratch module that requires k8s.io/kubernetes (fresh when fresh=true, else
# reused when present) and resolves the command $1 in it.
k8s_module() {
  local cmd="$1" fresh="$2"
  local dir="$CACHE_ROOT/src/kube-apiserver-$K8S_VERSION"
  local staging="v0.${K8S_VERSION#v1.}"
  if [ "$fresh" = true ] || [ ! -f "$dir/go.mod" ]; then
    rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
    go mod init stellar-operator.local/kube-apiserver >/dev/null 2>&1
    log "Downloading k8s.io/kubernetes $K8S_VERSION (first time: several minutes)"
    local gomod
    gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
    # kubernetes' own go.mod points every staging module at ./staging, which its module zip lacks:
    # point each one at its published version instead.
    grep -E '^[[:space:]]*k8s\.io/[^ ]+ => \./staging/' "$gomod" | awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}' >>go.mod
    log "Resolving $(grep -c '^replace' go.mod) staging modules at $staging"
  fi
  cd "$dir"
  go get "k8s.io/kubernetes/cmd/$cmd@$K8S_VERSION" >&2
}

# k8s_build compiles k8s.io/kubernetes/cmd/$1 with the version stamped in.
k8s_build() {
  local cmd="$1"
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local date; date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  local flags=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done
  local started; started=$(date +%s)
  go build -trimpath -ldflags "-s -w$flags" -o "$OUT/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
  mv "$OUT/$cmd.tmp" "$OUT/$cmd"
  log "Built $cmd in $(($(date +%s) - started)) s"
}

build_apiserver() {
  k8s_module kube-apiserver true
  log "Compiling kube-apiserver $K8S_VERSION (cold: ~10-18 min on 2 cores)"
  k8s_build kube-apiserver
}

build_controller_manager() {
  k8s_module kube-controller-manager false
  log "Compiling kube-controller-manager $K8S_VERSION (cold: several minutes more on top of kube-apiserver's build cache)"
  k8s_build kube-controller-manager
}

build_etcd() {
  local dir="$CACHE_ROOT/src/etcd-$ETCD_VERSION"
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
  go mod init stellar-operator.local/etcd >/dev/null 2>&1
  cat >main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  log "Downloading etcd $ETCD_VERSION"
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
  go mod tidy >&2
  log "Compiling etcd $ETCD_VERSION (cold: ~2-3 min)"
  go build -trimpath -ldflags "-s -w" -o "$OUT/etcd.tmp" .
  mv "$OUT/etcd.tmp" "$OUT/etcd"
}

[ -x "$OUT/etcd" ] || (build_etcd)
built kube-apiserver || (build_apiserver)
if [ "$WITH_KCM" = true ]; then
  built kube-controller-manager || (build_controller_manager)
fi
log "Done in $(($(date +%s) - started)) s: $OUT"
echo "$OUT"
