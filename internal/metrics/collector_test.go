package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
)

// listReader stands in for the manager's cache: the collector only ever lists. The wiring against
// a real apiserver is tested in test/monitoring.
type listReader struct {
	nodes []stellarv1.StellarNode
	err   error
}

func (r listReader) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return errors.New("the collector only lists")
}

func (r listReader) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	if r.err != nil {
		return r.err
	}
	list.(*stellarv1.StellarNodeList).Items = r.nodes
	return nil
}

func anycastNode(region string, announcingNodes ...string) stellarv1.StellarNode {
	return stellarv1.StellarNode{
		ObjectMeta: metav1.ObjectMeta{Namespace: "stellar", Name: "horizon-" + region},
		Spec: stellarv1.StellarNodeSpec{NodeType: stellarv1.NodeTypeHorizon, Network: "Mainnet", Version: "v21.0.0", Replicas: ptr.To[int32](2),
			LoadBalancer: &stellarv1.LoadBalancerSpec{Enabled: ptr.To(true), Mode: stellarv1.LoadBalancerBGP, LoadBalancerIP: "203.0.113.10"}},
		Status: stellarv1.StellarNodeStatus{
			Replicas: 2, ReadyReplicas: 1, ExternalIP: "203.0.113.10",
			Conditions: []metav1.Condition{{Type: stellarv1.ConditionReady, Status: metav1.ConditionFalse, Reason: stellarv1.ReasonPodsNotReady}},
			Sync:       &stellarv1.SyncStatus{State: stellarv1.SyncCatchingUp, LatestLedger: 4200},
			Discovery:  &stellarv1.DiscoveryStatus{Region: region},
			LoadBalancer: &stellarv1.LoadBalancerStatus{Mode: stellarv1.LoadBalancerBGP, Peers: []stellarv1.PeerStatus{
				{Name: "tor-a", Address: "192.0.2.1", Nodes: announcingNodes}}},
		},
	}
}

func TestAnAnycastNodeReportsItsStatus(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg, NewStatusCollector(listReader{nodes: []stellarv1.StellarNode{anycastNode("us-east", "worker-1", "worker-2")}})); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP stellar_node_spec_replicas Replicas a StellarNode asks for.
# TYPE stellar_node_spec_replicas gauge
stellar_node_spec_replicas{name="horizon-us-east",namespace="stellar"} 2
# HELP stellar_node_status_ready_replicas Ready replicas of a StellarNode's workload (status.readyReplicas).
# TYPE stellar_node_status_ready_replicas gauge
stellar_node_status_ready_replicas{name="horizon-us-east",namespace="stellar"} 1
# HELP stellar_node_status_latest_ledger Latest ledger a StellarNode's pods report (status.sync.latestLedger).
# TYPE stellar_node_status_latest_ledger gauge
stellar_node_status_latest_ledger{name="horizon-us-east",namespace="stellar"} 4200
# HELP stellar_node_status_bgp_peer_announcing_nodes BGP nodes: how many Kubernetes nodes announce the node's address to each peer (status.loadBalancer.peers[].nodes).
# TYPE stellar_node_status_bgp_peer_announcing_nodes gauge
stellar_node_status_bgp_peer_announcing_nodes{address="203.0.113.10",name="horizon-us-east",namespace="stellar",peer="tor-a",peer_address="192.0.2.1",region="us-east"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "stellar_node_spec_replicas", "stellar_node_status_ready_replicas",
		"stellar_node_status_latest_ledger", "stellar_node_status_bgp_peer_announcing_nodes"); err != nil {
		t.Error(err)
	}
	for metric, want := range map[string]float64{
		`stellar_node_info{name="horizon-us-east",namespace="stellar",network="Mainnet",node_type="Horizon",region="us-east",version="v21.0.0"}`:  1,
		`stellar_node_status_condition{condition="Ready",name="horizon-us-east",namespace="stellar",status="false"}`:                              1,
		`stellar_node_status_condition{condition="Ready",name="horizon-us-east",namespace="stellar",status="true"}`:                               0,
		`stellar_node_status_sync{name="horizon-us-east",namespace="stellar",state="CatchingUp"}`:                                                 1,
		`stellar_node_status_sync{name="horizon-us-east",namespace="stellar",state="Synced"}`:                                                     0,
		`stellar_node_status_external_ip_assigned{address="203.0.113.10",mode="BGP",name="horizon-us-east",namespace="stellar",region="us-east"}`: 1,
		`stellar_node_status_announcing{address="203.0.113.10",name="horizon-us-east",namespace="stellar",region="us-east"}`:                      1,
		`stellar_node_status_scrape_error`: 0,
	} {
		if got, ok := gathered(t, reg)[metric]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", metric, got, ok, want)
		}
	}
}

