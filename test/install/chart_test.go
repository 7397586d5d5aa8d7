package install

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// variant is one way of installing the chart.
type variant struct {
	name, release, namespace string
	args                     []string
}

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var (
	// edge turns every value away from its default.
	edge = variant{name: "every value changed", release: "edge", namespace: "edge-system", args: []string{
		"--set", "metallb.namespace=metallb", "--set", "metallb.bgpMode=native",
		"--set", "image.repository=registry.example.org/stellar/operator", "--set", "image.digest=" + testDigest,
		"--set", "leaderElection.enabled=false", "--set", "replicas=1",
		"--set", "extraArgs={--zap-log-level=debug,--external-dns-prefix=external-dns.alpha.kubernetes.io/}",
		"--set", "monitoring.enabled=true", "--set", "monitoring.labels.release=prometheus", "--set", "grafanaDashboard.enabled=true",
		"--set", "nodeSelector.kubernetes\\.io/os=linux", "--set", "healthSidecarImage=registry.example.org/stellar/operator:pinned",
	}}
	// auto leaves monitoring on auto in a cluster that serves monitoring.coreos.com/v1.
	auto = variant{name: "Prometheus Operator present", release: "auto", namespace: "auto-system", args: []string{"--api-versions", "monitoring.coreos.com/v1"}}
)

func (v variant) template(t *testing.T) (string, error) {
	return helm(t, append([]string{"template", v.release, chartDir, "--namespace", v.namespace}, v.args...)...)
}

