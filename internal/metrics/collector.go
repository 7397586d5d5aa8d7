// Package metrics exports StellarNodes' status as Prometheus metrics, the way kube-state-metrics
// exports Deployments: a collector lists the nodes at scrape time and turns each into gauges.
// Status is the source of truth, so every operator replica (leader or not) reports the same values
// and nothing is remembered between scrapes: a deleted node simply disappears.
package metrics

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
)

// listTimeout bounds the list a scrape makes; it reads the informer cache, so it is normally instant.
const listTimeout = 10 * time.Second

// StatusCollector emits the status of every StellarNode that reader lists.
type StatusCollector struct {
	reader client.Reader

	info, specReplicas, replicas, readyReplicas, condition, sync, latestLedger,
	addressAssigned, announcing, peerAnnouncingNodes, scrapeErrors *prometheus.Desc
}

// withNode is the labels naming a StellarNode, then extra.
func withNode(extra ...string) []string { return append([]string{"namespace", "name"}, extra...) }

// NewStatusCollector returns a collector reading StellarNodes from reader (the manager's cache).
func NewStatusCollector(reader client.Reader) *StatusCollector {
	return &StatusCollector{
		reader: reader,
		info: prometheus.NewDesc("stellar_node_info", "A StellarNode: its type, network, Stellar version and region (1).",
			withNode("node_type", "network", "version", "region"), nil),
		specReplicas: prometheus.NewDesc("stellar_node_spec_replicas", "Replicas a StellarNode asks for.", withNode(), nil),
		replicas: prometheus.NewDesc("stellar_node_status_replicas", "Replicas of a StellarNode's workload (status.replicas).",
			withNode(), nil),
		readyReplicas: prometheus.NewDesc("stellar_node_status_ready_replicas", "Ready replicas of a StellarNode's workload (status.readyReplicas).",
			withNode(), nil),
		condition: prometheus.NewDesc("stellar_node_status_condition",
			"A StellarNode condition: 1 on the series whose status label (true, false, unknown) is the condition's status.",
			withNode("condition", "status"), nil),
		sync: prometheus.NewDesc("stellar_node_status_sync",
			"A StellarNode's sync with its network (status.sync): 1 on the series of its state (Synced, CatchingUp, Unknown); absent without the health sidecar.",
			withNode("state"), nil),
		latestLedger: prometheus.NewDesc("stellar_node_status_latest_ledger", "Latest ledger a StellarNode's pods report (status.sync.latestLedger).",
			withNode(), nil),
		addressAssigned: prometheus.NewDesc("stellar_node_status_external_ip_assigned",
			"1 when a StellarNode's load balancer Service has an external IP, 0 while it waits; only nodes with a load balancer. address is the requested loadBalancerIP, else the assigned one.",
			withNode("mode", "address", "region"), nil),
		announcing: prometheus.NewDesc("stellar_node_status_announcing",
			"BGP nodes: 1 when at least one Kubernetes node announces the node's address to a peer (MetalLB's ServiceBGPStatus), 0 when none does. Summed by address across regions it counts the regions announcing an anycast address.",
			withNode("address", "region"), nil),
		peerAnnouncingNodes: prometheus.NewDesc("stellar_node_status_bgp_peer_announcing_nodes",
			"BGP nodes: how many Kubernetes nodes announce the node's address to each peer (status.loadBalancer.peers[].nodes).",
			withNode("peer", "peer_address", "address", "region"), nil),
		scrapeErrors: prometheus.NewDesc("stellar_node_status_scrape_error",
			"1 when the StellarNodes could not be listed for this scrape (the other stellar_node_status metrics are then missing).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *StatusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.info, c.specReplicas, c.replicas, c.readyReplicas, c.condition, c.sync, c.latestLedger,
		c.addressAssigned, c.announcing, c.peerAnnouncingNodes, c.scrapeErrors} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *StatusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
	defer cancel()
	nodes := &stellarv1.StellarNodeList{}
	if err := c.reader.List(ctx, nodes); err != nil {
		ch <- prometheus.MustNewConstMetric(c.scrapeErrors, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.scrapeErrors, prometheus.GaugeValue, 0)
	for i := range nodes.Items {
		for _, m := range c.nodeMetrics(&nodes.Items[i]) {
			ch <- m
		}
	}
}

// nodeMetrics are the metrics of one node: a pure function of the node.
func (c *StatusCollector) nodeMetrics(node *stellarv1.StellarNode) []prometheus.Metric {
	ns, name := node.Namespace, node.Name
	region := ""
	if d := node.Status.Discovery; d != nil {
		region = d.Region
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
		return prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, append([]string{ns, name}, labels...)...)
	}
	out := []prometheus.Metric{
		gauge(c.info, 1, string(node.Spec.NodeType), string(node.Spec.Network), node.Spec.Version, region),
		gauge(c.specReplicas, float64(node.EffectiveReplicas())),
		gauge(c.replicas, float64(node.Status.Replicas)),
		gauge(c.readyReplicas, float64(node.Status.ReadyReplicas)),
	}
	for _, cond := range node.Status.Conditions {
		for _, s := range []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown} {
			out = append(out, gauge(c.condition, boolValue(cond.Status == s), cond.Type, strings.ToLower(string(s))))
		}
	}
	if sync := node.Status.Sync; sync != nil {
		for _, s := range []stellarv1.SyncState{stellarv1.SyncSynced, stellarv1.SyncCatchingUp, stellarv1.SyncUnknown} {
			out = append(out, gauge(c.sync, boolValue(sync.State == s), string(s)))
		}
		if sync.LatestLedger > 0 {
			out = append(out, gauge(c.latestLedger, float64(sync.LatestLedger)))
		}
	}
	if !node.LoadBalancerEnabled() {
		return out
	}
	lb := node.Spec.LoadBalancer
	address := lb.LoadBalancerIP
	if address == "" {
		address = node.Status.ExternalIP
	}
	mode := lb.EffectiveMode()
	out = append(out, gauge(c.addressAssigned, boolValue(node.Status.ExternalIP != ""), string(mode), address, region))
	if mode != stellarv1.LoadBalancerBGP {
		return out
	}
	announced := false
	if st := node.Status.LoadBalancer; st != nil {
		for _, p := range st.Peers {
			announced = announced || len(p.Nodes) > 0
			out = append(out, gauge(c.peerAnnouncingNodes, float64(len(p.Nodes)), p.Name, p.Address, address, region))
		}
	}
	return append(out, gauge(c.announcing, boolValue(announced), address, region))
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Register adds the collector to reg. A second manager in the same process (tests, the local
// cluster) replaces the first one's collector: the newest cache is the one that is running.
func Register(reg prometheus.Registerer, c prometheus.Collector) error {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		reg.Unregister(are.ExistingCollector)
		return reg.Register(c)
	}
	return err
}
