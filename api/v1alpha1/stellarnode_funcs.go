package v1alpha1

import (
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Defaults of the spec's tables. Each field's default, normalisation and meaning lives in one
// accessor below; validation, render and status all call it, so they can never disagree. The CRD
// applies the same defaults at admission, but objects that never went through an apiserver (the
// CLI, tests) rely on the accessors.
const (
	DefaultReplicas            = 1
	DefaultBGPPort             = 179
	DefaultHoldTimeSeconds     = 90
	DefaultAggregationLength   = 32
	DefaultAggregationLengthV6 = 128
	DefaultHealthCheckPort     = 9100
	DefaultBFDProfile          = "stellar-bfd"
	DefaultPriority            = 100

	DefaultHealthPeriodSeconds       = 5
	DefaultHealthTimeoutSeconds      = 2
	DefaultHealthMaxLedgerAgeSeconds = 60
	DefaultHealthMaxIngestLag        = 10
)

// EffectiveReplicas is the number of pods the node runs (default 1; a Validator at most 1).
func (n *StellarNode) EffectiveReplicas() int32 {
	if n.Spec.Replicas == nil {
		return DefaultReplicas
	}
	if n.Spec.NodeType == NodeTypeValidator && *n.Spec.Replicas > 1 {
		return 1 // admission refuses more; objects that skipped admission get the safe value
	}
	return *n.Spec.Replicas
}

// RetainsData reports whether data volumes and generated Secrets outlive the node
// (retentionPolicy Retain, the default).
func (n *StellarNode) RetainsData() bool {
	return n.Spec.Storage.RetentionPolicy != RetentionDelete
}

// LoadBalancerEnabled reports whether the node asks for a load balancer: a loadBalancer block
// whose enabled is not false.
func (n *StellarNode) LoadBalancerEnabled() bool {
	lb := n.Spec.LoadBalancer
	return lb != nil && boolOr(lb.Enabled, true)
}

// HealthCheck reports whether the health sidecar runs and the port its public readiness endpoint
// listens on: only load-balanced nodes get it, unless healthCheckEnabled is false.
func (n *StellarNode) HealthCheck() (enabled bool, port int32) {
	if !n.LoadBalancerEnabled() || !boolOr(n.Spec.LoadBalancer.HealthCheckEnabled, true) {
		return false, 0
	}
	return true, n.Spec.LoadBalancer.EffectiveHealthCheckPort()
}

// EffectiveGlobalDiscovery is the node's global discovery, or nil when the block is absent or
// disabled.
func (n *StellarNode) EffectiveGlobalDiscovery() *GlobalDiscoverySpec {
	gd := n.Spec.GlobalDiscovery
	if gd == nil || !boolOr(gd.Enabled, true) {
		return nil
	}
	return gd
}

// BGP is the node's BGP configuration when its load balancer is enabled and in BGP mode, else nil.
func (n *StellarNode) BGP() *BGPSpec {
	if !n.LoadBalancerEnabled() || n.Spec.LoadBalancer.EffectiveMode() != LoadBalancerBGP {
		return nil
	}
	return n.Spec.LoadBalancer.BGP
}

// EffectiveMode is the load balancer's mode: explicit, else BGP when bgp is set, else L2.
func (lb *LoadBalancerSpec) EffectiveMode() LoadBalancerMode {
	switch {
	case lb.Mode != "":
		return lb.Mode
	case lb.BGP != nil:
		return LoadBalancerBGP
	default:
		return LoadBalancerL2
	}
}

// EffectiveExternalTrafficPolicy is the Service's policy, Local by default: with Local a Kubernetes
// node announces only while it has a ready local endpoint, which health-driven failover needs.
func (lb *LoadBalancerSpec) EffectiveExternalTrafficPolicy() corev1.ServiceExternalTrafficPolicy {
	if lb.ExternalTrafficPolicy == "" {
		return corev1.ServiceExternalTrafficPolicyLocal
	}
	return lb.ExternalTrafficPolicy
}

// EffectiveHealthCheckPort is the health sidecar's public port (default 9100).
func (lb *LoadBalancerSpec) EffectiveHealthCheckPort() int32 {
	if lb.HealthCheckPort == 0 {
		return DefaultHealthCheckPort
	}
	return lb.HealthCheckPort
}

// Address is loadBalancerIP parsed, in canonical form; false when it is unset or not an IP.
// Two spellings of one IPv6 address are the same address everywhere in the operator.
func (lb *LoadBalancerSpec) Address() (netip.Addr, bool) {
	return ParseAddress(lb.LoadBalancerIP)
}

// ParseAddress parses an IP address the way every address field of the API means it: an IPv4 or
// IPv6 address without zone; IPv4-mapped IPv6 addresses are their IPv4 address.
func ParseAddress(s string) (netip.Addr, bool) {
	addr, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || addr.Zone() != "" {
		return netip.Addr{}, false
	}
	return addr.Unmap(), true
}

// HostPrefix is the host prefix of loadBalancerIP (/32 or /128), or the zero prefix.
func (lb *LoadBalancerSpec) HostPrefix() netip.Prefix {
	addr, ok := lb.Address()
	if !ok {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(addr, addr.BitLen())
}

// EffectivePort is the router's BGP port (default 179).
func (p *BGPPeerSpec) EffectivePort() int32 {
	if p.Port == 0 {
		return DefaultBGPPort
	}
	return p.Port
}

// EffectiveHoldTime is the BGP hold time in seconds: explicit (0 means no keepalives), else three
// keepalives when only keepaliveTime is set, else 90.
func (p *BGPPeerSpec) EffectiveHoldTime() int32 {
	switch {
	case p.HoldTime != nil:
		return *p.HoldTime
	case p.KeepaliveTime != nil:
		return 3 * *p.KeepaliveTime
	default:
		return DefaultHoldTimeSeconds
	}
}

// EffectiveKeepaliveTime is the keepalive interval in seconds: explicit, else a third of the hold
// time (30 with the default hold time), as BGP and MetalLB derive it.
func (p *BGPPeerSpec) EffectiveKeepaliveTime() int32 {
	if p.KeepaliveTime != nil {
		return *p.KeepaliveTime
	}
	return p.EffectiveHoldTime() / 3
}

// EffectiveGracefulRestart reports whether graceful restart is on (default true).
func (p *BGPPeerSpec) EffectiveGracefulRestart() bool { return boolOr(p.GracefulRestart, true) }

// Address is the router's address parsed, in canonical form.
func (p *BGPPeerSpec) ParsedAddress() (netip.Addr, bool) { return ParseAddress(p.Address) }

// IBGP reports whether the session to p is internal BGP (same ASN on both ends).
func (b *BGPSpec) IBGP(p *BGPPeerSpec) bool { return p.ASN == b.LocalASN }

// EffectiveBFDProfile is the BFD profile the node's peers use: bfdProfile, or "stellar-bfd" when
// bfdEnabled names none; "" without BFD.
func (b *BGPSpec) EffectiveBFDProfile() string {
	if !boolOr(b.BFDEnabled, false) {
		return ""
	}
	if strings.TrimSpace(b.BFDProfile) == "" {
		return DefaultBFDProfile
	}
	return b.BFDProfile
}

// EffectiveAggregation is the announced prefix length for IPv4 and IPv6 (default 32 and 128).
func (b *BGPSpec) EffectiveAggregation() (v4, v6 int32) {
	v4, v6 = DefaultAggregationLength, DefaultAggregationLengthV6
	if adv := b.Advertisement; adv != nil {
		if adv.AggregationLength != 0 {
			v4 = adv.AggregationLength
		}
		if adv.AggregationLengthV6 != 0 {
			v6 = adv.AggregationLengthV6
		}
	}
	return v4, v6
}

// AggregationFor is the announced prefix length for an address of addr's family.
func (b *BGPSpec) AggregationFor(addr netip.Addr) int32 {
	v4, v6 := b.EffectiveAggregation()
	if addr.Is6() {
		return v6
	}
	return v4
}

// EffectiveLocalPref is the LOCAL_PREF of the announcement, when set.
func (b *BGPSpec) EffectiveLocalPref() *int64 {
	if b.Advertisement == nil {
		return nil
	}
	return b.Advertisement.LocalPref
}

// EffectiveNodeSelectors limit the Kubernetes nodes that announce (and peer); empty means all.
func (b *BGPSpec) EffectiveNodeSelectors() []metav1.LabelSelector {
	if b.Advertisement == nil || len(b.Advertisement.NodeSelectors) == 0 {
		return nil
	}
	out := make([]metav1.LabelSelector, len(b.Advertisement.NodeSelectors))
	for i, s := range b.Advertisement.NodeSelectors {
		out[i] = s.LabelSelector()
	}
	return out
}

// LabelSelector is the selector as Kubernetes and MetalLB type it.
func (s NodeSelector) LabelSelector() metav1.LabelSelector {
	var out metav1.LabelSelector
	if len(s.MatchLabels) > 0 {
		out.MatchLabels = make(map[string]string, len(s.MatchLabels))
		for k, v := range s.MatchLabels {
			out.MatchLabels[k] = string(v)
		}
	}
	for _, e := range s.MatchExpressions {
		req := metav1.LabelSelectorRequirement{Key: e.Key, Operator: e.Operator}
		for _, v := range e.Values {
			req.Values = append(req.Values, string(v))
		}
		out.MatchExpressions = append(out.MatchExpressions, req)
	}
	return out
}

// EffectivePriority is the region's priority (default 100).
func (gd *GlobalDiscoverySpec) EffectivePriority() int32 {
	if gd.Priority == nil {
		return DefaultPriority
	}
	return *gd.Priority
}

// Effective values of the health sidecar's thresholds.
func (h *HealthCheckSpec) EffectivePeriodSeconds() int32 {
	if h == nil || h.PeriodSeconds == nil {
		return DefaultHealthPeriodSeconds
	}
	return *h.PeriodSeconds
}

func (h *HealthCheckSpec) EffectiveTimeoutSeconds() int32 {
	if h == nil || h.TimeoutSeconds == nil {
		return DefaultHealthTimeoutSeconds
	}
	return *h.TimeoutSeconds
}

func (h *HealthCheckSpec) EffectiveMaxLedgerAgeSeconds() int32 {
	if h == nil || h.MaxLedgerAgeSeconds == nil {
		return DefaultHealthMaxLedgerAgeSeconds
	}
	return *h.MaxLedgerAgeSeconds
}

func (h *HealthCheckSpec) EffectiveMaxIngestLag() int64 {
	if h == nil || h.MaxIngestLag == nil {
		return DefaultHealthMaxIngestLag
	}
	return *h.MaxIngestLag
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// Ports the Stellar containers of a node listen on. Core's peer and HTTP ports are open in every
// node type: Horizon and RPC run stellar-core as captive core in their pod.
const (
	PortCorePeer     = 11625
	PortCoreHTTP     = 11626
	PortHorizon      = 8000
	PortHorizonAdmin = 6000
	PortRPC          = 8000
	PortRPCAdmin     = 6061
	// PortHealthStatus serves the health sidecar's /status and /metrics inside the cluster only;
	// the public healthCheckPort serves /readyz and /healthz.
	PortHealthStatus = 9101
)

// ReservedPorts are the ports a node's own containers use, so healthCheckPort cannot be one of
// them (admission refuses it; the CEL rule and this list are checked against each other).
func (t NodeType) ReservedPorts() []int32 {
	ports := []int32{PortCorePeer, PortCoreHTTP, PortHealthStatus}
	switch t {
	case NodeTypeHorizon:
		ports = append(ports, PortHorizon, PortHorizonAdmin)
	case NodeTypeSorobanRPC:
		ports = append(ports, PortRPC, PortRPCAdmin)
	}
	return ports
}

// EffectiveIngest reports whether Horizon ingests (default true; false runs an API-only instance).
func (h *HorizonSpec) EffectiveIngest() bool {
	if h == nil {
		return true
	}
	return boolOr(h.Ingest, true)
}

// MaxNameLength is the longest metadata.name whose derived objects all stay within Kubernetes'
// limits (admission enforces the same numbers): a StatefulSet's revision label is its name plus 11
// characters within a label's 63, and Horizon's LoadBalancer Service is <name>-lb.
func (n *StellarNode) MaxNameLength() int {
	switch {
	case n.Spec.NodeType != NodeTypeHorizon:
		return 52
	case n.Spec.Horizon != nil && n.Spec.Horizon.DatabaseSecretRef != nil:
		return 60
	default:
		return 43 // the managed database's StatefulSet <name>-postgres
	}
}

// EffectiveSidecarUpdate is when the health sidecar follows a new operator image (OnPodChange).
func (h *HealthCheckSpec) EffectiveSidecarUpdate() SidecarUpdatePolicy {
	if h == nil || h.SidecarUpdate == "" {
		return SidecarUpdateOnPodChange
	}
	return h.SidecarUpdate
}
