package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/health"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch

// DefaultSyncRefresh is how often a node with the health sidecar asks its pods whether they are
// synced, for status and metrics. Readiness itself never waits for the operator: the kubelet probes
// the sidecar directly.
const DefaultSyncRefresh = time.Minute

// Metrics are the operator's own Prometheus metrics (the sidecar exports per-pod check metrics).
type Metrics struct {
	synced       *prometheus.GaugeVec
	latestLedger *prometheus.GaugeVec
	problems     *prometheus.GaugeVec
	// sessionUp is stellar_node_bgp_session_up (sessions.go).
	sessionUp *prometheus.GaugeVec
}

// NewMetrics registers the operator's metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		synced: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stellar_node_synced",
			Help: "1 when a StellarNode's pods report it synced with its network, 0 when not; absent when unknown."}, []string{"namespace", "name", "state"}),
		latestLedger: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stellar_node_latest_ledger",
			Help: "Latest ledger a StellarNode's pods report."}, []string{"namespace", "name"}),
		problems: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stellar_node_problems",
			Help: "Problems the operator reports on a StellarNode, by severity and reason."}, []string{"namespace", "name", "severity", "reason"}),
		sessionUp: newSessionUpGauge(),
	}
	for _, c := range []*prometheus.GaugeVec{m.synced, m.latestLedger, m.problems, m.sessionUp} {
		if err := reg.Register(c); err != nil {
			// A second manager in the same process (tests, the local cluster) shares the first's.
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			existing, ok := are.ExistingCollector.(*prometheus.GaugeVec)
			if !ok {
				return nil, err
			}
			*c = *existing
		}
	}
	return m, nil
}

func (m *Metrics) record(node *stellarv1.StellarNode, s *scope) {
	if m == nil {
		return
	}
	m.synced.DeletePartialMatch(prometheus.Labels{"namespace": node.Namespace, "name": node.Name})
	if sync := node.Status.Sync; sync != nil {
		v := 0.0
		if sync.State == stellarv1.SyncSynced {
			v = 1
		}
		m.synced.WithLabelValues(node.Namespace, node.Name, string(sync.State)).Set(v)
		m.latestLedger.WithLabelValues(node.Namespace, node.Name).Set(float64(sync.LatestLedger))
	}
	m.problems.DeletePartialMatch(prometheus.Labels{"namespace": node.Namespace, "name": node.Name})
	for _, p := range s.problems {
		m.problems.WithLabelValues(node.Namespace, node.Name, string(p.Severity), p.Reason).Inc()
	}
}

func (m *Metrics) forget(node *stellarv1.StellarNode) {
	if m == nil {
		return
	}
	labels := prometheus.Labels{"namespace": node.Namespace, "name": node.Name}
	m.synced.DeletePartialMatch(labels)
	m.latestLedger.DeletePartialMatch(labels)
	m.problems.DeletePartialMatch(labels)
	m.sessionUp.DeletePartialMatch(labels)
}

// observeSync asks the health sidecar of each of the node's pods for its verdict: the node is
// Synced when any pod is (that pod serves traffic), else it takes the first pod's state and reason.
func (r *Reconciler) observeSync(ctx context.Context, s *scope) error {
	node := s.node
	enabled, _ := node.HealthCheck()
	if !enabled {
		node.Status.Sync = nil
		return nil
	}
	pods := &corev1.PodList{}
	if err := r.Client.List(ctx, pods, client.InNamespace(node.Namespace), client.MatchingLabels(render.SelectorLabels(node))); err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	var best *health.Result
	for _, pod := range pods.Items {
		if pod.Status.PodIP == "" || !pod.DeletionTimestamp.IsZero() {
			continue
		}
		res, err := r.fetchStatus(ctx, pod.Status.PodIP, render.PortHealthStatus)
		if err != nil {
			res = &health.Result{State: health.SyncState(stellarv1.SyncUnknown), Reason: fmt.Sprintf("pod %s: %v", pod.Name, err)}
		}
		if best == nil || (res.Ready && !best.Ready) || (res.Ready == best.Ready && res.LatestLedger > best.LatestLedger) {
			best = res
		}
	}
	if best == nil {
		node.Status.Sync = nil
		return nil
	}
	s.requeueAtMost(r.Options.syncRefresh())
	state := stellarv1.SyncState(best.State)
	if !best.Ready && state == stellarv1.SyncSynced {
		// Synced with something, but not ready (the wrong network, say): not synced for us.
		state = stellarv1.SyncUnknown
	}
	sync := &stellarv1.SyncStatus{State: state, LatestLedger: best.LatestLedger, Reason: best.Reason}
	if !best.CheckedAt.IsZero() {
		sync.CheckedAt = &metav1.Time{Time: best.CheckedAt.UTC().Truncate(time.Second)}
	}
	node.Status.Sync = syncToReport(s.before.Sync, sync)
	return nil
}

// SyncLedgerInterval is how often a moving ledger alone is written to status.sync: a synced node's
// ledger moves every few seconds, and a write per node per minute would cost a fleet more than its
// whole convergence. A change of state or reason is written at once; the live ledger is the
// sidecar's metric (stellar_health_latest_ledger).
const SyncLedgerInterval = 10 * time.Minute

// syncToReport keeps the reported sync when only its ledger and check time moved, for less than
// SyncLedgerInterval. Pure.
func syncToReport(reported, observed *stellarv1.SyncStatus) *stellarv1.SyncStatus {
	if reported == nil || observed == nil || reported.State != observed.State || reported.Reason != observed.Reason ||
		reported.CheckedAt == nil || observed.CheckedAt == nil {
		return observed
	}
	if observed.CheckedAt.Sub(reported.CheckedAt.Time) < SyncLedgerInterval {
		return reported
	}
	return observed
}

// fetchStatus reads one sidecar's /status, with a short timeout and a bounded body.
func (r *Reconciler) fetchStatus(ctx context.Context, ip string, port int32) (*health.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(ip, strconv.Itoa(int(port))) + "/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	httpClient := r.HTTPClient
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("health sidecar unreachable")
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("health sidecar answered HTTP %d", resp.StatusCode)
	}
	res := &health.Result{}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(res); err != nil {
		return nil, fmt.Errorf("health sidecar answered no JSON status")
	}
	return res, nil
}
