package monitoring

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/controller"
	"github.com/stellar-operator/stellar-operator/internal/controlplane"
	"github.com/stellar-operator/stellar-operator/internal/health"
	statusmetrics "github.com/stellar-operator/stellar-operator/internal/metrics"
	"github.com/stellar-operator/stellar-operator/internal/operator"
)

const (
	rulesFile    = "../../config/prometheus/prometheusrule.yaml"
	chartRules   = "../../charts/stellar-operator/files/prometheusrule.yaml"
	dashboardDir = "../../config/grafana/stellar-operator.json"
)

var apiserver *controlplane.ControlPlane

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	os.Exit(controlplane.RunTests(m, controlplane.Options{}, func(cp *controlplane.ControlPlane) (func(), error) {
		apiserver = cp
		return func() {}, nil
	}))
}

// ruleGroups parses a rule file with Prometheus' own loader (promtool check rules does the same):
// the spec of a PrometheusRule, or a plain rule file.
func ruleGroups(t *testing.T, path string) *rulefmt.RuleGroups {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	if spec, ok := obj["spec"]; ok && obj["kind"] == "PrometheusRule" {
		if data, err = yaml.Marshal(spec); err != nil {
			t.Fatal(err)
		}
	}
	groups, errs := rulefmt.Parse(data, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Errorf("%s: %v", path, err)
	}
	if groups == nil || len(groups.Groups) == 0 {
		t.Fatalf("%s has no rule groups", path)
	}
	return groups
}

func TestTheAlertsParseAndUseOnlyExportedMetrics(t *testing.T) {
	groups := ruleGroups(t, rulesFile)
	exported := exportedMetrics(t)
	alerts := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts++
			if r.Alert == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %q needs an alert name, a severity and a summary", r.Expr)
			}
			for _, name := range metricNames(t, r.Alert, r.Expr) {
				if !exported[name] {
					t.Errorf("alert %s uses %s, which nothing exports", r.Alert, name)
				}
			}
		}
	}
	t.Logf("%d alerts checked against %d exported metric names", alerts, len(exported))
	// The chart ships the same file.
	chart, err := os.ReadFile(chartRules)
	if err != nil {
		t.Fatal(err)
	}
	if own, _ := os.ReadFile(rulesFile); string(own) != string(chart) {
		t.Errorf("%s is stale: run make generate", chartRules)
	}
}

type dashboard struct {
	Title  string `json:"title"`
	UID    string `json:"uid"`
	Panels []struct {
		ID      int    `json:"id"`
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

// Grafana's own variables, replaced by what Grafana would put there before PromQL sees them.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

func TestTheDashboardLoadsAndUsesOnlyExportedMetrics(t *testing.T) {
	data, err := os.ReadFile(dashboardDir)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard without title, uid or panels: %q %q %d", d.Title, d.UID, len(d.Panels))
	}
	exported := exportedMetrics(t)
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] || p.Title == "" || len(p.Targets) == 0 {
			t.Errorf("panel %d %q: duplicate id, no title or no query", p.ID, p.Title)
		}
		ids[p.ID] = true
		for _, target := range p.Targets {
			for _, name := range metricNames(t, p.Title, grafanaVariables.Replace(target.Expr)) {
				if !exported[name] {
					t.Errorf("panel %q uses %s, which nothing exports", p.Title, name)
				}
			}
		}
	}
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)
	for _, v := range d.Templating.List {
		if v.Definition == "" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: unexpected query %q", v.Name, v.Definition)
			continue
		}
		for _, name := range metricNames(t, v.Name, m[1]) {
			if !exported[name] {
				t.Errorf("variable %s uses %s, which nothing exports", v.Name, name)
			}
		}
	}
	for _, want := range []string{"stellar_node_status_sync", "stellar_node_status_latest_ledger", "stellar_node_status_external_ip_assigned",
		"stellar_node_status_announcing", "controller_runtime_reconcile_total", "controller_runtime_reconcile_errors_total"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
}

// metricNames parses expr with Prometheus' PromQL parser and returns the metric names it selects.
func metricNames(t *testing.T, what, expr string) []string {
	t.Helper()
	parsed, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %q does not parse: %v", what, expr, err)
		return nil
	}
	var names []string
	parser.Inspect(parsed, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name == "" {
			t.Errorf("%s: %q selects no metric by name", what, expr)
		}
		names = append(names, name)
		return nil
	})
	if len(names) == 0 {
		t.Errorf("%s: %q uses no metric", what, expr)
	}
	return names
}

var (
	exportedOnce  sync.Once
	exportedNames map[string]bool
	exportedErr   error
)

// exportedMetrics are the metric names the deployed pieces serve: the operator's own collectors
// (from their descriptors, so a metric counts even while no StellarNode has set it), the real
// operator manager on a real apiserver (controller-runtime's metrics and the status collector's
// wiring), and the health sidecar's /metrics as its command serves it.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	if apiserver == nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no control plane")
		}
		t.Skip("no control plane (KUBEBUILDER_ASSETS)")
	}
	exportedOnce.Do(func() { exportedNames, exportedErr = gatherExported() })
	if exportedErr != nil {
		t.Fatal(exportedErr)
	}
	return exportedNames
}

