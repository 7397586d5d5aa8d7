// Package admissiontest holds the invalid StellarNodes that the real apiserver must refuse
// (internal/controller's TestInvalidSpecsAreRejectedNamingTheField) and that the offline admission
// and `kubectl stellar lint` are held to: one table for both.
package admissiontest

import (
	"fmt"
	"strings"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
)

// Case is one manifest the apiserver refuses, and the field its error names.
type Case struct {
	Name  string
	Doc   string
	Field string
}

// ValidHorizon is the smallest valid StellarNode of the table.
const ValidHorizon = `
apiVersion: stellar.org/v1alpha1
kind: StellarNode
metadata:
  name: invalid
spec:
  nodeType: Horizon
  network: Mainnet
  version: "v21.0.0"
`

// ValidBGP adds a BGP load balancer to ValidHorizon.
const ValidBGP = ValidHorizon + `
  loadBalancer:
    mode: BGP
    loadBalancerIP: "192.0.2.100"
    bgp:
      localASN: 64512
      peers:
        - address: "192.168.1.1"
          asn: 64513
`

func withIP(addr string) string {
	return strings.Replace(ValidBGP, `"192.0.2.100"`, `"`+addr+`"`, 1)
}

func withSelector(selector string) string {
	return strings.Replace(ValidBGP, "localASN: 64512", "localASN: 64512\n      advertisement:\n        nodeSelectors:\n          - "+selector, 1)
}

