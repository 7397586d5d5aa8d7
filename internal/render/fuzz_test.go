package render_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// Whatever reaches the operator past admission (or through the CLI, which has no admission),
// rendering never panics, and every object it names is a valid Kubernetes name.
func FuzzDesired(f *testing.F) {
	f.Add("v21.0.0", "192.0.2.100", "stellar-pool", "192.168.1.1", int64(64512), int64(64513), "64512:100", "1:2:3", "us-east", int32(32), true)
	f.Add("", "2001:db8::1", "", "::1", int64(0), int64(1<<33), "no-export", "x", "", int32(0), false)
	f.Add("21.0.0", "192.0.2.7", "Bad_Pool", "192.0.2.1", int64(64512), int64(64512), "65535:0", "1:1:1", "eu", int32(32), true)
	f.Fuzz(func(t *testing.T, version, ip, pool, peer string, localASN, asn int64, community, large, region string, agg int32, native bool) {
		node := readExample(t, "../../examples/horizon-anycast.yaml")
		node.Spec.Version = version
		lb := node.Spec.LoadBalancer
		lb.LoadBalancerIP, lb.AddressPool = ip, pool
		lb.BGP.LocalASN = localASN
		lb.BGP.Peers[0].Address, lb.BGP.Peers[0].ASN = peer, asn
		lb.BGP.Communities, lb.BGP.LargeCommunities = []string{community}, []string{large}
		lb.BGP.Advertisement.AggregationLength = agg
		node.Spec.GlobalDiscovery = &stellarv1.GlobalDiscoverySpec{Region: region, TopologyAwareHints: true,
			ExternalDNS: &stellarv1.ExternalDNSSpec{Hostname: "h.example.com", Provider: "route53", TTL: ptr.To[int64](60)}}
		mode := render.BGPModeFRRK8s
		if native {
			mode = render.BGPModeNative
		}
		result := render.Desired(node, testFacts(node, mode))
		for _, obj := range result.Objects {
			if errs := validation.IsDNS1123Subdomain(obj.GetName()); len(errs) > 0 {
				// Names derived from user input (pool, IP, router address) must still be valid names.
				t.Errorf("%T %q is not a valid name: %v", obj, obj.GetName(), errs)
			}
		}
		for _, p := range result.Problems {
			if p.Field == "" || p.Reason == "" {
				t.Errorf("problem without field or reason: %+v", p)
			}
		}
	})
}