func gatherExported() (map[string]bool, error) {
	names := map[string]bool{}
	described := &describingRegisterer{Registerer: prometheus.NewRegistry()}
	if _, err := controller.NewMetrics(described); err != nil {
		return nil, err
	}
	if err := statusmetrics.Register(described, statusmetrics.NewStatusCollector(nil)); err != nil {
		return nil, err
	}
	for _, n := range described.names {
		names[n] = true
	}

	fromOperator, err := operatorMetrics()
	if err != nil {
		return nil, err
	}
	// A Horizon sidecar whose target refuses connections exports every metric that exists either
	// way; a Validator's, whose stellar-core answers /info, adds its quorum counts.
	fromSidecar, err := sidecarMetrics("Horizon", "http://127.0.0.1:1")
	if err != nil {
		return nil, err
	}
	core := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/info" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, `{"info": {"state": "Synced!", "ledger": {"num": 5, "age": 1},
			"quorum": {"node": "GABCD", "qset": {"agree": 3, "delayed": 0, "disagree": 0, "fail_at": 1, "missing": 1, "phase": "EXTERNALIZE"}}}}`)
	}))
	defer core.Close()
	fromValidator, err := sidecarMetrics("Validator", core.URL)
	if err != nil {
		return nil, err
	}
	for _, fams := range [][]*dto.MetricFamily{fromOperator, fromSidecar, fromValidator} {
		for _, f := range fams {
			for _, n := range seriesNames(f) {
				names[n] = true
			}
		}
	}
	return names, nil
}

// describingRegisterer records the metric names of every collector registered through it.
type describingRegisterer struct {
	prometheus.Registerer
	names []string
}

var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (d *describingRegisterer) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		if m := descName.FindStringSubmatch(desc.String()); m != nil {
			d.names = append(d.names, m[1])
		}
	}
	return d.Registerer.Register(c)
}

// seriesNames are the names PromQL sees for a family: histograms and summaries add suffixes.
func seriesNames(f *dto.MetricFamily) []string {
	n := f.GetName()
	switch f.GetType() {
	case dto.MetricType_HISTOGRAM:
		return []string{n, n + "_bucket", n + "_sum", n + "_count"}
	case dto.MetricType_SUMMARY:
		return []string{n, n + "_sum", n + "_count"}
	}
	return []string{n}
}

// operatorMetrics runs the operator as `run` builds it, with one StellarNode, until the controller
// has reconciled it, and gathers the registry its metrics endpoint serves.
func operatorMetrics() ([]*dto.MetricFamily, error) {
	mgr, err := operator.NewManager(apiserver.Config, operator.Config{
		Controller:  controller.Options{OperatorImage: "example.org/stellar-operator:test", MetalLBNamespace: "metallb-system"},
		MetricsAddr: "0", ProbeAddr: "0",
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()

	scheme, err := operator.NewScheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(apiserver.Config, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	node := &stellarv1.StellarNode{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "horizon"},
		Spec: stellarv1.StellarNodeSpec{NodeType: stellarv1.NodeTypeHorizon, Network: stellarv1.NetworkTestnet, Version: "v21.0.0"}}
	if err := c.Create(ctx, node); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		fams, err := ctrlmetrics.Registry.Gather()
		if err != nil {
			return nil, err
		}
		var have []string
		for _, f := range fams {
			have = append(have, f.GetName())
		}
		// The reconcile-time histogram appears once the node's first reconcile finishes.
		if slices.Contains(have, "controller_runtime_reconcile_time_seconds") && slices.Contains(have, "stellar_node_info") {
			cancel()
			<-done
			return fams, nil
		}
		if time.Now().After(deadline) {
			sort.Strings(have)
			return nil, fmt.Errorf("the operator never exported its controller and status metrics; it has %v", have)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sidecarMetrics runs the health sidecar's command on loopback for a node type and target, and
// scrapes its /metrics after its first check.
func sidecarMetrics(nodeType, target string) (_ []*dto.MetricFamily, err error) {
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), logr.Discard()))
	defer cancel()
	r, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- health.Command(ctx, []string{"--node-type=" + nodeType, "--target=" + target, "--listen=127.0.0.1:0", "--status-listen=127.0.0.1:0", "--period=1h"}, w)
		_ = w.Close()
	}()
	addr := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// /metrics is served on the in-cluster status port only.
		if a, ok := strings.CutPrefix(sc.Text(), "Serving status on "); ok {
			addr = a
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, r) }()
	if addr == "" {
		return nil, fmt.Errorf("the health sidecar did not say where it serves: %v", <-done)
	}
	var byName map[string]*dto.MetricFamily
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if byName, err = scrape("http://" + addr + "/metrics"); err != nil {
			return nil, err
		}
		if f := byName["stellar_health_check_duration_seconds"]; f != nil && len(f.Metric) > 0 && f.Metric[0].GetHistogram().GetSampleCount() > 0 {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the health sidecar made no check within 10s")
		}
	}
	cancel()
	if err := <-done; err != nil {
		return nil, err
	}
	var out []*dto.MetricFamily
	for _, f := range byName {
		out = append(out, f)
	}
	return out, nil
}

func scrape(url string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}
