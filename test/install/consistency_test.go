package install

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/stellar-operator/stellar-operator/internal/selfimage"
)

// The chart's RBAC is config/rbac's, rule for rule: controller-gen's ClusterRole and the leader
// election Role.
func TestTheChartGrantsExactlyConfigRBAC(t *testing.T) {
	out, err := helm(t, "template", "stellar-operator", chartDir, "--namespace", "stellar-system")
	if err != nil {
		t.Fatal(err)
	}
	chart := decode(t, out)
	config := readObjects(t, "../../config/rbac/role.yaml", "../../config/rbac/leader_election_role.yaml")
	for _, kind := range []string{"ClusterRole", "Role"} {
		got, want := find(chart, kind, ""), find(config, kind, "")
		if got == nil || want == nil || !reflect.DeepEqual(got.Object["rules"], want.Object["rules"]) {
			t.Errorf("%s rules differ between the chart and config/rbac", kind)
		}
	}
}

// `kubectl apply -k config/default` installs what the chart installs: the same objects, rules,
// image, environment and operator flags.
func TestKustomizeDefaultAgreesWithTheChart(t *testing.T) {
	kustomized := kustomizeResources(t, "../../config/default")
	dist := readObjects(t, "../../dist/install.yaml")
	var kinds, distKinds []string
	for _, o := range kustomized {
		kinds = append(kinds, o.GetKind()+"/"+o.GetName())
	}
	for _, o := range dist {
		distKinds = append(distKinds, o.GetKind()+"/"+o.GetName())
	}
	slices.Sort(kinds)
	slices.Sort(distKinds)
	if !slices.Equal(kinds, distKinds) {
		t.Errorf("config/default has %v, dist/install.yaml %v", kinds, distKinds)
	}
	for _, kind := range []string{"ClusterRole", "Role"} {
		if !reflect.DeepEqual(find(kustomized, kind, "").Object["rules"], find(dist, kind, "").Object["rules"]) {
			t.Errorf("%s rules differ", kind)
		}
	}
	k, d := containers(t, find(kustomized, "Deployment", "")), containers(t, find(dist, "Deployment", ""))
	if k[0]["image"] != d[0]["image"] || envValue(k[0], "OPERATOR_IMAGE") != envValue(d[0], "OPERATOR_IMAGE") {
		t.Errorf("config/manager runs %v (OPERATOR_IMAGE %q), the chart %v (%q)", k[0]["image"], envValue(k[0], "OPERATOR_IMAGE"), d[0]["image"], envValue(d[0], "OPERATOR_IMAGE"))
	}
	if !reflect.DeepEqual(k[0]["env"], d[0]["env"]) || !reflect.DeepEqual(k[0]["securityContext"], d[0]["securityContext"]) {
		t.Error("config/manager and the chart differ in env or securityContext")
	}
	chartArgs := normalizedArgs(d[0])
	for _, arg := range normalizedArgs(k[0]) {
		if !slices.Contains(chartArgs, arg) {
			t.Errorf("config/manager passes %s, the chart does not (%v)", arg, chartArgs)
		}
	}
}

// kustomizeResources follows the resources lists of a kustomization (all config/ uses) and
// returns the objects, as `kustomize build` would for bases without patches.
func kustomizeResources(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k map[string]any
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	for key := range k {
		if key != "resources" {
			t.Fatalf("%s uses %s: extend this test to apply it", dir, key)
		}
	}
	var out []*unstructured.Unstructured
	for _, r := range k["resources"].([]any) {
		path := filepath.Join(dir, r.(string))
		if info, err := os.Stat(path); err == nil && info.IsDir() {
			out = append(out, kustomizeResources(t, path)...)
			continue
		}
		out = append(out, readObjects(t, path)...)
	}
	return out
}

func normalizedArgs(container map[string]any) []string {
	var out []string
	for _, a := range container["args"].([]any) {
		s := a.(string)
		if strings.HasPrefix(s, "--") && !strings.Contains(s, "=") {
			s += "=true"
		}
		out = append(out, s)
	}
	return out
}

// The chart's Prometheus Operator objects are config/prometheus's, and a real apiserver accepts
// config/prometheus under Prometheus Operator's own CRDs.
func TestChartMonitoringMatchesConfigPrometheus(t *testing.T) {
	out, err := helm(t, "template", "stellar-operator", chartDir, "--namespace", "stellar-system", "--set", "monitoring.enabled=true")
	if err != nil {
		t.Fatal(err)
	}
	chart := decode(t, out)
	config := kustomizeResources(t, "../../config/prometheus")
	for _, pair := range [][2]string{{"stellar-operator-health-sidecars", "stellar-health-sidecars"}, {"stellar-operator-stellar-services", "stellar-services"}} {
		got, want := find(chart, "PodMonitor", pair[0]), find(config, "PodMonitor", pair[1])
		if got == nil || want == nil || !reflect.DeepEqual(got.Object["spec"], want.Object["spec"]) {
			t.Errorf("PodMonitor %s differs from config/prometheus's %s", pair[0], pair[1])
		}
	}
	got, want := find(chart, "ServiceMonitor", ""), find(config, "ServiceMonitor", "")
	if got == nil || want == nil || !reflect.DeepEqual(got.Object["spec"].(map[string]any)["endpoints"], want.Object["spec"].(map[string]any)["endpoints"]) {
		t.Error("the ServiceMonitors' endpoints differ")
	}
	if got, want := find(chart, "PrometheusRule", ""), find(config, "PrometheusRule", ""); got == nil || !reflect.DeepEqual(got.Object["spec"], want.Object["spec"]) {
		t.Error("the chart's PrometheusRule is not config/prometheus's")
	}
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName("monitoring-config")
	for _, o := range config {
		o.SetNamespace("monitoring-config")
	}
	create(t, append([]*unstructured.Unstructured{ns}, config...))
}

