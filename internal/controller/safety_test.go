package controller_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// A validator that had an identity never silently gets a new one: with its seed Secret deleted it
// keeps its public key in status, reports why, and no new seed is minted.
func TestADeletedSeedSecretNeverMintsANewIdentity(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	t.Cleanup(func() { deleteAllNodes(t, ns) })
	node := create(t, ns, readExample(t, "validator-testnet.yaml"))
	var publicKey string
	eventually(t, 20*time.Second, "the validator's public key", func() error {
		n := &stellarv1.StellarNode{}
		if err := get(ctx, ns, node.Name, n); err != nil {
			return err
		}
		if publicKey = n.Status.PublicKey; publicKey == "" {
			return fmt.Errorf("no public key yet")
		}
		return nil
	})
	seed := &corev1.Secret{}
	if err := get(ctx, ns, node.Name+"-seed", seed); err != nil {
		t.Fatal(err)
	}
	if err := env.k8s.Delete(ctx, seed); err != nil {
		t.Fatal(err)
	}
	got := waitForCondition(t, ns, node.Name, stellarv1.ConditionReady, metav1.ConditionFalse, stellarv1.ReasonSeedSecretLost)
	if got.Status.PublicKey != publicKey {
		t.Fatalf("status.publicKey changed from %s to %s", publicKey, got.Status.PublicKey)
	}
	if !strings.Contains(conditionMessage(got, stellarv1.ConditionReady), publicKey) {
		t.Errorf("the condition does not name the identity at stake: %s", conditionMessage(got, stellarv1.ConditionReady))
	}
	eventually(t, 10*time.Second, "a SeedSecretLost Event", func() error { return hasEvent(ctx, ns, node.Name, stellarv1.ReasonSeedSecretLost) })
	waitQuiet(t)
	if err := notFound(ctx, ns, node.Name+"-seed", &corev1.Secret{}); err != nil {
		t.Fatalf("a new seed was minted: %v", err)
	}
	sts := &appsv1.StatefulSet{}
	if err := get(ctx, ns, node.Name, sts); err != nil || sts.Annotations[render.AnnotationPublicKey] != publicKey {
		t.Fatalf("the StatefulSet no longer records identity %s: %v %v", publicKey, err, sts.Annotations)
	}

	// Restoring the Secret (from a backup) brings the same validator back.
	restored := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: seed.Name, Namespace: ns, Labels: seed.Labels, Annotations: seed.Annotations}, Data: seed.Data}
	if err := env.k8s.Create(ctx, restored); err != nil {
		t.Fatal(err)
	}
	got = waitForCondition(t, ns, node.Name, stellarv1.ConditionDegraded, metav1.ConditionFalse, stellarv1.ReasonAsExpected)
	if got.Status.PublicKey != publicKey {
		t.Fatalf("restored validator has public key %s, want %s", got.Status.PublicKey, publicKey)
	}
}

// The managed database keeps the password it was initialised with: a lost password Secret is
// reported, never replaced.
func TestADeletedDatabasePasswordIsNeverReplaced(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	t.Cleanup(func() { deleteAllNodes(t, ns) })
	node := create(t, ns, readExample(t, "horizon-testnet.yaml"))
	waitFor(t, ns, node.Name+"-postgres", &appsv1.StatefulSet{})
	secret := waitFor(t, ns, node.Name+"-postgres", &corev1.Secret{})
	if err := env.k8s.Delete(ctx, secret); err != nil {
		t.Fatal(err)
	}
	waitForCondition(t, ns, node.Name, stellarv1.ConditionReady, metav1.ConditionFalse, stellarv1.ReasonDatabaseSecretLost)
	waitQuiet(t)
	if err := notFound(ctx, ns, node.Name+"-postgres", &corev1.Secret{}); err != nil {
		t.Fatalf("a new database password was generated: %v", err)
	}
}