// InvalidStellarNodes are the admission suite's invalid specs, in its order.
func InvalidStellarNodes() []Case {
	validHorizon, validBGP := ValidHorizon, ValidBGP
	cases := []Case{
		{"a node without nodeType", strings.Replace(validHorizon, "nodeType: Horizon", "", 1), "spec.nodeType"},
		{"an unknown nodeType", strings.Replace(validHorizon, "nodeType: Horizon", "nodeType: Watcher", 1), "spec.nodeType"},
		{"an unknown network", strings.Replace(validHorizon, "network: Mainnet", "network: Pubnet", 1), "spec.network"},
		{"a Custom network without customNetwork", strings.Replace(validHorizon, "network: Mainnet", "network: Custom", 1), "spec.customNetwork"},
		{"customNetwork on Mainnet", validHorizon + "  customNetwork:\n    passphrase: x\n    historyArchiveURLs: [\"https://a.example.com\"]\n", "spec.customNetwork"},
		{"a version with spaces", strings.Replace(validHorizon, `version: "v21.0.0"`, `version: "21 0"`, 1), "spec.version"},
		{"a Validator with three replicas", strings.Replace(validHorizon, "nodeType: Horizon", "nodeType: Validator", 1) + "  replicas: 3\n  validator:\n    homeDomain: example.com\n", "spec.replicas"},
		{"a Validator without homeDomain", strings.Replace(validHorizon, "nodeType: Horizon", "nodeType: Validator", 1), "spec.validator.homeDomain"},
		{"horizon settings on a Validator", strings.Replace(validHorizon, "nodeType: Horizon", "nodeType: Validator", 1) + "  validator:\n    homeDomain: example.com\n  horizon:\n    ingest: false\n", "spec.horizon"},
		{"a quorum validator with a malformed public key", strings.Replace(validHorizon, "nodeType: Horizon", "nodeType: Validator", 1) + "  validator:\n    homeDomain: example.com\n    quorumSet:\n      validators:\n        - {name: a, homeDomain: a.example.com, publicKey: GBAD, quality: HIGH}\n", "spec.validator.quorumSet.validators[0].publicKey"},
		{"an unknown retentionPolicy", validHorizon + "  storage:\n    retentionPolicy: Keep\n", "spec.storage.retentionPolicy"},
		{"mode BGP without bgp", validHorizon + "  loadBalancer:\n    mode: BGP\n", "spec.loadBalancer.bgp"},
		{"mode L2 with bgp", strings.Replace(validBGP, "mode: BGP", "mode: L2", 1), "spec.loadBalancer.bgp"},
		{"a loadBalancerIP that is not an IP", strings.Replace(validBGP, `"192.0.2.100"`, `"999.1.1.1"`, 1), "spec.loadBalancer.loadBalancerIP"},
		{"an unknown externalTrafficPolicy", strings.Replace(validBGP, "mode: BGP", "mode: BGP\n    externalTrafficPolicy: Nearest", 1), "spec.loadBalancer.externalTrafficPolicy"},
		{"a healthCheckPort above 65535", strings.Replace(validBGP, "mode: BGP", "mode: BGP\n    healthCheckPort: 70000", 1), "spec.loadBalancer.healthCheckPort"},
		{"localASN 0", strings.Replace(validBGP, "localASN: 64512", "localASN: 0", 1), "spec.loadBalancer.bgp.localASN"},
		{"localASN above 32 bits", strings.Replace(validBGP, "localASN: 64512", "localASN: 4294967296", 1), "spec.loadBalancer.bgp.localASN"},
		{"a peer ASN of 0", strings.Replace(validBGP, "asn: 64513", "asn: 0", 1), "spec.loadBalancer.bgp.peers[0].asn"},
		{"a peer address that is a hostname", strings.Replace(validBGP, `"192.168.1.1"`, `"router1.example.com"`, 1), "spec.loadBalancer.bgp.peers[0].address"},
		{"a peer port MetalLB cannot use", strings.Replace(validBGP, "asn: 64513", "asn: 64513\n          port: 20000", 1), "spec.loadBalancer.bgp.peers[0].port"},
		{"a holdTime of 2 seconds", strings.Replace(validBGP, "asn: 64513", "asn: 64513\n          holdTime: 2", 1), "spec.loadBalancer.bgp.peers[0].holdTime"},
		{"a keepaliveTime above holdTime", strings.Replace(validBGP, "asn: 64513", "asn: 64513\n          holdTime: 90\n          keepaliveTime: 100", 1), "spec.loadBalancer.bgp.peers[0].keepaliveTime"},
		{"the same peer twice", strings.Replace(validBGP, "asn: 64513", "asn: 64513\n        - address: \"192.168.1.1\"\n          asn: 64514", 1), "spec.loadBalancer.bgp.peers"},
		{"a community above 16 bits", strings.Replace(validBGP, "localASN: 64512", "localASN: 64512\n      communities: [\"70000:1\"]", 1), "spec.loadBalancer.bgp.communities"},
		{"a community that is not A:B", strings.Replace(validBGP, "localASN: 64512", "localASN: 64512\n      communities: [\"64512-100\"]", 1), "spec.loadBalancer.bgp.communities"},
		{"a large community with two parts", strings.Replace(validBGP, "localASN: 64512", "localASN: 64512\n      largeCommunities: [\"64512:1\"]", 1), "spec.loadBalancer.bgp.largeCommunities"},
		{"an aggregationLength of 33", strings.Replace(validBGP, "localASN: 64512", "localASN: 64512\n      advertisement:\n        aggregationLength: 33", 1), "spec.loadBalancer.bgp.advertisement.aggregationLength"},
		{"an aggregationLengthV6 of 129", strings.Replace(validBGP, "localASN: 64512", "localASN: 64512\n      advertisement:\n        aggregationLengthV6: 129", 1), "spec.loadBalancer.bgp.advertisement.aggregationLengthV6"},
		{"a negative localPref", strings.Replace(validBGP, "localASN: 64512", "localASN: 64512\n      advertisement:\n        localPref: -1", 1), "spec.loadBalancer.bgp.advertisement.localPref"},
		{"a bfdProfile with bfdEnabled false", strings.Replace(validBGP, "localASN: 64512", "localASN: 64512\n      bfdEnabled: false\n      bfdProfile: fast", 1), "spec.loadBalancer.bgp.bfdProfile"},
		{"an externalDns hostname with an underscore", validHorizon + "  globalDiscovery:\n    region: us-east\n    externalDns:\n      hostname: bad_host.example.com\n", "spec.globalDiscovery.externalDns.hostname"},
	}
	// Addresses that can never be announced, for loadBalancerIP and for routers.
	for _, addr := range []string{"0.0.0.0", "::", "127.0.0.1", "::1", "169.254.10.1", "fe80::1", "224.0.0.5", "ff02::2", "255.255.255.255", "0.1.2.3"} {
		cases = append(cases, Case{"loadBalancerIP " + addr, withIP(addr), "spec.loadBalancer.loadBalancerIP"})
	}
	for _, addr := range []string{"127.0.0.1", "::", "fe80::1", "239.1.1.1"} {
		cases = append(cases, Case{"router " + addr, strings.Replace(validBGP, `"192.168.1.1"`, `"`+addr+`"`, 1), "spec.loadBalancer.bgp.peers[0].address"})
	}
	cases = append(cases, []Case{
		{"an IPv4-mapped IPv6 loadBalancerIP", withIP("::ffff:192.0.2.100"), "spec.loadBalancer.loadBalancerIP"},
		{"one router in two IPv6 spellings", strings.Replace(validBGP, `"192.168.1.1"
          asn: 64513`, `"2001:db8::1"
          asn: 64513
        - address: "2001:0db8:0:0::1"
          asn: 64513`, 1), "spec.loadBalancer.bgp.peers"},
		{"one router on two ports", strings.Replace(validBGP, "asn: 64513", "asn: 64513\n        - address: \"192.168.1.1\"\n          asn: 64513\n          port: 1179", 1), "spec.loadBalancer.bgp.peers"},
		{"a load balancer without address or pool", validHorizon + "  loadBalancer:\n    mode: L2\n", "spec.loadBalancer"},
		{"a MetalLB annotation", strings.Replace(validBGP, "mode: BGP", "mode: BGP\n    annotations:\n      metallb.io/loadBalancerIPs: 198.51.100.9", 1), "metallb.io/loadBalancerIPs"},
		{"a deprecated MetalLB annotation", strings.Replace(validBGP, "mode: BGP", "mode: BGP\n    annotations:\n      metallb.universe.tf/address-pool: other", 1), "metallb.universe.tf/address-pool"},
		{"an external-dns hostname as a loadBalancer annotation", strings.Replace(validBGP, "mode: BGP", "mode: BGP\n    annotations:\n      external-dns.alpha.kubernetes.io/hostname: evil.example.com", 1), "external-dns.alpha.kubernetes.io/hostname"},
		{"a ttl as an externalDns annotation", validBGP + "  globalDiscovery:\n    externalDns:\n      hostname: h.example.com\n      annotations:\n        external-dns.kubernetes.io/ttl: \"5\"\n", "external-dns.kubernetes.io/ttl"},
		{"a node selector operator MetalLB does not know", withSelector("matchExpressions: [{key: region, operator: Near, values: [a]}]"), "spec.loadBalancer.bgp.advertisement.nodeSelectors"},
		{"In without values", withSelector("matchExpressions: [{key: region, operator: In}]"), "spec.loadBalancer.bgp.advertisement.nodeSelectors"},
		{"Exists with values", withSelector("matchExpressions: [{key: region, operator: Exists, values: [a]}]"), "spec.loadBalancer.bgp.advertisement.nodeSelectors"},
		{"an invalid label key", withSelector("matchLabels: {\"bad key!\": a}"), "spec.loadBalancer.bgp.advertisement.nodeSelectors"},
		{"an invalid label value", withSelector("matchLabels: {region: \"not a value\"}"), "spec.loadBalancer.bgp.advertisement.nodeSelectors"},
		{"a repeated node selector", withSelector("matchLabels: {region: a}\n          - matchLabels: {region: a}"), "spec.loadBalancer.bgp.advertisement.nodeSelectors"},
		{"a name starting with a digit", strings.Replace(validHorizon, "name: invalid", "name: 1horizon", 1), "metadata.name"},
		{"a Validator name too long for its StatefulSet's labels", strings.Replace(strings.Replace(validHorizon, "name: invalid", "name: "+strings.Repeat("v", 53), 1), "nodeType: Horizon", "nodeType: Validator", 1) + "  validator:\n    homeDomain: example.com\n", "metadata.name"},
		{"a Horizon name too long for its managed database", strings.Replace(validHorizon, "name: invalid", "name: "+strings.Repeat("h", 44), 1), "metadata.name"},
		{"a Horizon name too long for its LoadBalancer Service", strings.Replace(validHorizon, "name: invalid", "name: "+strings.Repeat("h", 61), 1) + "  horizon:\n    databaseSecretRef:\n      name: db\n", "metadata.name"},
	}...)
	// The health port may not be a port of the node's own containers, for every node type.
	for _, nt := range []stellarv1.NodeType{stellarv1.NodeTypeValidator, stellarv1.NodeTypeHorizon, stellarv1.NodeTypeSorobanRPC} {
		for _, port := range nt.ReservedPorts() {
			doc := strings.Replace(validBGP, "nodeType: Horizon", "nodeType: "+string(nt), 1)
			if nt == stellarv1.NodeTypeValidator {
				doc += "  validator:\n    homeDomain: example.com\n"
			}
			doc = strings.Replace(doc, "mode: BGP", fmt.Sprintf("mode: BGP\n    healthCheckPort: %d", port), 1)
			cases = append(cases, Case{fmt.Sprintf("%s health port %d", nt, port), doc, "spec.loadBalancer.healthCheckPort"})
		}
	}
	return cases
}
