# stellar-operator — every target works on a fresh machine (Go from the module proxy only).
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
export GOTOOLCHAIN := local

BIN := $(CURDIR)/bin
CONTROLLER_GEN := $(BIN)/controller-gen

# The operator's version is the Helm chart's appVersion: the default image tag everywhere.
VERSION ?= $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' charts/stellar-operator/Chart.yaml)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# Image timestamps are the commit's, so two builds of one commit are byte-identical.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
IMAGE_REPOSITORY ?= ghcr.io/stellar-operator/stellar-operator
LDFLAGS := -X github.com/stellar-operator/stellar-operator/internal/buildinfo.version=$(VERSION) -X github.com/stellar-operator/stellar-operator/internal/buildinfo.commit=$(REVISION)

.PHONY: all build generate verify-generated test test-e2e bench-reconcile bench-fleet bench-fleet-ci run run-local k8s-binaries fmt vet bench image helm

all: build

$(CONTROLLER_GEN): hack/tools/go.mod hack/tools/go.sum
	cd hack/tools && go build -o $(CONTROLLER_GEN) sigs.k8s.io/controller-tools/cmd/controller-gen

## generate: deepcopy, CRDs and RBAC from the Go markers.
generate: $(CONTROLLER_GEN)
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...
	$(CONTROLLER_GEN) crd:maxDescLen=512 paths=./api/... output:crd:dir=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=stellar-operator paths=./internal/controller/... output:rbac:dir=config/rbac
	@hack/generate-install.sh

## verify-generated: fails when a generated file is stale.
verify-generated: generate
	@if [ -n "$$(git status --porcelain -- api config/crd config/rbac/role.yaml charts/stellar-operator/crds charts/stellar-operator/files dist)" ]; then \
	  echo "Generated files are stale; run 'make generate' and commit:"; git status --porcelain -- api config charts dist; git diff --stat -- api config charts dist; exit 1; fi

build:
	go build -ldflags "$(LDFLAGS)" -o $(BIN)/stellar-operator ./cmd/stellar-operator
	go build -ldflags "$(LDFLAGS)" -o $(BIN)/kubectl-stellar ./cmd/kubectl-stellar

## image: the operator image for linux/amd64 and linux/arm64 without a container engine, as an OCI
## layout (build/image/oci) and archive (build/image/stellar-operator-$(VERSION).oci.tar).
image:
	go run ./hack/image --repository $(IMAGE_REPOSITORY) --version $(VERSION) --revision $(REVISION) \
	  --source-date-epoch $(SOURCE_DATE_EPOCH) --out build/image

## helm: builds Helm from its Go module into ~/.cache (slow the first time) and prints its path.
helm:
	@hack/helm.sh

## k8s-binaries: builds kube-apiserver and etcd from Go modules into ~/.cache (slow the first time).
k8s-binaries:
	@hack/k8s-binaries.sh >/dev/null

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

vet:
	go vet ./...

## test: everything CI runs — generated files fresh, vet, unit tests, envtest suites on a real apiserver.
## The full verbose log goes to .local/test.log; the console shows each test and package result.
test: verify-generated fmt vet
	@mkdir -p .local
	@rc=0; export KUBEBUILDER_ASSETS="$$(hack/k8s-binaries.sh)" HELM="$$(hack/helm.sh)"; \
	  go test -count=1 -timeout 20m -v ./... > .local/test.log 2>&1 || rc=$$?; \
	  (cd test/monitoring && go vet ./... && go test -count=1 -timeout 10m -v ./...) >> .local/test.log 2>&1 || rc=$$?; \
	  grep -E '^(--- (PASS|FAIL|SKIP)|ok |FAIL|PASS$$|SKIP|Started a real kube-apiserver)' .local/test.log || true; \
	  if [ $$rc -ne 0 ]; then echo "== failures (full log: .local/test.log)"; grep -B2 -A25 -E '^(--- FAIL|FAIL|panic:)' .local/test.log | head -300; fi; \
	  exit $$rc

## test-e2e: anycast end to end — real MetalLB speakers and FRR in network namespaces (root).
test-e2e:
	@hack/e2e-tools.sh >/dev/null
	KUBEBUILDER_ASSETS="$$(hack/k8s-binaries.sh)" go test -tags e2e -count=1 -timeout 30m -v ./test/e2e/

## bench-reconcile: what skipping unchanged applies saves, against a real apiserver.
bench-reconcile:
	KUBEBUILDER_ASSETS="$$(hack/k8s-binaries.sh)" go test -run '^$$' -bench . -benchtime 200x ./internal/controller/

bench:
	go test -run '^$$' -bench . -benchmem ./internal/...

## bench-fleet: the operator, as a separate process under its shipped RBAC, on a fleet of N
## StellarNodes (default 100), against a plain server-side-apply client for the same objects in the
## same run (docs/fleet-benchmark.md). BENCH_FLEET_ARGS adds flags, e.g. --operator-args="--workers=8".
N ?= 100
bench-fleet:
	go build -o $(BIN)/bench-fleet ./hack/bench-fleet
	KUBEBUILDER_ASSETS="$$(hack/k8s-binaries.sh)" $(BIN)/bench-fleet --nodes $(N) $(BENCH_FLEET_ARGS)

## bench-fleet-ci: a small fleet with short windows (about 3 minutes), so the benchmark cannot rot.
bench-fleet-ci:
	go build -o $(BIN)/bench-fleet ./hack/bench-fleet
	KUBEBUILDER_ASSETS="$$(hack/k8s-binaries.sh)" $(BIN)/bench-fleet --nodes 50 --steady 10s --moving 5 $(BENCH_FLEET_ARGS)

## run: the operator against the cluster of the current kubeconfig; with none, the embedded local
## control plane (its binaries are built on first use, with progress).
run: build
	$(BIN)/stellar-operator run

## run-local: an embedded control plane with our CRDs, the operator, and examples/ applied.
run-local: build
	KUBEBUILDER_ASSETS="$$(hack/k8s-binaries.sh)" $(BIN)/stellar-operator local --examples examples