// A write the apiserver refuses (here an admission policy, as a cluster's policy engine or
// MetalLB's webhook would) reaches the node: Ready=False/ApplyFailed with the apiserver's answer,
// an Event, retries with backoff, and convergence once the refusal goes.
func TestARefusedWriteIsReportedOnTheNode(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	t.Cleanup(func() { deleteAllNodes(t, ns) })
	name := "refused-" + rand.String(5)
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"services"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{
				Expression: "object.spec.type != 'LoadBalancer'",
				Message:    "LoadBalancer Services need the network team's approval",
			}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}},
		},
	}
	for _, obj := range []client.Object{policy, binding} {
		if err := env.k8s.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	deletePolicy := func() {
		for _, obj := range []client.Object{binding, policy} {
			_ = client.IgnoreNotFound(env.k8s.Delete(ctx, obj))
		}
	}
	t.Cleanup(deletePolicy)
	// Admission policies take effect a moment after they are created.
	eventually(t, 20*time.Second, "the policy to deny LoadBalancer Services", func() error {
		probe := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}}}}
		err := env.k8s.Create(ctx, probe, client.DryRunAll)
		if err == nil {
			return fmt.Errorf("not denying yet")
		}
		return nil
	})

	node := create(t, ns, anycastNode(t, "refused", "192.0.2.220"))
	got := waitForCondition(t, ns, node.Name, stellarv1.ConditionReady, metav1.ConditionFalse, stellarv1.ReasonApplyFailed)
	msg := conditionMessage(got, stellarv1.ConditionReady)
	if !strings.Contains(msg, "network team's approval") || !strings.Contains(msg, node.Name+"-lb") {
		t.Fatalf("the condition does not carry the apiserver's answer and the object: %s", msg)
	}
	eventually(t, 10*time.Second, "an ApplyFailed Event", func() error { return hasEvent(ctx, ns, node.Name, stellarv1.ReasonApplyFailed) })

	deletePolicy()
	eventually(t, 60*time.Second, "the node to converge once the write is allowed", func() error {
		if err := get(ctx, ns, node.Name+"-lb", &corev1.Service{}); err != nil {
			return err
		}
		n := &stellarv1.StellarNode{}
		if err := get(ctx, ns, node.Name, n); err != nil {
			return err
		}
		if c := conditionMessage(n, stellarv1.ConditionReady); strings.Contains(c, "approval") {
			return fmt.Errorf("still refused: %s", c)
		}
		return nil
	})
}

// No sequence of nodes produces two pools holding one address: an address inside someone else's
// pool is never given a second pool, and a second node asking for an address under another pool
// name is refused with a condition naming the first.
func TestMetalLBNeverGetsOverlappingPools(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	t.Cleanup(func() { deleteAllNodes(t, ns) })
	foreign := &metallbv1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Name: "edge-" + rand.String(5), Namespace: metallbNamespace},
		Spec: metallbv1beta1.IPAddressPoolSpec{Addresses: []string{"192.0.2.240/28"}}}
	if err := env.k8s.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.k8s.Delete(ctx, foreign) })

	inForeign := anycastNode(t, "in-foreign", "192.0.2.221")
	inForeign.Spec.LoadBalancer.AddressPool = "does-not-exist"
	inForeign.Spec.LoadBalancer.LoadBalancerIP = "192.0.2.244"
	create(t, ns, inForeign)
	got := waitForCondition(t, ns, inForeign.Name, stellarv1.ConditionLoadBalancerReady, metav1.ConditionFalse, stellarv1.ReasonAddressInForeignPool)
	if !strings.Contains(conditionMessage(got, stellarv1.ConditionLoadBalancerReady), foreign.Name) {
		t.Errorf("the condition does not name the pool holding the address: %s", conditionMessage(got, stellarv1.ConditionLoadBalancerReady))
	}
	if err := notFound(ctx, metallbNamespace, "does-not-exist", &metallbv1beta1.IPAddressPool{}); err != nil {
		t.Fatalf("a second pool holding %s was created: %v", inForeign.Spec.LoadBalancer.LoadBalancerIP, err)
	}
	// Leaving addressPool empty uses the pool that holds the address.
	mutate(t, inForeign, false, func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.AddressPool = "" })
	svc := &corev1.Service{}
	eventually(t, 20*time.Second, "the Service to use the existing pool", func() error {
		if err := get(ctx, ns, inForeign.Name+"-lb", svc); err != nil {
			return err
		}
		if svc.Annotations[render.AnnotationAddressPool] != foreign.Name {
			return fmt.Errorf("pool annotation %q", svc.Annotations[render.AnnotationAddressPool])
		}
		return nil
	})

	first := anycastNode(t, "first", "192.0.2.222")
	first.Spec.LoadBalancer.AddressPool, first.Spec.LoadBalancer.LoadBalancerIP = "pool-one-"+ns, "192.0.2.180"
	create(t, ns, first)
	waitFor(t, metallbNamespace, "pool-one-"+ns, &metallbv1beta1.IPAddressPool{})
	time.Sleep(1100 * time.Millisecond) // creation timestamps have one-second resolution
	second := anycastNode(t, "second", "192.0.2.222")
	second.Spec.LoadBalancer.AddressPool, second.Spec.LoadBalancer.LoadBalancerIP = "pool-two-"+ns, "192.0.2.180"
	create(t, ns, second)
	got = waitForCondition(t, ns, second.Name, stellarv1.ConditionLoadBalancerReady, metav1.ConditionFalse, stellarv1.ReasonAddressInAnotherPool)
	if msg := conditionMessage(got, stellarv1.ConditionLoadBalancerReady); !strings.Contains(msg, "pool-one-"+ns) || !strings.Contains(msg, ns+"/first") {
		t.Errorf("the condition does not name the pool and node holding the address: %s", msg)
	}
	assertNoOverlappingPools(t)
}

