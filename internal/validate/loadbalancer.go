package validate

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
)

// ClusterFacts are what a load balancer is checked against.
type ClusterFacts struct {
	// PoolAddresses of IPAddressPools that exist and are not the operator's, by name.
	PoolAddresses map[string][]string
	// Native is true when MetalLB runs its native BGP implementation.
	Native bool
}

var (
	communityPattern      = regexp.MustCompile(`^[0-9]{1,5}:[0-9]{1,5}$`)
	largeCommunityPattern = regexp.MustCompile(`^[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10}$`)
)

func wellKnownCommunity(c string) bool {
	switch c {
	case "no-export", "no-advertise", "local-as", "no-peer", "blackhole", "graceful-shutdown", "accept-own":
		return true
	}
	return false
}

// LoadBalancer checks a node's load balancer against the rules MetalLB enforces at parse time and
// the routing facts the spec's users trip on. Errors block the load balancer; warnings explain
// what will not behave as the spec suggests.
func LoadBalancer(node *stellarv1.StellarNode, facts ClusterFacts) []Problem {
	lb := node.Spec.LoadBalancer
	if lb == nil {
		return nil
	}
	var problems []Problem
	var ip netip.Addr
	if lb.LoadBalancerIP != "" {
		var err error
		if ip, err = netip.ParseAddr(lb.LoadBalancerIP); err != nil {
			return []Problem{Errorf("spec.loadBalancer.loadBalancerIP", stellarv1.ReasonInvalidSpec, fmt.Sprintf("%q is not an IP address", lb.LoadBalancerIP))}
		}
	}
	if lb.AddressPool != "" && len(validation.IsDNS1123Label(lb.AddressPool)) > 0 {
		return []Problem{Errorf("spec.loadBalancer.addressPool", stellarv1.ReasonInvalidSpec,
			fmt.Sprintf("%q is not a valid IPAddressPool name (lowercase letters, digits and '-', at most 63)", lb.AddressPool))}
	}
	poolPrefix := 0
	if lb.AddressPool != "" {
		if addresses, foreign := facts.PoolAddresses[lb.AddressPool]; foreign {
			if ip.IsValid() {
				bits, ok := poolContains(addresses, ip)
				if !ok {
					problems = append(problems, Errorf("spec.loadBalancer.loadBalancerIP", stellarv1.ReasonPoolMismatch,
						fmt.Sprintf("%s is not in IPAddressPool %s (%s)", ip, lb.AddressPool, strings.Join(addresses, ", "))))
				}
				poolPrefix = bits
			}
		} else if !ip.IsValid() {
			problems = append(problems, Errorf("spec.loadBalancer.addressPool", stellarv1.ReasonPoolMissing,
				fmt.Sprintf("IPAddressPool %s does not exist and there is no loadBalancerIP to create it from", lb.AddressPool)))
		}
	}
	if ip.IsValid() && poolPrefix == 0 {
		poolPrefix = ip.BitLen() // the operator's own pool holds host prefixes
	}
	mode := lb.Mode
	if mode == "" && lb.BGP != nil {
		mode = stellarv1.LoadBalancerBGP
	}
	if mode != stellarv1.LoadBalancerBGP || lb.BGP == nil {
		return problems
	}
	bgp := lb.BGP
	if bgp.BFDProfile != "" && len(validation.IsDNS1123Label(bgp.BFDProfile)) > 0 {
		problems = append(problems, Errorf("spec.loadBalancer.bgp.bfdProfile", stellarv1.ReasonInvalidSpec,
			fmt.Sprintf("%q is not a valid BFDProfile name", bgp.BFDProfile)))
	}
	if lb.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyCluster {
		problems = append(problems, Warnf("spec.loadBalancer.externalTrafficPolicy", stellarv1.ReasonNoHealthDrivenWithdrawal,
			"with externalTrafficPolicy Cluster every node announces the IP while any pod anywhere is ready: an unsynced region keeps its route; use Local for health-driven anycast failover"))
	}
	problems = append(problems, checkASN("spec.loadBalancer.bgp.localASN", bgp.LocalASN)...)
	var ebgpPeers []string
	for i, p := range bgp.Peers {
		field := fmt.Sprintf("spec.loadBalancer.bgp.peers[%d]", i)
		if _, err := netip.ParseAddr(p.Address); err != nil {
			problems = append(problems, Errorf(field+".address", stellarv1.ReasonInvalidBGP, fmt.Sprintf("%q is not an IP address", p.Address)))
		}
		problems = append(problems, checkASN(field+".asn", p.ASN)...)
		if p.HoldTime != 0 && p.HoldTime < 3 {
			problems = append(problems, Errorf(field+".holdTime", stellarv1.ReasonInvalidBGP, "holdTime must be 0 or at least 3 seconds"))
		}
		hold := p.HoldTime
		if hold == 0 {
			hold = 90
		}
		if p.KeepaliveTime != nil && *p.KeepaliveTime > hold {
			problems = append(problems, Errorf(field+".keepaliveTime", stellarv1.ReasonInvalidBGP,
				fmt.Sprintf("keepaliveTime %d s exceeds holdTime %d s", *p.KeepaliveTime, hold)))
		}
		if p.EBGPMultiHop && p.ASN == bgp.LocalASN {
			problems = append(problems, Errorf(field+".ebgpMultiHop", stellarv1.ReasonEBGPMultiHopOnIBGP,
				fmt.Sprintf("peer %s is iBGP (asn %d equals localASN): ebgpMultiHop applies to eBGP sessions only", p.Address, p.ASN)))
		}
		if p.ASN != bgp.LocalASN {
			ebgpPeers = append(ebgpPeers, p.Address)
		}
	}
	for i, c := range bgp.Communities {
		if !wellKnownCommunity(c) && !validCommunity(c) {
			problems = append(problems, Errorf(fmt.Sprintf("spec.loadBalancer.bgp.communities[%d]", i), stellarv1.ReasonInvalidBGP,
				fmt.Sprintf("%q is not A:B with 16-bit parts nor a well-known community", c)))
		}
	}
	for i, c := range bgp.LargeCommunities {
		if !validLargeCommunity(c) {
			problems = append(problems, Errorf(fmt.Sprintf("spec.loadBalancer.bgp.largeCommunities[%d]", i), stellarv1.ReasonInvalidBGP,
				fmt.Sprintf("%q is not G:L1:L2 with 32-bit parts", c)))
		}
	}
	if adv := bgp.Advertisement; adv != nil {
		if adv.LocalPref != nil && len(ebgpPeers) > 0 {
			problems = append(problems, Warnf("spec.loadBalancer.bgp.advertisement.localPref", stellarv1.ReasonLocalPrefOverEBGP,
				fmt.Sprintf("LOCAL_PREF is not sent to eBGP peers (%s: asn differs from localASN %d); to steer them use communities the router maps to local-pref, or AS-path prepending",
					strings.Join(ebgpPeers, ", "), bgp.LocalASN)))
		}
		length := adv.AggregationLength
		if ip.Is6() {
			length = adv.AggregationLengthV6
		}
		if ip.IsValid() && length != 0 && int(length) < poolPrefix {
			problems = append(problems, Errorf("spec.loadBalancer.bgp.advertisement.aggregationLength", stellarv1.ReasonAggregationTooShort,
				fmt.Sprintf("aggregation /%d is shorter than the pool's /%d prefix, which MetalLB rejects", length, poolPrefix)))
		}
	}
	if facts.Native && ip.Is6() {
		problems = append(problems, Warnf("spec.loadBalancer.loadBalancerIP", stellarv1.ReasonUnsupportedByMetalLB,
			"MetalLB's native BGP mode cannot advertise IPv6 prefixes"))
	}
	return problems
}

