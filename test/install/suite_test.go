// Package install tests the install paths as a user takes them: the Helm chart linted and
// rendered by Helm itself (built from its Go module by hack/helm.sh), dist/install.yaml and the
// chart's output created on a real kube-apiserver with Prometheus Operator's own CRDs, and the
// kustomize bases and README kept consistent with the chart.
package install

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/stellar-operator/stellar-operator/config"
	"github.com/stellar-operator/stellar-operator/internal/controlplane"
)

const (
	chartDir = "../../charts/stellar-operator"
	// promOperatorModule holds Prometheus Operator's CRDs (example/prometheus-operator-crd); the
	// newest version of its root module the module proxy serves.
	promOperatorModule = "github.com/prometheus-operator/prometheus-operator@v0.85.0"
)

// apiserver is the suite's real kube-apiserver, without the operator's CRDs: the tests install
// them from the chart. Nil when the suite is skipped.
var apiserver *controlplane.ControlPlane

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	crds, err := prometheusOperatorCRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: Prometheus Operator's CRDs:", err)
		os.Exit(1)
	}
	os.Exit(controlplane.RunTests(m, controlplane.Options{WithoutOperatorCRDs: true, ExtraCRDs: crds}, func(cp *controlplane.ControlPlane) (func(), error) {
		apiserver = cp
		return func() {}, nil
	}))
}

// prometheusOperatorCRDs reads the CRDs from Prometheus Operator's module, through the module
// cache (downloaded on first use; .ci/run downloads it up front).
func prometheusOperatorCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	cmd := exec.Command("go", "mod", "download", "-json", promOperatorModule)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go mod download %s: %w", promOperatorModule, err)
	}
	var dir string
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), `"Dir": "`); ok {
			dir = strings.TrimSuffix(strings.TrimSuffix(v, ","), `"`)
		}
	}
	if dir == "" {
		return nil, fmt.Errorf("no directory for %s", promOperatorModule)
	}
	return config.ReadCRDs(os.DirFS(dir), "example/prometheus-operator-crd")
}

// helmBinary is $HELM (make test sets it from hack/helm.sh). Without it the Helm tests skip
// locally and fail in CI.
func helmBinary(t *testing.T) string {
	t.Helper()
	helm := os.Getenv("HELM")
	if helm == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("$HELM is not set: run the tests through `make test` (it builds Helm with hack/helm.sh)")
		}
		t.Skip("$HELM is not set: `make test` builds Helm with hack/helm.sh and sets it")
	}
	return helm
}

// helm runs the helm binary and returns its stdout; stderr goes into the error.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helmBinary(t), args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// decode splits a multi-document YAML stream into objects, skipping empty documents.
func decode(t *testing.T, manifests string) []*unstructured.Unstructured {
	t.Helper()
	decoder := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifests), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := decoder.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("decoding manifests: %v", err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			return o
		}
	}
	return nil
}
