package render_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/stellar-operator/stellar-operator/internal/render"
)

func TestLoadBalancerClassReachesTheServiceOnlyWhenSet(t *testing.T) {
	for _, tc := range []struct {
		name, class string
		want        *string
	}{
		{name: "no class leaves the Service to a MetalLB without --lb-class", class: "", want: nil},
		{name: "a class reaches the Service for the MetalLB started with that --lb-class", class: "example.org/metallb-east", want: ptr.To("example.org/metallb-east")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node := readExample(t, "../../examples/horizon-anycast.yaml")
			node.Spec.LoadBalancer.LoadBalancerClass = tc.class
			result := render.Desired(node, testFacts(node, render.BGPModeFRRK8s))
			var lb *corev1.Service
			for _, s := range find[*corev1.Service](result.Objects) {
				if s.Name == render.LoadBalancerServiceName(node) {
					lb = s
				}
			}
			if lb == nil {
				t.Fatal("no LoadBalancer Service rendered")
			}
			got := lb.Spec.LoadBalancerClass
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("loadBalancerClass = %v, want %v", deref(got), deref(tc.want))
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}