func checkASN(field string, asn int64) []Problem {
	if asn < 1 || asn > 4294967295 {
		return []Problem{Errorf(field, stellarv1.ReasonInvalidBGP, fmt.Sprintf("ASN %d is outside 1..4294967295", asn))}
	}
	return nil
}

func validCommunity(c string) bool {
	if !communityPattern.MatchString(c) {
		return false
	}
	for _, part := range strings.Split(c, ":") {
		if n, err := strconv.ParseUint(part, 10, 64); err != nil || n > 65535 {
			return false
		}
	}
	return true
}

func validLargeCommunity(c string) bool {
	if !largeCommunityPattern.MatchString(c) {
		return false
	}
	for _, part := range strings.Split(c, ":") {
		if n, err := strconv.ParseUint(part, 10, 64); err != nil || n > 4294967295 {
			return false
		}
	}
	return true
}

// poolContains reports whether ip is in one of a pool's entries (CIDR or a-b range), and the
// prefix length of the CIDR holding it (a range counts as host prefixes).
func poolContains(addresses []string, ip netip.Addr) (int, bool) {
	for _, a := range addresses {
		a = strings.TrimSpace(a)
		if prefix, err := netip.ParsePrefix(a); err == nil {
			if prefix.Contains(ip) {
				return prefix.Bits(), true
			}
			continue
		}
		from, to, ok := strings.Cut(a, "-")
		if !ok {
			continue
		}
		lo, err1 := netip.ParseAddr(strings.TrimSpace(from))
		hi, err2 := netip.ParseAddr(strings.TrimSpace(to))
		if err1 == nil && err2 == nil && lo.Compare(ip) <= 0 && ip.Compare(hi) <= 0 {
			return ip.BitLen(), true
		}
	}
	return 0, false
}
