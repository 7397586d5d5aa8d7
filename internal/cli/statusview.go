package cli

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"k8s.io/cli-runtime/pkg/printers"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
)

// NodeStatus is what `status` reports of one StellarNode: its status as the operator wrote it,
// with the spec's facts that explain it (iBGP or eBGP per peer).
type NodeStatus struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	NodeType  string `json:"nodeType"`
	Network   string `json:"network"`
	// Reconciled is false while the operator has not seen the latest spec (observedGeneration
	// behind metadata.generation): the rest may describe an older spec.
	Reconciled    bool                       `json:"reconciled"`
	Ready         string                     `json:"ready"`
	Replicas      int32                      `json:"replicas"`
	ReadyReplicas int32                      `json:"readyReplicas"`
	Image         string                     `json:"image,omitempty"`
	PublicKey     string                     `json:"publicKey,omitempty"`
	Sync          *stellarv1.SyncStatus      `json:"sync,omitempty"`
	ExternalIP    string                     `json:"externalIP,omitempty"`
	LoadBalancer  *LoadBalancerView          `json:"loadBalancer,omitempty"`
	Discovery     *stellarv1.DiscoveryStatus `json:"discovery,omitempty"`
	Conditions    []ConditionView            `json:"conditions,omitempty"`
}

// LoadBalancerView is status.loadBalancer with each peer's session type.
type LoadBalancerView struct {
	Mode               string     `json:"mode,omitempty"`
	Pool               string     `json:"pool,omitempty"`
	AdvertisedPrefixes []string   `json:"advertisedPrefixes,omitempty"`
	LocalPref          *int64     `json:"localPref,omitempty"`
	Communities        []string   `json:"communities,omitempty"`
	BFDProfile         string     `json:"bfdProfile,omitempty"`
	LocalASN           int64      `json:"localASN,omitempty"`
	Peers              []PeerView `json:"peers,omitempty"`
}

// PeerView is one BGP session: the router, iBGP or eBGP, MetalLB's state, the announcing nodes.
type PeerView struct {
	Name         string   `json:"name"`
	Address      string   `json:"address"`
	ASN          int64    `json:"asn"`
	Session      string   `json:"session"`
	SessionState string   `json:"sessionState,omitempty"`
	Nodes        []string `json:"nodes,omitempty"`
}

// ConditionView is a condition without its bookkeeping.
type ConditionView struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// nodeStatus builds the view of one node.
func nodeStatus(n *stellarv1.StellarNode) NodeStatus {
	st := n.Status
	v := NodeStatus{
		Namespace:     n.Namespace,
		Name:          n.Name,
		NodeType:      string(n.Spec.NodeType),
		Network:       string(n.Spec.Network),
		Reconciled:    st.ObservedGeneration >= n.Generation && st.ObservedGeneration > 0,
		Ready:         "Unknown",
		Replicas:      st.Replicas,
		ReadyReplicas: st.ReadyReplicas,
		Image:         st.Image,
		PublicKey:     st.PublicKey,
		Sync:          st.Sync,
		ExternalIP:    st.ExternalIP,
		Discovery:     st.Discovery,
	}
	for _, c := range st.Conditions {
		v.Conditions = append(v.Conditions, ConditionView{Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message})
		if c.Type == stellarv1.ConditionReady {
			v.Ready = string(c.Status)
		}
	}
	if lb := st.LoadBalancer; lb != nil {
		view := &LoadBalancerView{Mode: string(lb.Mode), Pool: lb.Pool, AdvertisedPrefixes: lb.AdvertisedPrefixes,
			LocalPref: lb.LocalPref, Communities: lb.Communities, BFDProfile: lb.BFDProfile}
		bgp := n.BGP()
		if bgp != nil {
			view.LocalASN = bgp.LocalASN
		}
		for _, p := range lb.Peers {
			view.Peers = append(view.Peers, PeerView{Name: p.Name, Address: p.Address, ASN: p.ASN,
				Session: sessionType(bgp, p.ASN), SessionState: p.SessionState, Nodes: p.Nodes})
		}
		v.LoadBalancer = view
	}
	return v
}

