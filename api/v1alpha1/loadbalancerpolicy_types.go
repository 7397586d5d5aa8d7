package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LoadBalancerPolicySpec is what the namespaces a policy selects may ask MetalLB and external-dns
// for. Each list grants: a node may use an address, pool, router, local ASN, community or DNS name
// when some policy selecting its namespace grants it. A list left out grants nothing of its kind.
// +kubebuilder:validation:XValidation:rule="has(self.namespaceSelector)",message="namespaceSelector is required ({} selects every namespace)"
type LoadBalancerPolicySpec struct {
	// namespaceSelector selects the namespaces the policy applies to; {} selects every namespace.
	// +required
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector"`

	// addresses are the CIDRs a node's loadBalancerIP may lie in, e.g. "192.0.2.0/24".
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=49
	// +kubebuilder:validation:XValidation:rule="self.all(c, isCIDR(c))",message="addresses must be CIDRs such as 192.0.2.0/24 or 2001:db8::/64"
	Addresses []string `json:"addresses,omitempty"`

	// addressPools are the IPAddressPool names a node's addressPool may name.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	AddressPools []string `json:"addressPools,omitempty"`

	// routers are the BGP routers a node may peer with: an address range and the ASNs allowed there.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	Routers []RouterGrant `json:"routers,omitempty"`

	// localASNs are the ASN ranges a node's bgp.localASN may take.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	LocalASNs []ASNRange `json:"localASNs,omitempty"`

	// communities are the standard communities a node may attach: "A:B" with either part "*"
	// for any value, or a well-known name such as no-export.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.all(c, c.matches('^([0-9]{1,5}|[*]):([0-9]{1,5}|[*])$') || c in ['no-export', 'no-advertise', 'local-as', 'no-peer', 'blackhole', 'graceful-shutdown', 'accept-own'])",message="communities must be A:B patterns (each part a number or *) or well-known community names"
	Communities []string `json:"communities,omitempty"`

	// largeCommunities are the large communities a node may attach: "G:L1:L2", each part a number or "*".
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=34
	// +kubebuilder:validation:XValidation:rule="self.all(c, c.matches('^([0-9]{1,10}|[*]):([0-9]{1,10}|[*]):([0-9]{1,10}|[*])$'))",message="largeCommunities must be G:L1:L2 patterns, each part a number or *"
	LargeCommunities []string `json:"largeCommunities,omitempty"`

	// dnsZones are the DNS zones a node may register names in: a hostname must equal a zone or
	// end in "." + zone.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=253
	DNSZones []string `json:"dnsZones,omitempty"`
}

// RouterGrant allows peering with the routers of a range, with the given ASNs.
type RouterGrant struct {
	// address is a CIDR (or one address as /32, /128) of routers.
	// +required
	// +kubebuilder:validation:MaxLength=49
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="address must be a CIDR such as 192.0.2.1/32"
	Address string `json:"address"`
	// asns the routers may have; empty allows any ASN.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	ASNs []ASNRange `json:"asns,omitempty"`
}

// ASNRange is an inclusive range of autonomous system numbers; max defaults to min.
// +kubebuilder:validation:XValidation:rule="!has(self.max) || self.max >= self.min",message="max must not be below min"
type ASNRange struct {
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	Min int64 `json:"min"`
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	Max *int64 `json:"max,omitempty"`
}

// Contains reports whether asn lies in the range.
func (r ASNRange) Contains(asn int64) bool {
	upper := r.Min
	if r.Max != nil {
		upper = *r.Max
	}
	return asn >= r.Min && asn <= upper
}

// LoadBalancerPolicy is a cluster administrator's fence around what StellarNodes of some
// namespaces may announce: addresses, pools, routers, ASNs, communities and DNS zones. While no
// policy exists, nothing is fenced; once one exists, a node may use only what a policy selecting
// its namespace grants.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=lbpolicy,categories=stellar
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type LoadBalancerPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec LoadBalancerPolicySpec `json:"spec"`
}

// LoadBalancerPolicyList is a list of LoadBalancerPolicies.
// +kubebuilder:object:root=true
type LoadBalancerPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []LoadBalancerPolicy `json:"items"`
}