// assertNoOverlappingPools checks every pool in MetalLB's namespace against every other, as MetalLB does.
func assertNoOverlappingPools(t *testing.T) {
	t.Helper()
	pools := &metallbv1beta1.IPAddressPoolList{}
	if err := env.k8s.List(context.Background(), pools, client.InNamespace(metallbNamespace)); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, p := range pools.Items {
		for _, a := range p.Spec.Addresses {
			if other, dup := seen[a]; dup {
				t.Errorf("pools %s and %s both hold %s", other, p.Name, a)
			}
			seen[a] = p.Name
		}
	}
}

// Per-node MetalLB objects of team/a-b and team-a/b never collide, and objects named the old way
// are migrated (deleted once the new ones exist).
func TestPerNodeObjectsNeverCollideAcrossNamespacesAndOldNamesMigrate(t *testing.T) {
	ctx := context.Background()
	base := "c" + rand.String(6)
	nsA, nsB := base, base+"-a"
	for _, ns := range []string{nsA, nsB} {
		if err := env.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteAllNodes(t, ns) })
	}
	// What the previous version named "stellar-<namespace>-<name>": shared by both nodes below.
	old := &metallbv1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: "stellar-" + base + "-a-b", Namespace: metallbNamespace,
		Labels: map[string]string{render.LabelManagedBy: render.ManagerName, render.LabelNode: "a-b", render.LabelNodeNamespace: nsA}}}
	if err := env.k8s.Create(ctx, old); err != nil {
		t.Fatal(err)
	}
	a := anycastNode(t, "a-b", "192.0.2.223")
	a.Spec.LoadBalancer.LoadBalancerIP = "192.0.2.181"
	b := anycastNode(t, "b", "192.0.2.223")
	b.Spec.LoadBalancer.LoadBalancerIP = "192.0.2.182"
	create(t, nsA, a)
	create(t, nsB, b)
	advA := waitFor(t, metallbNamespace, perNodeName(nsA, "a-b"), &metallbv1beta1.BGPAdvertisement{})
	advB := waitFor(t, metallbNamespace, perNodeName(nsB, "b"), &metallbv1beta1.BGPAdvertisement{})
	if advA.Name == advB.Name {
		t.Fatalf("both nodes write %s", advA.Name)
	}
	if advA.Spec.ServiceSelectors[0].MatchLabels[render.LabelNodeNamespace] != nsA || advB.Spec.ServiceSelectors[0].MatchLabels[render.LabelNodeNamespace] != nsB {
		t.Errorf("an advertisement selects another namespace's Service")
	}
	eventually(t, 20*time.Second, "the old-named advertisement to be migrated away", func() error {
		return notFound(ctx, metallbNamespace, old.Name, &metallbv1beta1.BGPAdvertisement{})
	})
}