// sessionType is iBGP when the router is in the node's own AS.
func sessionType(bgp *stellarv1.BGPSpec, routerASN int64) string {
	switch {
	case bgp == nil:
		return "unknown"
	case routerASN == bgp.LocalASN:
		return "iBGP"
	default:
		return "eBGP"
	}
}

// writeStatusTable prints one line per node, then each node's details; with namespaces, the first
// column is the namespace (as kubectl get -A).
func writeStatusTable(w io.Writer, nodes []NodeStatus, withNamespace bool) error {
	out := &bytes.Buffer{}
	tw := printers.GetNewTabWriter(out)
	header := []string{"NAME", "TYPE", "READY", "REPLICAS", "SYNC", "LEDGER", "EXTERNAL-IP", "MODE", "PREFIX", "REGION", "PEERS"}
	if withNamespace {
		header = append([]string{"NAMESPACE"}, header...)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, n := range nodes {
		row := []string{n.Name, n.NodeType, n.Ready, fmt.Sprintf("%d/%d", n.ReadyReplicas, n.Replicas), syncState(n), ledger(n),
			dashIfEmpty(n.ExternalIP), lbMode(n), prefixes(n), region(n), peerSummary(n)}
		if withNamespace {
			row = append([]string{n.Namespace}, row...)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	_ = tw.Flush() // writes to a bytes.Buffer do not fail
	for _, n := range nodes {
		fmt.Fprintf(out, "\n")
		writeNodeDetails(out, n)
	}
	_, err := w.Write(out.Bytes())
	return err
}

// writeNodeDetailsTo prints the details of one node.
func writeNodeDetailsTo(w io.Writer, n NodeStatus) error {
	out := &bytes.Buffer{}
	writeNodeDetails(out, n)
	_, err := w.Write(out.Bytes())
	return err
}

// writeNodeDetails prints everything `status NAME` knows of a node.
func writeNodeDetails(out *bytes.Buffer, n NodeStatus) {
	fmt.Fprintf(out, "%s/%s (%s on %s)\n", n.Namespace, n.Name, n.NodeType, n.Network)
	if !n.Reconciled {
		fmt.Fprintf(out, "  Not reconciled yet: the operator has not written status for the latest spec (is it running?)\n")
	}
	fmt.Fprintf(out, "  Ready:         %s (%d/%d replicas)\n", n.Ready, n.ReadyReplicas, n.Replicas)
	if s := n.Sync; s != nil {
		line := fmt.Sprintf("%s, latest ledger %d", s.State, s.LatestLedger)
		if s.Reason != "" {
			line += ": " + s.Reason
		}
		if s.CheckedAt != nil {
			line += fmt.Sprintf(" (checked %s)", s.CheckedAt.UTC().Format("2006-01-02T15:04:05Z"))
		}
		fmt.Fprintf(out, "  Sync:          %s\n", line)
	} else {
		fmt.Fprintf(out, "  Sync:          unknown (no report from the health sidecar yet)\n")
	}
	if n.PublicKey != "" {
		fmt.Fprintf(out, "  Public key:    %s\n", n.PublicKey)
	}
	if n.Image != "" {
		fmt.Fprintf(out, "  Image:         %s\n", n.Image)
	}
	if n.LoadBalancer != nil || n.ExternalIP != "" {
		fmt.Fprintf(out, "  External IP:   %s\n", dashIfEmpty(n.ExternalIP))
	}
	if lb := n.LoadBalancer; lb != nil {
		parts := []string{lb.Mode}
		if lb.Pool != "" {
			parts = append(parts, "pool "+lb.Pool)
		}
		if len(lb.AdvertisedPrefixes) > 0 {
			parts = append(parts, "advertises "+strings.Join(lb.AdvertisedPrefixes, ", "))
		}
		if lb.LocalASN != 0 {
			parts = append(parts, fmt.Sprintf("local AS %d", lb.LocalASN))
		}
		if lb.LocalPref != nil {
			parts = append(parts, fmt.Sprintf("localPref %d", *lb.LocalPref))
		}
		if len(lb.Communities) > 0 {
			parts = append(parts, "communities "+strings.Join(lb.Communities, ", "))
		}
		if lb.BFDProfile != "" {
			parts = append(parts, "BFD profile "+lb.BFDProfile)
		}
		fmt.Fprintf(out, "  Load balancer: %s\n", strings.Join(parts, ", "))
	}
	if d := n.Discovery; d != nil {
		line := dashIfEmpty(d.Region)
		if d.Zone != "" {
			line += ", zone " + d.Zone
		}
		line += fmt.Sprintf(", priority %d", d.Priority)
		if d.DNSName != "" {
			line += ", DNS " + d.DNSName
		}
		fmt.Fprintf(out, "  Region:        %s\n", line)
	}
	if lb := n.LoadBalancer; lb != nil && len(lb.Peers) > 0 {
		fmt.Fprintf(out, "  Peers:\n")
		tw := printers.GetNewTabWriter(out)
		fmt.Fprintln(tw, "    ROUTER\tASN\tSESSION\tSTATE\tANNOUNCING NODES")
		for _, p := range lb.Peers {
			fmt.Fprintf(tw, "    %s\t%d\t%s\t%s\t%s\n", p.Address, p.ASN, p.Session, dashIfEmpty(p.SessionState), announcing(p.Nodes))
		}
		_ = tw.Flush() // writes to a bytes.Buffer do not fail
	}
	if len(n.Conditions) > 0 {
		fmt.Fprintf(out, "  Conditions:\n")
		tw := printers.GetNewTabWriter(out)
		fmt.Fprintln(tw, "    TYPE\tSTATUS\tREASON\tMESSAGE")
		for _, c := range n.Conditions {
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", c.Type, c.Status, dashIfEmpty(c.Reason), dashIfEmpty(oneLine(c.Message)))
		}
		_ = tw.Flush() // writes to a bytes.Buffer do not fail
	}
}

func syncState(n NodeStatus) string {
	if n.Sync == nil || n.Sync.State == "" {
		return "Unknown"
	}
	return string(n.Sync.State)
}

func ledger(n NodeStatus) string {
	if n.Sync == nil || n.Sync.LatestLedger == 0 {
		return "-"
	}
	return fmt.Sprint(n.Sync.LatestLedger)
}

func lbMode(n NodeStatus) string {
	if n.LoadBalancer == nil || n.LoadBalancer.Mode == "" {
		return "-"
	}
	return n.LoadBalancer.Mode
}

func prefixes(n NodeStatus) string {
	if n.LoadBalancer == nil || len(n.LoadBalancer.AdvertisedPrefixes) == 0 {
		return "-"
	}
	return strings.Join(n.LoadBalancer.AdvertisedPrefixes, ",")
}

func region(n NodeStatus) string {
	if n.Discovery == nil {
		return "-"
	}
	return dashIfEmpty(n.Discovery.Region)
}

// peerSummary counts the peers some node announces to: "1/2 announcing".
func peerSummary(n NodeStatus) string {
	if n.LoadBalancer == nil || len(n.LoadBalancer.Peers) == 0 {
		return "-"
	}
	announcingTo := 0
	for _, p := range n.LoadBalancer.Peers {
		if len(p.Nodes) > 0 {
			announcingTo++
		}
	}
	return fmt.Sprintf("%d/%d announcing", announcingTo, len(n.LoadBalancer.Peers))
}

func announcing(nodes []string) string {
	if len(nodes) == 0 {
		return "none"
	}
	return strings.Join(nodes, ", ")
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a multi-line condition message on its table row.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
