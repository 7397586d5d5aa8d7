# stellar-operator — every target works on a fresh machine (Go from the module proxy only).
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
export GOTOOLCHAIN := local

BIN := $(CURDIR)/bin
CONTROLLER_GEN := $(BIN)/controller-gen

.PHONY: all build generate verify-generated test test-e2e bench-reconcile run run-local k8s-binaries fmt vet bench

all: build

$(CONTROLLER_GEN): hack/tools/go.mod hack/tools/go.sum
	cd hack/tools && go build -o $(CONTROLLER_GEN) sigs.k8s.io/controller-tools/cmd/controller-gen

## generate: deepcopy, CRDs and RBAC from the Go markers.
generate: $(CONTROLLER_GEN)
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...
	$(CONTROLLER_GEN) crd:maxDescLen=512 paths=./api/... output:crd:dir=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=stellar-operator paths=./internal/controller/... output:rbac:dir=config/rbac

## verify-generated: fails when a generated file is stale.
verify-generated: generate
	@if [ -n "$$(git status --porcelain -- api config/crd config/rbac/role.yaml)" ]; then \
	  echo "Generated files are stale; run 'make generate' and commit:"; git status --porcelain -- api config; git diff --stat -- api config; exit 1; fi

build:
	go build -o $(BIN)/stellar-operator ./cmd/stellar-operator
	go build -o $(BIN)/kubectl-stellar ./cmd/kubectl-stellar

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
	@rc=0; KUBEBUILDER_ASSETS="$$(hack/k8s-binaries.sh)" go test -count=1 -timeout 20m -v ./... > .local/test.log 2>&1 || rc=$$?; \
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

## run: the operator against the cluster of the current kubeconfig; with none, the embedded local
## control plane (its binaries are built on first use, with progress).
run: build
	$(BIN)/stellar-operator run

## run-local: an embedded control plane with our CRDs, the operator, and examples/ applied.
run-local: build
	KUBEBUILDER_ASSETS="$$(hack/k8s-binaries.sh)" $(BIN)/stellar-operator local --examples examples