// A namespace being deleted does not block its nodes' finalizers.
func TestDeletingANodeOfANamespaceBeingDeletedCompletes(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	node := create(t, ns, anycastNode(t, "leaving", "192.0.2.224"))
	node.Spec.LoadBalancer.LoadBalancerIP = "192.0.2.183"
	waitFor(t, ns, node.Name+"-lb", &corev1.Service{})
	if err := env.k8s.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	// envtest runs no namespace controller: do what it would, delete the namespace's contents.
	if err := env.k8s.Delete(ctx, node); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the node to go", func() error { return notFound(ctx, ns, node.Name, &stellarv1.StellarNode{}) })
	eventually(t, 20*time.Second, "its MetalLB objects to go", func() error {
		return notFound(ctx, metallbNamespace, perNodeName(ns, node.Name), &metallbv1beta1.BGPAdvertisement{})
	})
}

// With a tenancy policy, a node outside its namespace's allowance gets a condition and no MetalLB
// object; granting it (here: labelling the namespace) converges it.
func TestATenancyPolicyFencesNamespaces(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	t.Cleanup(func() { deleteAllNodes(t, ns) })
	team := "team-" + rand.String(5)
	policy := &stellarv1.LoadBalancerPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: team},
		Spec: stellarv1.LoadBalancerPolicySpec{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"stellar.example.com/team": team}},
			Addresses:         []string{"192.0.2.184/32"},
			Routers:           []stellarv1.RouterGrant{{Address: "192.0.2.225/32", ASNs: []stellarv1.ASNRange{{Min: 64512}}}},
			LocalASNs:         []stellarv1.ASNRange{{Min: 64512}},
			Communities:       []string{"64512:*"},
		},
	}
	if err := env.k8s.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.k8s.Delete(ctx, policy) })
	node := anycastNode(t, "fenced", "192.0.2.225")
	node.Spec.LoadBalancer.LoadBalancerIP = "192.0.2.184"
	create(t, ns, node)
	got := waitForCondition(t, ns, node.Name, stellarv1.ConditionLoadBalancerReady, metav1.ConditionFalse, stellarv1.ReasonNotAllowedByPolicy)
	if !strings.Contains(conditionMessage(got, stellarv1.ConditionLoadBalancerReady), ns) {
		t.Errorf("the condition does not name the namespace: %s", conditionMessage(got, stellarv1.ConditionLoadBalancerReady))
	}
	waitFor(t, ns, node.Name, &appsv1.Deployment{})
	for _, o := range []struct {
		ns, name string
		obj      client.Object
	}{{metallbNamespace, perNodeName(ns, node.Name), &metallbv1beta1.BGPAdvertisement{}}, {ns, node.Name + "-lb", &corev1.Service{}},
		{metallbNamespace, "stellar-192-0-2-184", &metallbv1beta1.IPAddressPool{}}} {
		if err := notFound(ctx, o.ns, o.name, o.obj); err != nil {
			t.Errorf("a fenced node got %T: %v", o.obj, err)
		}
	}
	mutate(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, false, func(n *corev1.Namespace) {
		n.Labels["stellar.example.com/team"] = team
	})
	waitFor(t, metallbNamespace, perNodeName(ns, node.Name), &metallbv1beta1.BGPAdvertisement{})

	// A community outside the grant is refused, naming the policy and the field.
	mutate(t, node, false, func(n *stellarv1.StellarNode) { n.Spec.LoadBalancer.BGP.Communities = []string{"65000:1"} })
	got = waitForCondition(t, ns, node.Name, stellarv1.ConditionLoadBalancerReady, metav1.ConditionFalse, stellarv1.ReasonNotAllowedByPolicy)
	if msg := conditionMessage(got, stellarv1.ConditionLoadBalancerReady); !strings.Contains(msg, team) || !strings.Contains(msg, "communities[0]") {
		t.Errorf("the condition does not name the policy and field: %s", msg)
	}
	eventually(t, 20*time.Second, "the fenced node's advertisement to go", func() error {
		return notFound(ctx, metallbNamespace, perNodeName(ns, node.Name), &metallbv1beta1.BGPAdvertisement{})
	})
}
