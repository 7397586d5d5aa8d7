package render

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// Global discovery labels and annotations.
const (
	LabelRegion        = "stellar.org/region"
	LabelZone          = "stellar.org/zone"
	AnnotationPriority = "stellar.org/priority"
	// AnnotationTopologyMode is the pre-trafficDistribution way to ask for topology-aware routing.
	AnnotationTopologyMode = "service.kubernetes.io/topology-mode"
	// DefaultExternalDNSPrefix is read by every external-dns release; v0.22+ also reads
	// "external-dns.kubernetes.io/" (--external-dns-prefix).
	DefaultExternalDNSPrefix = "external-dns.alpha.kubernetes.io/"
)

// DiscoveryFacts are cluster facts global discovery depends on.
type DiscoveryFacts struct {
	// ServerMinor is the apiserver's minor version (1.<minor>); 0 when unknown.
	ServerMinor int
	// ExternalDNSPrefix is the annotation prefix the cluster's external-dns reads.
	ExternalDNSPrefix string
}

// discoveryLabels put region and zone on pods and Services, so dashboards, network policies and
// selectors can find a region's nodes.
func discoveryLabels(node *stellarv1.StellarNode) map[string]string {
	gd := node.EffectiveGlobalDiscovery()
	if gd == nil {
		return nil
	}
	labels := map[string]string{}
	if gd.Region != "" {
		labels[LabelRegion] = gd.Region
	}
	if gd.Zone != "" {
		labels[LabelZone] = gd.Zone
	}
	return labels
}

// TrafficDistribution is how a Service keeps traffic in the client's zone on this apiserver:
// spec.trafficDistribution PreferSameZone (GA in 1.35), its older name PreferClose (1.31–1.34),
// or the topology-mode annotation before the field existed.
func TrafficDistribution(serverMinor int) (field string, annotation bool) {
	switch {
	case serverMinor >= 35:
		return corev1.ServiceTrafficDistributionPreferSameZone, false
	case serverMinor >= 31:
		return corev1.ServiceTrafficDistributionPreferClose, false
	default:
		return "", true
	}
}

// withDiscovery adds region/zone labels, the priority annotation and topology-aware routing to a
// Service. The pod selector never changes: labels are added, not selected on.
func withDiscovery(svc *corev1.Service, node *stellarv1.StellarNode, facts DiscoveryFacts) {
	gd := node.EffectiveGlobalDiscovery()
	if gd == nil {
		return
	}
	for k, v := range discoveryLabels(node) {
		svc.Labels[k] = v
	}
	if svc.Annotations == nil {
		svc.Annotations = map[string]string{}
	}
	svc.Annotations[AnnotationPriority] = strconv.Itoa(int(gd.EffectivePriority()))
	if gd.TopologyAwareHints {
		field, annotation := TrafficDistribution(facts.ServerMinor)
		if annotation {
			svc.Annotations[AnnotationTopologyMode] = "Auto"
		} else {
			svc.Spec.TrafficDistribution = &field
		}
	}
}

// weightedProviders are external-dns providers that route by weight per record set.
func weightedProviders() map[string]bool {
	return map[string]bool{"route53": true, "aws": true, "aws-sd": true}
}

// externalDNSAnnotations turn externalDns into the annotations external-dns reads on the LB
// Service: hostname and ttl, the user's annotations as they are, and for weighted providers one
// record set per region (set-identifier) weighted by priority, unless the user set them.
func externalDNSAnnotations(node *stellarv1.StellarNode, facts DiscoveryFacts) map[string]string {
	gd := node.EffectiveGlobalDiscovery()
	if gd == nil || gd.ExternalDNS == nil {
		return nil
	}
	dns := gd.ExternalDNS
	prefix := facts.ExternalDNSPrefix
	if prefix == "" {
		prefix = DefaultExternalDNSPrefix
	}
	out := map[string]string{prefix + "hostname": dns.Hostname}
	if dns.TTL != nil {
		out[prefix+"ttl"] = strconv.FormatInt(*dns.TTL, 10)
	}
	userSet := func(suffix string) bool {
		for k := range dns.Annotations {
			if strings.HasSuffix(k, "/"+suffix) && strings.Contains(k, "external-dns") {
				return true
			}
		}
		return false
	}
	if weightedProviders()[strings.ToLower(dns.Provider)] {
		if !userSet("set-identifier") {
			id := gd.Region
			if id == "" {
				id = node.Namespace + "-" + node.Name
			}
			out[prefix+"set-identifier"] = id
		}
		if !userSet("aws-weight") {
			weight := gd.EffectivePriority()
			if weight > 255 { // Route 53 weights are 0..255
				weight = 255
			}
			out[prefix+"aws-weight"] = strconv.Itoa(int(weight))
		}
	}
	for k, v := range dns.Annotations {
		out[k] = v
	}
	return out
}

// discoveryProblems explains what global discovery cannot do for this node.
func discoveryProblems(node *stellarv1.StellarNode) []validate.Problem {
	gd := node.EffectiveGlobalDiscovery()
	if gd == nil || gd.ExternalDNS == nil || node.LoadBalancerEnabled() {
		return nil
	}
	return []validate.Problem{validate.Warnf("spec.globalDiscovery.externalDns", stellarv1.ReasonExternalDNSNeedsLoadBalancer,
		"external-dns publishes LoadBalancer Services: enable loadBalancer to register "+gd.ExternalDNS.Hostname)}
}

// DNSName is the hostname registered for the node, if any.
func DNSName(node *stellarv1.StellarNode) string {
	if gd := node.EffectiveGlobalDiscovery(); gd != nil && gd.ExternalDNS != nil && node.LoadBalancerEnabled() {
		return gd.ExternalDNS.Hostname
	}
	return ""
}
