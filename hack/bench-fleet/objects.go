package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
	"github.com/stellar-operator/stellar-operator/internal/stellar"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// objectKey names one object of the cluster.
type objectKey struct {
	gvk       schema.GroupVersionKind
	namespace string
	name      string
}

func (k objectKey) String() string {
	return fmt.Sprintf("%s %s/%s", k.gvk.Kind, k.namespace, k.name)
}

// renderSettings are the operator settings rendering depends on.
type renderSettings struct {
	operatorImage    string
	metallbNamespace string
	mode             render.BGPMode
}

// facts are what the operator observes for node in a cluster holding only the fleet: MetalLB
// installed and empty but for what the fleet's own nodes claim (every node, so a shared pool
// holds the addresses of all its users, as it does once the fleet has converged).
func (s renderSettings) facts(node *stellarv1.StellarNode, claims render.Claims) render.Facts {
	facts := render.EmptyClusterFacts(node, s.operatorImage, s.metallbNamespace, s.mode)
	facts.MetalLB.Claims = claims
	return facts
}

// desiredObjects renders every node and returns the objects the fleet wants, each once: shared
// MetalLB objects (pools, peers, BFD profiles) are rendered by every node using them, identically
// once every claim is known. A node rendering with a problem is an error: the fleet is meant to
// be valid, and a benchmark of refusals would measure something else.
func desiredObjects(nodes []*stellarv1.StellarNode, s renderSettings, scheme *runtime.Scheme) ([]client.Object, map[objectKey]bool, error) {
	claims := render.NewClaims(nodes...)
	var out []client.Object
	keys := map[objectKey]bool{}
	for _, node := range nodes {
		desired := render.Desired(node, s.facts(node, claims))
		if len(desired.Problems) > 0 {
			return nil, nil, fmt.Errorf("StellarNode %s/%s of the fleet renders with problems: %s", node.Namespace, node.Name, problemList(desired.Problems))
		}
		for _, obj := range desired.Objects {
			gvk, err := apiutil.GVKForObject(obj, scheme)
			if err != nil {
				return nil, nil, err
			}
			key := objectKey{gvk: gvk, namespace: obj.GetNamespace(), name: obj.GetName()}
			if keys[key] {
				continue
			}
			keys[key] = true
			out = append(out, obj)
		}
	}
	return out, keys, nil
}

func problemList(problems []validate.Problem) string {
	s := ""
	for i, p := range problems {
		if i > 0 {
			s += "; "
		}
		s += fmt.Sprintf("%s %s: %s", p.Field, p.Reason, p.Message)
	}
	return s
}

// generatedSecrets stand in for the Secrets the operator generates and render does not return (a
// validator's seed, a managed database's password), so the plain client writes as many objects as
// the operator: same names, keys and labels, fresh values.
func generatedSecrets(nodes []*stellarv1.StellarNode) ([]client.Object, error) {
	var out []client.Object
	for _, node := range nodes {
		secret := &corev1.Secret{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			Type:     corev1.SecretTypeOpaque,
		}
		switch node.Spec.NodeType {
		case stellarv1.NodeTypeValidator:
			ref, generated := render.SeedSecret(node)
			if !generated {
				continue
			}
			seed, address, err := stellar.NewSeed()
			if err != nil {
				return nil, err
			}
			secret.ObjectMeta = metav1.ObjectMeta{Name: ref.Name, Namespace: node.Namespace, Labels: render.NodeLabels(node, render.ComponentCore),
				Annotations: map[string]string{render.AnnotationPublicKey: address}}
			secret.StringData = map[string]string{ref.Key: seed}
		case stellarv1.NodeTypeHorizon:
			ref, managed := render.DatabaseSecret(node)
			if !managed {
				continue
			}
			buf := make([]byte, 24)
			if _, err := rand.Read(buf); err != nil {
				return nil, err
			}
			password := hex.EncodeToString(buf)
			secret.ObjectMeta = metav1.ObjectMeta{Name: ref.Name, Namespace: node.Namespace, Labels: render.NodeLabels(node, render.ComponentPostgres)}
			secret.StringData = map[string]string{render.PostgresPasswordKey: password, render.DatabaseURLKey: render.PostgresURL(node, password)}
		default:
			continue
		}
		out = append(out, secret)
	}
	return out, nil
}

// kindsOf are the kinds among keys, sorted, so the existence check lists each kind once.
func kindsOf(keys map[objectKey]bool) []schema.GroupVersionKind {
	seen := map[schema.GroupVersionKind]bool{}
	var out []schema.GroupVersionKind
	for k := range keys {
		if !seen[k.gvk] {
			seen[k.gvk] = true
			out = append(out, k.gvk)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// missing are the keys of want that have not been seen, sorted.
func missing(want, seen map[objectKey]bool) []objectKey {
	var out []objectKey
	for k := range want {
		if !seen[k] {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
