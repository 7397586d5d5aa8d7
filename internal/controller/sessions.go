package controller

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// In MetalLB's frr-k8s mode, frr-k8s' status exporter writes one BGPSessionState per node and
// peer with FRR's own view of the session (bgpStatus: Established, Active, Connect, Idle,
// OpenSent, OpenConfirm; bfdStatus: Up, Down, N/A). MetalLB's ServiceBGPStatus only says that a
// node has advertisements for a peer, which it has with a wrong password too; the session state
// is what tells whether anything reaches the router.
//
// The objects are read as unstructured: frr-k8s' module (v0.0.x) pins older Kubernetes libraries
// than the operator's, and five status fields do not justify the dependency.

// +kubebuilder:rbac:groups=frrk8s.metallb.io,resources=bgpsessionstates,verbs=get;list;watch

// DefaultFRRK8sNamespace is where frr-k8s runs (its Helm chart's and MetalLB's default).
const DefaultFRRK8sNamespace = "frr-k8s-system"

// BGPSessionStateGVK is frr-k8s' per-node session status kind.
func BGPSessionStateGVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: "frrk8s.metallb.io", Version: "v1beta1", Kind: "BGPSessionState"}
}

// NewBGPSessionStateList is an empty list of BGPSessionStates (for the manager's cache options).
func NewBGPSessionStateList() *unstructured.UnstructuredList {
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(BGPSessionStateGVK().GroupVersion().WithKind(BGPSessionStateGVK().Kind + "List"))
	return l
}

// NewBGPSessionState is an empty BGPSessionState (for watches and the manager's cache options).
func NewBGPSessionState() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(BGPSessionStateGVK())
	return u
}

// FRR's BGP finite-state-machine states as frr-k8s reports them, and its BFD states.
const (
	bgpEstablished = "Established"
	bfdUp          = "Up"
	bfdNotInUse    = "N/A"
)

// bgpSession is one BGPSessionState.
type bgpSession struct {
	Node, Peer, VRF, BGP, BFD string
}

// sessionsOf reads the sessions out of BGPSessionState objects; objects without a node or peer
// (being created) are skipped.
func sessionsOf(items []unstructured.Unstructured) []bgpSession {
	var out []bgpSession
	for _, u := range items {
		field := func(name string) string {
			v, _, _ := unstructured.NestedString(u.Object, "status", name)
			return v
		}
		s := bgpSession{Node: field("node"), Peer: field("peer"), VRF: field("vrf"), BGP: field("bgpStatus"), BFD: field("bfdStatus")}
		if s.Node != "" && s.Peer != "" {
			out = append(out, s)
		}
	}
	return out
}

// withSessions adds to each peer's status the per-node sessions frr-k8s reports for its address
// (default VRF), and makes sessionState tell the truth: "Announcing" only while the session of an
// announcing node is Established, else the worst session state. Pure.
func withSessions(peers []stellarv1.PeerStatus, sessions []bgpSession) []stellarv1.PeerStatus {
	out := make([]stellarv1.PeerStatus, len(peers))
	for i, p := range peers {
		p.Sessions = nil
		for _, s := range sessions {
			if s.Peer == p.Address && s.VRF == "" {
				p.Sessions = append(p.Sessions, stellarv1.PeerSessionStatus{Node: s.Node, BGPState: s.BGP, BFDState: s.BFD})
			}
		}
		sort.Slice(p.Sessions, func(a, b int) bool { return p.Sessions[a].Node < p.Sessions[b].Node })
		if p.SessionState == "Announcing" && !anyEstablished(p.Sessions, p.Nodes) {
			p.SessionState = worstState(p.Sessions)
		}
		out[i] = p
	}
	return out
}

// anyEstablished reports whether one of nodes (the announcing ones) has an Established session.
func anyEstablished(sessions []stellarv1.PeerSessionStatus, nodes []string) bool {
	for _, s := range sessions {
		for _, n := range nodes {
			if s.Node == n && s.BGPState == bgpEstablished {
				return true
			}
		}
	}
	return false
}

// worstState is the state of the first session that is not Established, or "Unknown" without any.
func worstState(sessions []stellarv1.PeerSessionStatus) string {
	for _, s := range sessions {
		if s.BGPState != bgpEstablished {
			return s.BGPState
		}
	}
	return "Unknown"
}

// peersCondition is PeersEstablished for a node's peers. passwords marks the peers (by address)
// that use an MD5 password, so a session that never connects names that possibility. Pure.
func peersCondition(generation int64, peers []stellarv1.PeerStatus, passwords map[string]bool) metav1.Condition {
	c := metav1.Condition{Type: stellarv1.ConditionPeersEstablished, ObservedGeneration: generation}
	type failure struct{ reason, text string }
	var failures []failure
	for _, p := range peers {
		if len(p.Sessions) == 0 {
			failures = append(failures, failure{stellarv1.ReasonNoSessionState, fmt.Sprintf("frr-k8s reports no session to %s", p.Address)})
			continue
		}
		for _, s := range p.Sessions {
			switch {
			case s.BGPState == bgpEstablished && (s.BFDState == "" || s.BFDState == bfdUp || s.BFDState == bfdNotInUse):
			case s.BGPState == bgpEstablished:
				failures = append(failures, failure{stellarv1.ReasonBFDDown, fmt.Sprintf("node %s: session to %s Established, BFD %s", s.Node, p.Address, s.BFDState)})
			case s.BGPState == "OpenSent" || s.BGPState == "OpenConfirm":
				failures = append(failures, failure{stellarv1.ReasonPeerOpenNotConfirmed, fmt.Sprintf(
					"node %s: session to %s is %s: the router answers but the OPEN exchange does not complete (check both ASNs: the router must expect %d)",
					s.Node, p.Address, s.BGPState, p.ASN)})
			default:
				hint := "the router is unreachable, filters TCP port 179, does not list this node as a neighbour, or closes the connection (does it expect the local ASN?)"
				if passwords[p.Address] {
					hint = "an MD5 password mismatch looks exactly like this (the router drops the segments silently); otherwise " + hint
				}
				failures = append(failures, failure{stellarv1.ReasonPeerNotConnected, fmt.Sprintf("node %s: session to %s (AS %d) is %s: %s", s.Node, p.Address, p.ASN, s.BGPState, hint)})
			}
		}
	}
	if len(failures) == 0 {
		c.Status, c.Reason = metav1.ConditionTrue, stellarv1.ReasonPeersEstablished
		var n int
		for _, p := range peers {
			n += len(p.Sessions)
		}
		c.Message = fmt.Sprintf("%d session(s) Established", n)
		return c
	}
	texts := make([]string, 0, len(failures))
	for _, f := range failures {
		texts = append(texts, f.text)
	}
	c.Status, c.Reason, c.Message = metav1.ConditionFalse, failures[0].reason, truncate(strings.Join(texts, "; "), 2000)
	return c
}