// The operator, under the chart's RBAC (impersonating its ServiceAccount), reads its own Pod as the
// downward API names it and pins the health sidecar to the digest the kubelet reported.
func TestTheOperatorFindsItsImageUnderTheChartsRBAC(t *testing.T) {
	out, err := helm(t, "template", "self", chartDir, "--namespace", "self-system")
	if err != nil {
		t.Fatal(err)
	}
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName("self-system")
	var rbac []*unstructured.Unstructured
	for _, o := range decode(t, out) {
		if o.GetKind() != "Deployment" && o.GetKind() != "Service" {
			rbac = append(rbac, o)
		}
	}
	create(t, append([]*unstructured.Unstructured{ns}, rbac...))

	ctx := context.Background()
	admin, err := client.New(apiserver.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "self-system", Name: "self-stellar-operator-7d9c-x2x"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "operator", Image: "ghcr.io/stellar-operator/stellar-operator:0.1.0"}}}}
	if err := admin.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "operator", Image: pod.Spec.Containers[0].Image,
		ImageID: "ghcr.io/stellar-operator/stellar-operator@" + testDigest}}
	if err := admin.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{selfimage.EnvPodName: pod.Name, selfimage.EnvPodNamespace: pod.Namespace}
	getenv := func(k string) string { return env[k] }

	asOperator := impersonating(t, "system:serviceaccount:self-system:self-stellar-operator")
	image, source, err := selfimage.Lookup(ctx, asOperator, getenv, "")
	if err != nil || image != "ghcr.io/stellar-operator/stellar-operator@"+testDigest || source != selfimage.SourcePodDigest {
		t.Fatalf("Lookup = %q, %q, %v", image, source, err)
	}
	// The same lookup by an account the chart grants nothing must fail: the RBAC is what allows it.
	if _, _, err := selfimage.Lookup(ctx, impersonating(t, "system:serviceaccount:self-system:nobody"), getenv, ""); err == nil ||
		!strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("an account without the chart's ClusterRole read the Pod: %v", err)
	}
}

func impersonating(t *testing.T, user string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(apiserver.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The README's install commands name files that exist and a make target that exists, and its
// helm install renders (a machine without a cluster can go no further).
func TestTheReadmeInstallCommandsWork(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(data)
	start := strings.Index(section, "## In a real cluster")
	if start < 0 {
		t.Fatal("README has no 'In a real cluster' section")
	}
	section = section[start:]
	section = section[:strings.Index(section[3:], "\n## ")+3]
	var commands []string
	inBlock, current := false, ""
	for sc := bufio.NewScanner(strings.NewReader(section)); sc.Scan(); {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			continue
		}
		line, _, _ = strings.Cut(line, "#")
		current += strings.TrimSuffix(strings.TrimSpace(line), "\\") + " "
		if !strings.HasSuffix(strings.TrimSpace(line), "\\") {
			commands = append(commands, strings.Join(strings.Fields(current), " "))
			current = ""
		}
	}
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, cmd := range commands {
		fields := strings.Fields(strings.ReplaceAll(cmd, "<registry>", "registry.example.org"))
		switch {
		case len(fields) == 0:
		case fields[0] == "make":
			if !regexp.MustCompile(`(?m)^` + fields[1] + `:`).Match(makefile) {
				t.Errorf("README runs make %s, which the Makefile lacks", fields[1])
			}
			seen["make"] = true
		case fields[0] == "helm" && fields[1] == "install":
			args := append([]string{"template"}, slices.DeleteFunc(fields[2:], func(f string) bool { return f == "--create-namespace" })...)
			for i, a := range args {
				if a == "charts/stellar-operator" {
					args[i] = chartDir
				}
			}
			if _, err := helm(t, args...); err != nil {
				t.Errorf("the README's helm install does not render: %v", err)
			}
			seen["helm"] = true
		case fields[0] == "kubectl":
			for i, f := range fields {
				if (f == "-f" || f == "-k") && i+1 < len(fields) {
					if _, err := os.Stat(filepath.Join("../..", fields[i+1])); err != nil {
						t.Errorf("the README applies %s: %v", fields[i+1], err)
					}
					seen[f] = true
				}
			}
		}
	}
	for _, want := range []string{"make", "helm", "-f", "-k"} {
		if !seen[want] {
			t.Errorf("the README's install section has no %s command (commands: %q)", want, commands)
		}
	}
}
