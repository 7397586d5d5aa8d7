package render_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	metallbv1beta2 "go.universe.tf/metallb/api/v1beta2"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

func find[T client.Object](objects []client.Object) []T {
	var out []T
	for _, o := range objects {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// The spec's horizon-anycast block, as MetalLB's default (frr-k8s) mode runs it.
func TestHorizonAnycastBecomesTheMetalLBObjectsTheSpecDescribes(t *testing.T) {
	node := readExample(t, "../../examples/horizon-anycast.yaml")
	result := render.Desired(node, testFacts(node, render.BGPModeFRRK8s))
	// The block peers over eBGP (64512 -> 64513) and sets localPref: the one thing to warn about.
	if len(result.Problems) != 1 || result.Problems[0].Reason != stellarv1.ReasonLocalPrefOverEBGP || result.Problems[0].Severity != validate.SeverityWarning {
		t.Fatalf("problems: %v", result.Problems)
	}
	svcs := find[*corev1.Service](result.Objects)
	lb := svcs[len(svcs)-1]
	if lb.Name != "horizon-anycast-lb" || lb.Spec.Type != corev1.ServiceTypeLoadBalancer || lb.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
		t.Fatalf("LB service = %s %s %s", lb.Name, lb.Spec.Type, lb.Spec.ExternalTrafficPolicy)
	}
	if lb.Annotations["metallb.io/address-pool"] != "stellar-anycast-pool" || lb.Annotations["metallb.io/loadBalancerIPs"] != "192.0.2.100" {
		t.Errorf("annotations = %v", lb.Annotations)
	}
	if lb.Spec.LoadBalancerIP != "" {
		t.Error("the deprecated spec.loadBalancerIP is set")
	}
	if ports := lb.Spec.Ports; len(ports) != 2 || ports[0].Port != 8000 || ports[1].Name != "health" || ports[1].Port != 9100 {
		t.Errorf("ports = %+v", ports)
	}
	peers := find[*metallbv1beta2.BGPPeer](result.Objects)
	if len(peers) != 1 {
		t.Fatalf("%d BGPPeers", len(peers))
	}
	p := peers[0].Spec
	if p.MyASN != 64512 || p.ASN != 64513 || p.Address != "192.168.1.1" || p.Port != 179 ||
		p.HoldTime.Duration.Seconds() != 90 || p.KeepaliveTime.Duration.Seconds() != 30 || !p.EnableGracefulRestart || p.BFDProfile != "stellar-bfd" {
		t.Errorf("BGPPeer spec = %+v", p)
	}
	advs := find[*metallbv1beta1.BGPAdvertisement](result.Objects)
	if len(advs) != 1 {
		t.Fatalf("%d BGPAdvertisements", len(advs))
	}
	a := advs[0].Spec
	if strings.Join(a.Communities, ",") != "64512:100" || a.LocalPref != 100 || *a.AggregationLength != 32 ||
		strings.Join(a.Peers, ",") != peers[0].Name || strings.Join(a.IPAddressPools, ",") != "stellar-anycast-pool" {
		t.Errorf("BGPAdvertisement spec = %+v", a)
	}
	if len(a.ServiceSelectors) != 1 || a.ServiceSelectors[0].MatchLabels["stellar.org/node"] != "horizon-anycast" {
		t.Errorf("the advertisement is not limited to this node's Service: %+v", a.ServiceSelectors)
	}
	if sel := a.ServiceSelectors[0].MatchLabels; !matches(sel, lb.Labels) {
		t.Errorf("the advertisement's selector %v does not select the LB Service %v", sel, lb.Labels)
	}
	if bfd := find[*metallbv1beta1.BFDProfile](result.Objects); len(bfd) != 1 || bfd[0].Name != "stellar-bfd" {
		t.Errorf("BFDProfiles = %v", bfd)
	}
	pools := find[*metallbv1beta1.IPAddressPool](result.Objects)
	if len(pools) != 1 || pools[0].Name != "stellar-anycast-pool" || strings.Join(pools[0].Spec.Addresses, ",") != "192.0.2.100/32" {
		t.Errorf("pools = %+v", pools)
	}
	for _, obj := range append(append([]client.Object{}, toObjects(peers)...), advs[0], pools[0]) {
		if obj.GetNamespace() != "metallb-system" {
			t.Errorf("%s is in %q, not MetalLB's namespace", obj.GetName(), obj.GetNamespace())
		}
	}
	compareGolden(t, filepath.Join("testdata", "metallb", "horizon-anycast-frr-k8s.yaml"), metallbObjects(result.Objects))
}

// In native mode the same block still announces: the fields native MetalLB refuses (a BGPPeer
// with keepaliveTime stops every session of the speaker) are left out and named in a problem.
func TestHorizonAnycastInNativeModeLeavesOutAndNamesUnsupportedFields(t *testing.T) {
	node := readExample(t, "../../examples/horizon-anycast.yaml")
	result := render.Desired(node, testFacts(node, render.BGPModeNative))
	if validate.HasErrors(result.Problems) {
		t.Fatalf("errors: %v", result.Problems)
	}
	var named []string
	for _, p := range result.Problems {
		switch p.Reason {
		case stellarv1.ReasonUnsupportedByMetalLB:
			named = append(named, p.Field)
		case stellarv1.ReasonLocalPrefOverEBGP:
		default:
			t.Errorf("unexpected problem %v", p)
		}
	}
	for _, field := range []string{"spec.loadBalancer.bgp.peers[0].keepaliveTime", "spec.loadBalancer.bgp.peers[0].gracefulRestart", "spec.loadBalancer.bgp.bfdEnabled"} {
		if !contains(named, field) {
			t.Errorf("no problem names %s (got %v)", field, named)
		}
	}
	peer := find[*metallbv1beta2.BGPPeer](result.Objects)[0].Spec
	if peer.KeepaliveTime != nil || peer.EnableGracefulRestart || peer.BFDProfile != "" {
		t.Errorf("native BGPPeer carries unsupported fields: %+v", peer)
	}
	if len(find[*metallbv1beta1.BFDProfile](result.Objects)) != 0 {
		t.Error("a BFDProfile is created for native mode")
	}
	if peer.HoldTime.Duration.Seconds() != 90 {
		t.Errorf("holdTime lost: %v", peer.HoldTime)
	}
	compareGolden(t, filepath.Join("testdata", "metallb", "horizon-anycast-native.yaml"), metallbObjects(result.Objects))
}

func TestHorizonL2GetsAnL2AdvertisementForItsPool(t *testing.T) {
	node := readExample(t, "../../examples/horizon-l2.yaml")
	result := render.Desired(node, testFacts(node, render.BGPModeFRRK8s))
	l2 := find[*metallbv1beta1.L2Advertisement](result.Objects)
	if len(l2) != 1 || strings.Join(l2[0].Spec.IPAddressPools, ",") != "stellar-pool" {
		t.Fatalf("L2Advertisements = %+v", l2)
	}
	if len(find[*metallbv1beta1.BGPAdvertisement](result.Objects)) != 0 || len(find[*metallbv1beta2.BGPPeer](result.Objects)) != 0 {
		t.Error("L2 mode renders BGP objects")
	}
	compareGolden(t, filepath.Join("testdata", "metallb", "horizon-l2.yaml"), metallbObjects(result.Objects))
}

// An existing pool that is not ours is used as it is: never rendered, and the IP must be in it.
func TestAForeignPoolIsUsedAsItIsAndTheIPMustBeInside(t *testing.T) {
	node := readExample(t, "../../examples/horizon-l2.yaml")
	facts := testFacts(node, render.BGPModeFRRK8s)
	facts.MetalLB.Pools = []render.ExistingPool{{Name: "stellar-pool", Addresses: []string{"192.168.1.96/28"}}}
	result := render.Desired(node, facts)
	if len(find[*metallbv1beta1.IPAddressPool](result.Objects)) != 0 {
		t.Error("a foreign pool was rendered")
	}
	facts.MetalLB.Pools = []render.ExistingPool{{Name: "stellar-pool", Addresses: []string{"10.0.0.0/24"}}}
	result = render.Desired(node, facts)
	if !hasReason(result.Problems, stellarv1.ReasonPoolMismatch) {
		t.Fatalf("want %s, got %v", stellarv1.ReasonPoolMismatch, result.Problems)
	}
	if len(find[*metallbv1beta1.L2Advertisement](result.Objects)) != 0 {
		t.Error("MetalLB objects rendered although the IP is outside the pool")
	}
	if len(find[*corev1.Service](result.Objects)) == 0 {
		t.Error("the workload's Services were dropped with the load balancer")
	}
}

func TestWithoutMetalLBNoLoadBalancerIsRenderedAndTheReasonIsNamed(t *testing.T) {
	node := readExample(t, "../../examples/horizon-anycast.yaml")
	facts := testFacts(node, render.BGPModeFRRK8s)
	facts.MetalLB.Installed = false
	result := render.Desired(node, facts)
	if !hasReason(result.Problems, stellarv1.ReasonMetalLBNotInstalled) || validate.HasErrors(result.Problems) {
		t.Fatalf("problems = %v", result.Problems)
	}
	for _, svc := range find[*corev1.Service](result.Objects) {
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			t.Error("a LoadBalancer Service is rendered without MetalLB")
		}
	}
}

