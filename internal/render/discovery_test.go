package render_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// The spec's globalDiscovery block, on the spec's anycast node.
func specDiscovery() *stellarv1.GlobalDiscoverySpec {
	return &stellarv1.GlobalDiscoverySpec{
		Enabled: ptr.To(true), Region: "us-east", Zone: "us-east-1a", Priority: ptr.To[int32](100), TopologyAwareHints: true,
		ExternalDNS: &stellarv1.ExternalDNSSpec{Hostname: "horizon.stellar.example.com", TTL: ptr.To[int64](60), Provider: "route53"},
	}
}

func services(t *testing.T, node *stellarv1.StellarNode, facts render.Facts) (cluster, lb *corev1.Service, pod map[string]string) {
	t.Helper()
	result := render.Desired(node, facts)
	for _, svc := range find[*corev1.Service](result.Objects) {
		switch svc.Name {
		case render.ServiceName(node):
			cluster = svc
		case render.LoadBalancerServiceName(node):
			lb = svc
		}
	}
	for _, d := range find[*appsv1.Deployment](result.Objects) {
		pod = d.Spec.Template.Labels
	}
	if cluster == nil || lb == nil {
		t.Fatalf("missing services in %d objects", len(result.Objects))
	}
	return cluster, lb, pod
}

func TestSpecGlobalDiscoveryBecomesLabelsTrafficDistributionAndDNSAnnotations(t *testing.T) {
	node := readExample(t, "../../examples/horizon-anycast.yaml")
	node.Spec.GlobalDiscovery = specDiscovery()
	facts := testFacts(node, render.BGPModeFRRK8s)
	facts.Discovery = render.DiscoveryFacts{ServerMinor: 37}
	cluster, lb, pod := services(t, node, facts)
	for _, svc := range []*corev1.Service{cluster, lb} {
		if svc.Labels["stellar.org/region"] != "us-east" || svc.Labels["stellar.org/zone"] != "us-east-1a" || svc.Annotations["stellar.org/priority"] != "100" {
			t.Errorf("%s: labels %v annotations %v", svc.Name, svc.Labels, svc.Annotations)
		}
		if svc.Spec.TrafficDistribution == nil || *svc.Spec.TrafficDistribution != "PreferSameZone" {
			t.Errorf("%s: trafficDistribution = %v", svc.Name, svc.Spec.TrafficDistribution)
		}
	}
	want := map[string]string{
		"external-dns.alpha.kubernetes.io/hostname":       "horizon.stellar.example.com",
		"external-dns.alpha.kubernetes.io/ttl":            "60",
		"external-dns.alpha.kubernetes.io/set-identifier": "us-east",
		"external-dns.alpha.kubernetes.io/aws-weight":     "100",
	}
	for k, v := range want {
		if lb.Annotations[k] != v {
			t.Errorf("LB annotation %s = %q, want %q", k, lb.Annotations[k], v)
		}
	}
	if _, ok := cluster.Annotations["external-dns.alpha.kubernetes.io/hostname"]; ok {
		t.Error("the ClusterIP Service carries the DNS name: external-dns would publish a private address")
	}
	if lb.Spec.Selector["stellar.org/region"] != "" {
		t.Error("the region became part of the pod selector")
	}
	if pod["stellar.org/region"] != "us-east" || pod["stellar.org/zone"] != "us-east-1a" {
		t.Errorf("pod labels = %v", pod)
	}
}

func TestTrafficDistributionFollowsTheAPIServerVersion(t *testing.T) {
	cases := []struct {
		name       string
		minor      int
		field      string
		annotation bool
	}{
		{"1.35 and later use PreferSameZone", 35, "PreferSameZone", false},
		{"1.37 uses PreferSameZone", 37, "PreferSameZone", false},
		{"1.31 to 1.34 use the older PreferClose", 33, "PreferClose", false},
		{"older servers get the topology-mode annotation", 29, "", true},
		{"an unknown version is treated as old", 0, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			field, annotation := render.TrafficDistribution(tc.minor)
			if field != tc.field || annotation != tc.annotation {
				t.Fatalf("got %q/%v", field, annotation)
			}
			node := readExample(t, "../../examples/horizon-anycast.yaml")
			node.Spec.GlobalDiscovery = specDiscovery()
			facts := testFacts(node, render.BGPModeFRRK8s)
			facts.Discovery.ServerMinor = tc.minor
			_, lb, _ := services(t, node, facts)
			if got := lb.Annotations["service.kubernetes.io/topology-mode"]; (got == "Auto") != tc.annotation {
				t.Errorf("topology-mode annotation = %q", got)
			}
		})
	}
}