func TestARegionWithNoAnnouncingNodeReportsZero(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	withdrawn := anycastNode("eu-west")
	withdrawn.Status.ExternalIP = ""
	if err := Register(reg, NewStatusCollector(listReader{nodes: []stellarv1.StellarNode{withdrawn}})); err != nil {
		t.Fatal(err)
	}
	got := gathered(t, reg)
	for _, metric := range []string{
		`stellar_node_status_announcing{address="203.0.113.10",name="horizon-eu-west",namespace="stellar",region="eu-west"}`,
		`stellar_node_status_external_ip_assigned{address="203.0.113.10",mode="BGP",name="horizon-eu-west",namespace="stellar",region="eu-west"}`,
		`stellar_node_status_bgp_peer_announcing_nodes{address="203.0.113.10",name="horizon-eu-west",namespace="stellar",peer="tor-a",peer_address="192.0.2.1",region="eu-west"}`,
	} {
		if v, ok := got[metric]; !ok || v != 0 {
			t.Errorf("%s = %v (present %v), want 0", metric, v, ok)
		}
	}
}

func TestANodeWithoutLoadBalancerOrSyncHasNoSuchSeries(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	plain := stellarv1.StellarNode{ObjectMeta: metav1.ObjectMeta{Namespace: "stellar", Name: "validator"},
		Spec: stellarv1.StellarNodeSpec{NodeType: stellarv1.NodeTypeValidator, Network: "Testnet"}}
	if err := Register(reg, NewStatusCollector(listReader{nodes: []stellarv1.StellarNode{plain}})); err != nil {
		t.Fatal(err)
	}
	for metric := range gathered(t, reg) {
		for _, absent := range []string{"stellar_node_status_sync", "stellar_node_status_latest_ledger", "stellar_node_status_external_ip_assigned", "stellar_node_status_announcing"} {
			if strings.HasPrefix(metric, absent+"{") {
				t.Errorf("unexpected %s", metric)
			}
		}
	}
}

func TestAFailedListIsReportedNotHidden(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg, NewStatusCollector(listReader{err: errors.New("cache not started")})); err != nil {
		t.Fatal(err)
	}
	if got := gathered(t, reg); got["stellar_node_status_scrape_error"] != 1 || len(got) != 1 {
		t.Errorf("gathered %v, want only stellar_node_status_scrape_error 1", got)
	}
}

func TestASecondManagersCollectorReplacesTheFirst(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg, NewStatusCollector(listReader{err: errors.New("stopped")})); err != nil {
		t.Fatal(err)
	}
	if err := Register(reg, NewStatusCollector(listReader{})); err != nil {
		t.Fatal(err)
	}
	if got := gathered(t, reg); got["stellar_node_status_scrape_error"] != 0 {
		t.Errorf("the first collector still answers: %v", got)
	}
}

// gathered maps each sample, written as name{sorted labels}, to its value.
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			key := f.GetName()
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			out[key] = m.GetGauge().GetValue()
		}
	}
	return out
}