// older returns a copy of node named name, created before node.
func older(node *stellarv1.StellarNode, name string) *stellarv1.StellarNode {
	o := node.DeepCopy()
	o.Name = name
	o.CreationTimestamp = metav1.NewTime(node.CreationTimestamp.Add(-time.Hour))
	return o
}

// A later node naming the same router differently gets a problem and leaves the BGPPeer alone.
func TestAConflictingPeerDefinitionIsReportedOnTheLaterNode(t *testing.T) {
	node := readExample(t, "../../examples/horizon-anycast.yaml")
	facts := testFacts(node, render.BGPModeFRRK8s)
	other := older(node, "older")
	other.Spec.LoadBalancer.LoadBalancerIP = "192.0.2.101"
	other.Spec.LoadBalancer.BGP.Peers[0].HoldTime = ptr.To[int32](30)
	facts.MetalLB.Claims = render.NewClaims(other, node)
	result := render.Desired(node, facts)
	if !hasReason(result.Problems, stellarv1.ReasonPeerConflict) {
		t.Fatalf("problems = %v", result.Problems)
	}
	if len(find[*metallbv1beta2.BGPPeer](result.Objects)) != 0 {
		t.Error("the later node clobbers the shared BGPPeer")
	}
	if adv := find[*metallbv1beta1.BGPAdvertisement](result.Objects); len(adv) != 1 || len(adv[0].Spec.Peers) != 1 {
		t.Error("the later node stops announcing to the shared router")
	}
}