func TestExternalDNSAnnotations(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(gd *stellarv1.GlobalDiscoverySpec, f *render.DiscoveryFacts)
		want   map[string]string
		absent []string
	}{
		{"the user's weight and annotations win", func(gd *stellarv1.GlobalDiscoverySpec, _ *render.DiscoveryFacts) {
			gd.ExternalDNS.Annotations = map[string]string{"external-dns.alpha.kubernetes.io/aws-weight": "7"}
		}, map[string]string{"external-dns.alpha.kubernetes.io/aws-weight": "7", "external-dns.alpha.kubernetes.io/set-identifier": "us-east"}, nil},
		{"a non-weighted provider gets no set-identifier", func(gd *stellarv1.GlobalDiscoverySpec, _ *render.DiscoveryFacts) {
			gd.ExternalDNS.Provider = "cloudflare"
		}, map[string]string{"external-dns.alpha.kubernetes.io/hostname": "horizon.stellar.example.com"},
			[]string{"external-dns.alpha.kubernetes.io/set-identifier", "external-dns.alpha.kubernetes.io/aws-weight"}},
		{"external-dns v0.22+ reads the new prefix", func(_ *stellarv1.GlobalDiscoverySpec, f *render.DiscoveryFacts) {
			f.ExternalDNSPrefix = "external-dns.kubernetes.io/"
		}, map[string]string{"external-dns.kubernetes.io/hostname": "horizon.stellar.example.com", "external-dns.kubernetes.io/ttl": "60"},
			[]string{"external-dns.alpha.kubernetes.io/hostname"}},
		{"a priority above Route 53's range is capped at 255", func(gd *stellarv1.GlobalDiscoverySpec, _ *render.DiscoveryFacts) {
			gd.Priority = ptr.To[int32](1000)
		}, map[string]string{"external-dns.alpha.kubernetes.io/aws-weight": "255"}, nil},
		{"without a region the set-identifier is the node", func(gd *stellarv1.GlobalDiscoverySpec, _ *render.DiscoveryFacts) {
			gd.Region = ""
		}, map[string]string{"external-dns.alpha.kubernetes.io/set-identifier": "stellar-horizon-anycast"}, nil},
		{"disabled discovery adds nothing", func(gd *stellarv1.GlobalDiscoverySpec, _ *render.DiscoveryFacts) {
			gd.Enabled = ptr.To(false)
		}, nil, []string{"external-dns.alpha.kubernetes.io/hostname", "stellar.org/priority"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			node := readExample(t, "../../examples/horizon-anycast.yaml")
			node.Spec.GlobalDiscovery = specDiscovery()
			facts := testFacts(node, render.BGPModeFRRK8s)
			tc.mutate(node.Spec.GlobalDiscovery, &facts.Discovery)
			_, lb, _ := services(t, node, facts)
			for k, v := range tc.want {
				if lb.Annotations[k] != v {
					t.Errorf("%s = %q, want %q", k, lb.Annotations[k], v)
				}
			}
			for _, k := range tc.absent {
				if _, ok := lb.Annotations[k]; ok {
					t.Errorf("%s is set", k)
				}
			}
		})
	}
}

func TestExternalDNSWithoutALoadBalancerIsAWarning(t *testing.T) {
	node := readExample(t, "../../examples/horizon-anycast.yaml")
	node.Spec.GlobalDiscovery = specDiscovery()
	node.Spec.LoadBalancer.Enabled = ptr.To(false)
	result := render.Desired(node, testFacts(node, render.BGPModeFRRK8s))
	if !hasReason(result.Problems, stellarv1.ReasonExternalDNSNeedsLoadBalancer) {
		t.Fatalf("problems = %v", result.Problems)
	}
}

func TestHealthThresholdsReachTheSidecar(t *testing.T) {
	node := readExample(t, "../../examples/horizon-anycast.yaml")
	node.Spec.HealthCheck = &stellarv1.HealthCheckSpec{PeriodSeconds: ptr.To[int32](2), TimeoutSeconds: ptr.To[int32](1),
		MaxLedgerAgeSeconds: ptr.To[int32](30), MaxIngestLag: ptr.To[int64](5)}
	result := render.Desired(node, testFacts(node, render.BGPModeFRRK8s))
	dep := find[*appsv1.Deployment](result.Objects)[0]
	sidecar := dep.Spec.Template.Spec.Containers[1]
	got := strings.Join(sidecar.Args, " ")
	for _, want := range []string{"--period=2s", "--timeout=1s", "--max-ledger-age=30s", "--max-ingest-lag=5"} {
		if !strings.Contains(got, want) {
			t.Errorf("sidecar args %q lack %s", got, want)
		}
	}
}