// sessionsApply reports whether PeersEstablished applies: a BGP load balancer in frr-k8s mode
// with peers.
func sessionsApply(lb *stellarv1.LoadBalancerStatus, mode render.BGPMode) bool {
	return mode == render.BGPModeFRRK8s && lb != nil && lb.Mode == stellarv1.LoadBalancerBGP && len(lb.Peers) > 0
}

// observeSessions adds frr-k8s' BGPSessionStates to the load-balancer status render intended
// (peers[].sessions), and prepares the condition PeersEstablished and the
// stellar_node_bgp_session_up metric. It runs after observeLoadBalancer; without frr-k8s mode, or
// without frr-k8s' CRD (nothing reports sessions), the status says nothing about sessions.
func (r *Reconciler) observeSessions(ctx context.Context, s *scope) error {
	node, lb := s.node, s.intended.LoadBalancer
	installed := false
	if sessionsApply(lb, r.Options.BGPMode) {
		var err error
		if installed, err = r.frrK8sInstalled(); err != nil {
			return err
		}
	}
	if !installed {
		r.Metrics.recordSessions(node, nil)
		return nil
	}
	list := NewBGPSessionStateList()
	if err := r.sessionReader().List(ctx, list, client.InNamespace(r.Options.frrK8sNamespace())); err != nil {
		return fmt.Errorf("listing frr-k8s' BGPSessionStates: %w", err)
	}
	lb.Peers = withSessions(lb.Peers, sessionsOf(list.Items))
	passwords := map[string]bool{}
	for _, p := range node.Spec.LoadBalancer.BGP.Peers {
		if addr, ok := p.ParsedAddress(); ok {
			passwords[addr.String()] = p.PasswordSecretRef != nil
		}
	}
	c := peersCondition(node.Generation, lb.Peers, passwords)
	s.peersEstablished = &c
	r.Metrics.recordSessions(node, lb.Peers)
	return nil
}

// nodesOfSessionState maps a session state to the nodes peering with its router.
func (r *Reconciler) nodesOfSessionState(ctx context.Context, obj client.Object) []reconcile.Request {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil
	}
	peer, _, _ := unstructured.NestedString(u.Object, "status", "peer")
	addr, ok := stellarv1.ParseAddress(peer)
	if !ok {
		return nil
	}
	return requestsFor((&cacheClaims{ctx: ctx, reader: r.Client}).ByRouter(addr))
}

func (r *Reconciler) frrK8sInstalled() (bool, error) {
	_, err := r.Client.RESTMapper().RESTMapping(BGPSessionStateGVK().GroupKind(), BGPSessionStateGVK().Version)
	if err == nil {
		return true, nil
	}
	if meta.IsNoMatchError(err) {
		return false, nil
	}
	return false, err
}

// sessionReader reads BGPSessionStates from the cache when they are watched, else from the API.
func (r *Reconciler) sessionReader() client.Reader {
	if r.watchesSessions {
		return r.Client
	}
	return r.APIReader
}

func (o Options) frrK8sNamespace() string {
	if o.FRRK8sNamespace != "" {
		return o.FRRK8sNamespace
	}
	return DefaultFRRK8sNamespace
}

// WatchSessions makes the controller watch frr-k8s' BGPSessionStates (through the manager's
// cache, which must then be limited to the frr-k8s namespace for them); set it only when the CRD
// exists before the manager starts. Without it they are read from the API on every pass.
func (r *Reconciler) WatchSessions(watch bool) { r.watchesSessions = watch }

func newSessionUpGauge() *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stellar_node_bgp_session_up",
		Help: "1 when frr-k8s reports a StellarNode's BGP session to a peer Established on a node (and BFD up where used), else 0; frr-k8s mode only."},
		[]string{"namespace", "name", "peer", "node"})
}

func (m *Metrics) recordSessions(node *stellarv1.StellarNode, peers []stellarv1.PeerStatus) {
	if m == nil {
		return
	}
	m.sessionUp.DeletePartialMatch(prometheus.Labels{"namespace": node.Namespace, "name": node.Name})
	for _, p := range peers {
		for _, s := range p.Sessions {
			up := 0.0
			if s.BGPState == bgpEstablished && (s.BFDState == "" || s.BFDState == bfdUp || s.BFDState == bfdNotInUse) {
				up = 1
			}
			m.sessionUp.WithLabelValues(node.Namespace, node.Name, p.Address, s.Node).Set(up)
		}
	}
}