// The MD5 password reaches MetalLB only as a basic-auth Secret in its namespace.
func TestThePeerPasswordIsCopiedAsABasicAuthSecret(t *testing.T) {
	node := readExample(t, "../../examples/horizon-anycast.yaml")
	node.Spec.LoadBalancer.BGP.Peers[0].PasswordSecretRef = &stellarv1.SecretKeyRef{Name: "bgp-md5"}
	facts := testFacts(node, render.BGPModeFRRK8s)
	facts.MetalLB.PeerPasswords = map[int][]byte{0: []byte("s3cret")}
	result := render.Desired(node, facts)
	secrets := find[*corev1.Secret](result.Objects)
	if len(secrets) != 1 || secrets[0].Type != corev1.SecretTypeBasicAuth || string(secrets[0].Data["password"]) != "s3cret" || secrets[0].Namespace != "metallb-system" {
		t.Fatalf("secrets = %+v", secrets)
	}
	peer := find[*metallbv1beta2.BGPPeer](result.Objects)[0]
	if peer.Spec.PasswordSecret.Name != secrets[0].Name || peer.Spec.Password != "" {
		t.Errorf("BGPPeer password = %q / %+v", peer.Spec.Password, peer.Spec.PasswordSecret)
	}
	for _, p := range result.Problems {
		if strings.Contains(p.Message, "s3cret") {
			t.Error("a problem message holds the password")
		}
	}
}

func metallbObjects(objects []client.Object) []client.Object {
	var out []client.Object
	for _, o := range objects {
		if o.GetNamespace() == "metallb-system" {
			out = append(out, o)
		}
		if svc, ok := o.(*corev1.Service); ok && svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			out = append(out, o)
		}
	}
	return out
}

func toObjects[T client.Object](in []T) []client.Object {
	out := make([]client.Object, len(in))
	for i := range in {
		out[i] = in[i]
	}
	return out
}

func matches(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func hasReason(problems []validate.Problem, reason string) bool {
	for _, p := range problems {
		if p.Reason == reason {
			return true
		}
	}
	return false
}

// A later node defining the shared router exactly like the oldest one is no conflict: it renders
// the same BGPPeer (an unchanged apply) and carries no warning.
func TestAnIdenticalPeerDefinitionIsNoConflict(t *testing.T) {
	node := readExample(t, "../../examples/horizon-anycast.yaml")
	facts := testFacts(node, render.BGPModeFRRK8s)
	first := older(node, "older")
	first.Spec.LoadBalancer.LoadBalancerIP = "192.0.2.101"
	facts.MetalLB.Claims = render.NewClaims(first, node)
	result := render.Desired(node, facts)
	if hasReason(result.Problems, stellarv1.ReasonPeerConflict) {
		t.Fatalf("identical definitions reported as a conflict: %v", result.Problems)
	}
	if len(find[*metallbv1beta2.BGPPeer](result.Objects)) != 1 {
		t.Error("the node does not render the shared BGPPeer it defines identically")
	}
}
