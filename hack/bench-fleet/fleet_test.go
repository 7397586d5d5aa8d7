package main

import (
	"reflect"
	"testing"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/operator"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

func TestFleetIsTheSameForTheSameArguments(t *testing.T) {
	a, err := fleet(250, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, err := fleet(250, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("two fleets of the same arguments differ")
	}
}

func TestFleetMixesBGPL2AndValidatorsOverEveryNamespace(t *testing.T) {
	nodes, err := fleet(100, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mixOf(nodes), "80 BGP-anycast Horizons, 10 L2 Horizons, 10 validators"; got != want {
		t.Errorf("mix = %q, want %q", got, want)
	}
	if got := len(fleetNamespaces(nodes)); got != 10 {
		t.Errorf("namespaces = %d, want 10", got)
	}
	addresses := map[string]bool{}
	routers := map[string]bool{}
	pools := map[string]bool{}
	for _, n := range nodes {
		if !n.LoadBalancerEnabled() {
			continue
		}
		lb := n.Spec.LoadBalancer
		if addresses[lb.LoadBalancerIP] {
			t.Errorf("address %s is used twice", lb.LoadBalancerIP)
		}
		addresses[lb.LoadBalancerIP] = true
		pools[lb.AddressPool] = true
		if bgp := n.BGP(); bgp != nil {
			for _, p := range bgp.Peers {
				routers[p.Address] = true
			}
		}
	}
	if len(routers) != 1 {
		t.Errorf("routers = %v, want one shared router", routers)
	}
	if len(pools) != len(fleetBGPPools())+1 {
		t.Errorf("pools = %v, want the BGP pools and the L2 pool", pools)
	}
}

func TestFleetRefusesSizesItCannotAddress(t *testing.T) {
	for _, tc := range []struct {
		name              string
		nodes, namespaces int
	}{
		{"no node", 0, 1},
		{"more nodes than addresses", maxFleetNodes + 1, 1},
		{"no namespace", 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := fleet(tc.nodes, tc.namespaces); err == nil {
				t.Error("no error")
			}
		})
	}
}

// The fleet must be valid: a benchmark of nodes the operator refuses would measure refusals.
func TestEveryFleetNodeRendersWithoutProblemsAndSharedObjectsOnce(t *testing.T) {
	nodes, err := fleet(300, 4)
	if err != nil {
		t.Fatal(err)
	}
	scheme, err := operator.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	settings := renderSettings{operatorImage: operatorImage, metallbNamespace: "metallb-system", mode: render.BGPModeFRRK8s}
	objects, keys, err := desiredObjects(nodes, settings, scheme)
	if err != nil {
		t.Fatal(err)
	}
	if len(objects) != len(keys) {
		t.Errorf("%d objects but %d distinct keys", len(objects), len(keys))
	}
	kinds := map[string]int{}
	for k := range keys {
		kinds[k.gvk.Kind]++
	}
	// One router (a BGPPeer), its BFD profile, three BGP pools and one L2 pool, each once.
	if kinds["BGPPeer"] != 1 || kinds["BFDProfile"] != 1 || kinds["IPAddressPool"] != 4 {
		t.Errorf("shared objects = %d BGPPeer, %d BFDProfile, %d IPAddressPool; want 1, 1, 4", kinds["BGPPeer"], kinds["BFDProfile"], kinds["IPAddressPool"])
	}
	if kinds["BGPAdvertisement"] != 240 || kinds["L2Advertisement"] != 30 {
		t.Errorf("advertisements = %d BGP, %d L2; want one per load-balanced node", kinds["BGPAdvertisement"], kinds["L2Advertisement"])
	}
}

func TestGeneratedSecretsStandInForTheSeedsAndDatabasePasswords(t *testing.T) {
	nodes, err := fleet(20, 2)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := generatedSecrets(nodes)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, n := range nodes {
		switch n.Spec.NodeType {
		case stellarv1.NodeTypeValidator:
			ref, _ := render.SeedSecret(n)
			want[n.Namespace+"/"+ref.Name] = true
		case stellarv1.NodeTypeHorizon:
			ref, _ := render.DatabaseSecret(n)
			want[n.Namespace+"/"+ref.Name] = true
		}
	}
	if len(secrets) != len(want) {
		t.Fatalf("%d Secrets, want %d", len(secrets), len(want))
	}
	for _, s := range secrets {
		if !want[s.GetNamespace()+"/"+s.GetName()] {
			t.Errorf("unexpected Secret %s/%s", s.GetNamespace(), s.GetName())
		}
	}
}

func TestMovingNodesAreTheFirstNodesWithAHealthSidecar(t *testing.T) {
	nodes, err := fleet(30, 3)
	if err != nil {
		t.Fatal(err)
	}
	moving := movingNodes(nodes, 12)
	if len(moving) != 12 {
		t.Fatalf("%d moving nodes, want 12", len(moving))
	}
	for _, n := range moving {
		if enabled, _ := n.HealthCheck(); !enabled {
			t.Errorf("%s has no health sidecar", n.Name)
		}
	}
	if got := len(movingNodes(nodes, 1000)); got != 27 {
		t.Errorf("asking for more than exist gives %d, want the 27 load-balanced nodes", got)
	}
}

func TestMissingNamesTheExpectedObjectsNotSeen(t *testing.T) {
	a := objectKey{namespace: "ns", name: "a"}
	b := objectKey{namespace: "ns", name: "b"}
	got := missing(map[objectKey]bool{a: true, b: true}, map[objectKey]bool{a: true, {name: "other"}: true})
	if len(got) != 1 || got[0] != b {
		t.Errorf("missing = %v, want [%v]", got, b)
	}
}