func TestHelmLintsTheChart(t *testing.T) {
	// helm lint cannot be told which APIs a cluster serves: force monitoring instead.
	forced := variant{name: "monitoring forced", args: []string{"--set", "monitoring.enabled=true"}}
	for _, v := range []variant{{name: "defaults"}, edge, forced} {
		t.Run(v.name, func(t *testing.T) {
			args := append([]string{"lint", "--strict", chartDir}, v.args...)
			if out, err := helm(t, args...); err != nil || !strings.Contains(out, "0 chart(s) failed") {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

// Bad values stop at the chart's schema with an error naming the value, before anything is applied.
func TestTheValuesSchemaRejectsBadValues(t *testing.T) {
	for _, tc := range []struct{ set, mentions string }{
		{"metallb.bgpMode=bgp", "bgpMode"},
		{"replicas=-1", "replicas"},
		{"image.digest=latest", "digest"},
		{"monitoring.enabled=sometimes", "enabled"},
		{"metrics.port=8081", "port"},
		{"leaderElect=true", "leaderElect"},
		{"leaderElection.enabled=false", "leaderElection.enabled=true"},
	} {
		t.Run(tc.set, func(t *testing.T) {
			_, err := helm(t, "template", "x", chartDir, "--set", tc.set)
			if err == nil || !strings.Contains(err.Error(), tc.mentions) {
				t.Fatalf("helm template --set %s: %v; want an error naming %s", tc.set, err, tc.mentions)
			}
		})
	}
}

// dist/install.yaml is the chart's default render after a Namespace, and a real apiserver
// creates every object in it.
func TestDistInstallYAMLIsCreatedOnARealAPIServer(t *testing.T) {
	dist, err := os.ReadFile("../../dist/install.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := helm(t, "template", "stellar-operator", chartDir, "--namespace", "stellar-system", "--include-crds")
	if err != nil {
		t.Fatal(err)
	}
	objs := decode(t, string(dist))
	if got, want := objs[1:], decode(t, rendered); !reflect.DeepEqual(got, want) {
		t.Fatal("dist/install.yaml is not the chart's default render: run `make generate`")
	}
	if ns := objs[0]; ns.GetKind() != "Namespace" || ns.GetName() != "stellar-system" {
		t.Fatalf("dist/install.yaml starts with %s %s, want Namespace stellar-system", ns.GetKind(), ns.GetName())
	}
	for _, kind := range []string{"CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "Service"} {
		if find(objs, kind, "") == nil {
			t.Errorf("dist/install.yaml has no %s", kind)
		}
	}
	if find(objs, "ServiceMonitor", "") != nil {
		t.Error("the default render must not need Prometheus Operator")
	}
	create(t, objs)
	dep := find(objs, "Deployment", "stellar-operator")
	container := containers(t, dep)[0]
	if container["image"] != "ghcr.io/stellar-operator/stellar-operator:0.1.0" || envValue(container, "OPERATOR_IMAGE") != container["image"] {
		t.Errorf("the operator runs %v with OPERATOR_IMAGE %q", container["image"], envValue(container, "OPERATOR_IMAGE"))
	}
}

func TestChartVariantsAreCreatedOnARealAPIServer(t *testing.T) {
	for _, v := range []variant{edge, auto} {
		t.Run(v.name, func(t *testing.T) {
			out, err := v.template(t)
			if err != nil {
				t.Fatal(err)
			}
			objs := decode(t, out)
			ns := &unstructured.Unstructured{}
			ns.SetAPIVersion("v1")
			ns.SetKind("Namespace")
			ns.SetName(v.namespace)
			ns.SetLabels(map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
			create(t, append([]*unstructured.Unstructured{ns}, objs...))
			for _, kind := range []string{"ServiceMonitor", "PodMonitor", "PrometheusRule"} {
				if find(objs, kind, "") == nil {
					t.Errorf("no %s rendered", kind)
				}
			}
		})
	}
	out, err := edge.template(t)
	if err != nil {
		t.Fatal(err)
	}
	objs := decode(t, out)
	c := containers(t, find(objs, "Deployment", "edge-stellar-operator"))[0]
	image := "registry.example.org/stellar/operator@" + testDigest
	args, _ := c["args"].([]any)
	for _, want := range []string{"--metallb-namespace=metallb", "--metallb-bgp-mode=native", "--leader-elect=false", "--zap-log-level=debug",
		"--external-dns-prefix=external-dns.alpha.kubernetes.io/", "--operator-image=registry.example.org/stellar/operator:pinned"} {
		if !slices.Contains(args, any(want)) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	if c["image"] != image || envValue(c, "OPERATOR_IMAGE") != image {
		t.Errorf("image %v, OPERATOR_IMAGE %q; want both %s", c["image"], envValue(c, "OPERATOR_IMAGE"), image)
	}
	if find(objs, "Role", "") != nil {
		t.Error("without leader election the chart needs no Role")
	}
	if sm := find(objs, "ServiceMonitor", ""); sm == nil || sm.GetLabels()["release"] != "prometheus" {
		t.Error("monitoring.labels must reach the ServiceMonitor")
	}
	if cm := find(objs, "ConfigMap", "edge-stellar-operator-dashboard"); cm == nil || cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Error("grafanaDashboard.enabled must ship the dashboard for Grafana's sidecar")
	}
}

// create creates every object as a user's kubectl would (CRDs and Namespaces first, waiting for
// CRDs to be served), and fails on any warning the apiserver sends, such as a Pod Security
// violation of a workload's pod template.
func create(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	if apiserver == nil {
		t.Skip("no control plane")
	}
	warnings := &warningRecorder{}
	cfg := rest.CopyConfig(apiserver.Config)
	cfg.WarningHandler = warnings
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first := func(o *unstructured.Unstructured) bool {
		return o.GetKind() == "CustomResourceDefinition" || o.GetKind() == "Namespace"
	}
	ordered := slices.Clone(objs)
	slices.SortStableFunc(ordered, func(a, b *unstructured.Unstructured) int {
		switch {
		case first(a) && !first(b):
			return -1
		case first(b) && !first(a):
			return 1
		}
		return 0
	})
	for _, o := range ordered {
		obj := o.DeepCopy()
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("creating %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		if o.GetKind() == "CustomResourceDefinition" {
			waitEstablished(t, c, obj)
		}
	}
	for _, o := range ordered {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), got); err != nil {
			t.Errorf("%s %s/%s was not kept: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	if w := warnings.all(); len(w) > 0 {
		t.Errorf("the apiserver warned: %q", w)
	}
}

func waitEstablished(t *testing.T, c client.Client, crd *unstructured.Unstructured) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got := crd.DeepCopy()
		if err := c.Get(ctx, client.ObjectKeyFromObject(crd), got); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		conditions, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, cond := range conditions {
			if m, ok := cond.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CRD %s never became established: %v", crd.GetName(), err)
	}
}

type warningRecorder struct {
	mu       sync.Mutex
	messages []string
}

func (w *warningRecorder) HandleWarningHeader(_ int, _ string, message string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.messages = append(w.messages, message)
}

func (w *warningRecorder) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.messages)
}

func containers(t *testing.T, dep *unstructured.Unstructured) []map[string]any {
	t.Helper()
	if dep == nil {
		t.Fatal("no Deployment")
	}
	list, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	var out []map[string]any
	for _, c := range list {
		out = append(out, c.(map[string]any))
	}
	if len(out) == 0 {
		t.Fatal("the Deployment has no container")
	}
	return out
}

func envValue(container map[string]any, name string) string {
	env, _ := container["env"].([]any)
	for _, e := range env {
		if m, ok := e.(map[string]any); ok && m["name"] == name {
			v, _ := m["value"].(string)
			return v
		}
	}
	return ""
}

func readObjects(t *testing.T, paths ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, p := range paths {
		data, err := os.ReadFile(filepath.Clean(p))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, decode(t, string(data))...)
	}
	return out
}
