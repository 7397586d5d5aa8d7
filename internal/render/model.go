// Package render turns a StellarNode and the observed cluster facts into the exact objects the
// operator wants to exist. It is pure: no client, no clock, no randomness, so the controller, the
// CLI and the tests always agree on what a spec means.
package render

import (
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// Labels the operator puts on everything it creates. The node labels let the controller find its
// leftovers (it only ever deletes objects carrying them) and let cross-namespace MetalLB objects,
// which cannot have owner references, be traced back to their StellarNode.
const (
	LabelManagedBy     = "app.kubernetes.io/managed-by"
	LabelName          = "app.kubernetes.io/name"
	LabelInstance      = "app.kubernetes.io/instance"
	LabelComponent     = "app.kubernetes.io/component"
	LabelNode          = "stellar.org/node"
	LabelNodeNamespace = "stellar.org/node-namespace"
	ManagerName        = "stellar-operator"
)

// Components of a node's pods, also used as container names.
const (
	ComponentCore     = "stellar-core"
	ComponentHorizon  = "horizon"
	ComponentRPC      = "stellar-rpc"
	ComponentPostgres = "postgres"
	ContainerHealth   = "health"
	// PortNameHealthStatus names the sidecar's in-cluster port (/status, /metrics): never on the
	// LoadBalancer Service.
	PortNameHealthStatus = "health-status"
)

// Ports of the Stellar services (notes/stellar.md).
const (
	PortCorePeer     = stellarv1.PortCorePeer
	PortCoreHTTP     = stellarv1.PortCoreHTTP
	PortHorizon      = stellarv1.PortHorizon
	PortHorizonAdmin = stellarv1.PortHorizonAdmin
	PortRPC          = stellarv1.PortRPC
	PortRPCAdmin     = stellarv1.PortRPCAdmin
	PortHealthStatus = stellarv1.PortHealthStatus
	PortPostgres     = 5432
)

// Default images for the Stellar services; spec.version is the tag.
const (
	ImageCore     = "stellar/stellar-core"
	ImageHorizon  = "stellar/stellar-horizon"
	ImageRPC      = "stellar/stellar-rpc"
	ImagePostgres = "postgres:17"
)

// Facts are what the controller observed in the cluster and configuration that is not in the spec.
type Facts struct {
	// OperatorImage runs the health sidecar (`stellar-operator health`).
	OperatorImage string
	// ValidatorSeedSecret is the Secret (and key) holding the validator seed, user-provided or generated.
	ValidatorSeedSecret SecretRef
	// ValidatorPublicKey is the validator's public key, when its seed was read: recorded on the
	// StatefulSet so the identity it runs with can be told (and defended) from the cluster.
	ValidatorPublicKey string
	// DatabaseSecret is the Secret (and key) holding Horizon's DATABASE_URL, user-provided or managed.
	DatabaseSecret SecretRef
	// MetalLB is what the controller observed of MetalLB and of the other StellarNodes.
	MetalLB MetalLBFacts
	// Discovery are the facts global discovery depends on.
	Discovery DiscoveryFacts
	// Workload is what runs now: the pod template the health sidecar's image may be pinned to.
	Workload WorkloadFacts

	// configHash is set by Desired from the ConfigMap it renders, for the pod templates.
	configHash string
}

// EmptyClusterFacts are what the operator would observe for node in a cluster where MetalLB is
// installed (in metallbNamespace, BGP mode) and holds nothing yet: the node's own Secret
// references, no foreign pools or peers. The CLI renders offline with them.
func EmptyClusterFacts(node *stellarv1.StellarNode, operatorImage, metallbNamespace string, mode BGPMode) Facts {
	seed, _ := SeedSecret(node)
	db, _ := DatabaseSecret(node)
	return Facts{
		OperatorImage:       operatorImage,
		ValidatorSeedSecret: seed,
		DatabaseSecret:      db,
		MetalLB:             MetalLBFacts{Installed: true, Namespace: metallbNamespace, Mode: mode},
	}
}

// SecretRef is a resolved Secret key.
type SecretRef struct {
	Name string
	Key  string
}

// Result is everything a node wants: objects to apply and problems to report.
type Result struct {
	Objects  []client.Object
	Problems []validate.Problem
	// Status is the status the spec means; the controller adds what it observes.
	Status IntendedStatus
}

// SelectorLabels select the pods of a node's main workload.
func SelectorLabels(node *stellarv1.StellarNode) map[string]string {
	return map[string]string{LabelInstance: node.Name, LabelComponent: Component(node.Spec.NodeType)}
}

// NodeLabels are carried by every object the operator creates for a node.
func NodeLabels(node *stellarv1.StellarNode, component string) map[string]string {
	return map[string]string{
		LabelManagedBy:     ManagerName,
		LabelName:          "stellar-node",
		LabelInstance:      node.Name,
		LabelComponent:     component,
		LabelNode:          node.Name,
		LabelNodeNamespace: node.Namespace,
	}
}

// Component is the component name of a node type's main workload.
func Component(t stellarv1.NodeType) string {
	switch t {
	case stellarv1.NodeTypeHorizon:
		return ComponentHorizon
	case stellarv1.NodeTypeSorobanRPC:
		return ComponentRPC
	default:
		return ComponentCore
	}
}

// Image is the main container's image: spec.image, or the service's repository at spec.version
// without a leading "v" (the spec writes "v21.0.0"; Stellar tags images "21.0.0").
func Image(node *stellarv1.StellarNode) string {
	if node.Spec.Image != "" {
		return node.Spec.Image
	}
	repo := ImageCore
	switch node.Spec.NodeType {
	case stellarv1.NodeTypeHorizon:
		repo = ImageHorizon
	case stellarv1.NodeTypeSorobanRPC:
		repo = ImageRPC
	}
	return repo + ":" + NormalizeVersion(node.Spec.Version)
}

// NormalizeVersion drops a leading "v" before a digit.
func NormalizeVersion(v string) string {
	if len(v) > 1 && (v[0] == 'v' || v[0] == 'V') && v[1] >= '0' && v[1] <= '9' {
		return v[1:]
	}
	return v
}

// Names of the objects of a node. One place, so render, controller and tests agree.
func WorkloadName(node *stellarv1.StellarNode) string        { return node.Name }
func ServiceName(node *stellarv1.StellarNode) string         { return node.Name }
func HeadlessServiceName(node *stellarv1.StellarNode) string { return node.Name + "-headless" }
func LoadBalancerServiceName(node *stellarv1.StellarNode) string {
	return node.Name + "-lb"
}
func ConfigMapName(node *stellarv1.StellarNode) string      { return node.Name + "-config" }
func SeedSecretName(node *stellarv1.StellarNode) string     { return node.Name + "-seed" }
func DataClaimName(node *stellarv1.StellarNode) string      { return node.Name + "-data" }
func PostgresName(node *stellarv1.StellarNode) string       { return node.Name + "-postgres" }
func PostgresSecretName(node *stellarv1.StellarNode) string { return node.Name + "-postgres" }

// AnnotationPublicKey names a validator's public key on its seed Secret and StatefulSet.
const AnnotationPublicKey = "stellar.org/public-key"

// Keys of generated Secrets.
const (
	SeedKey             = "seed"
	DatabaseURLKey      = "DATABASE_URL"
	PostgresPasswordKey = "password"
	MD5PasswordKey      = "password"
)

// SeedSecret resolves the validator seed reference: the user's, or the generated one.
func SeedSecret(node *stellarv1.StellarNode) (ref SecretRef, generated bool) {
	if v := node.Spec.Validator; v != nil && v.SeedSecretRef != nil {
		return SecretRef{Name: v.SeedSecretRef.Name, Key: defaultString(v.SeedSecretRef.Key, SeedKey)}, false
	}
	return SecretRef{Name: SeedSecretName(node), Key: SeedKey}, true
}

// DatabaseSecret resolves Horizon's database reference: the user's, or the managed PostgreSQL's.
func DatabaseSecret(node *stellarv1.StellarNode) (ref SecretRef, managed bool) {
	if h := node.Spec.Horizon; h != nil && h.DatabaseSecretRef != nil {
		return SecretRef{Name: h.DatabaseSecretRef.Name, Key: defaultString(h.DatabaseSecretRef.Key, DatabaseURLKey)}, false
	}
	return SecretRef{Name: PostgresSecretName(node), Key: DatabaseURLKey}, true
}

func defaultString(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
