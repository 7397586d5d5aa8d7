package render

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// Pod template annotations the operator sets.
const (
	// AnnotationConfigHash is the hash of the node's rendered configuration: a configuration
	// change (a quorum set, say) changes the pod template, so the pods restart with it.
	AnnotationConfigHash = "stellar.org/config-hash"
	// AnnotationTemplateHash is the hash of the pod template the operator renders, with the health
	// sidecar's image left out: when it is unchanged, only the operator's image moved.
	AnnotationTemplateHash = "stellar.org/template-hash"
)

// WorkloadFacts are what the controller observed of the node's main workload.
type WorkloadFacts struct {
	// TemplateHash is the live pod template's AnnotationTemplateHash ("" without a workload).
	TemplateHash string
	// ConfigHash is the live pod template's AnnotationConfigHash.
	ConfigHash string
	// Image and SidecarImage are the images the live pod template's Stellar container and
	// health sidecar run.
	Image, SidecarImage string
}

// ObserveWorkload reads the facts of a live pod template.
func ObserveWorkload(tpl *corev1.PodTemplateSpec) WorkloadFacts {
	f := WorkloadFacts{TemplateHash: tpl.Annotations[AnnotationTemplateHash], ConfigHash: tpl.Annotations[AnnotationConfigHash]}
	for i, c := range tpl.Spec.Containers {
		switch {
		case c.Name == ContainerHealth:
			f.SidecarImage = c.Image
		case i == 0:
			f.Image = c.Image
		}
	}
	return f
}

// RolloutCause says why a workload's pods restart when its template moves from live to the
// rendered one, or "" when they do not restart.
func RolloutCause(live WorkloadFacts, rendered *corev1.PodTemplateSpec) string {
	next := ObserveWorkload(rendered)
	switch {
	case live.TemplateHash == "" || live.TemplateHash == next.TemplateHash && live.SidecarImage == next.SidecarImage:
		return ""
	case live.ConfigHash != next.ConfigHash:
		return "the node's configuration changed"
	case live.Image != next.Image:
		return "the image changed to " + next.Image
	case live.TemplateHash == next.TemplateHash:
		return "the health sidecar follows the operator's image " + next.SidecarImage
	default:
		return "the pod template changed"
	}
}

// hashOf is a short stable hash of v's JSON form.
func hashOf(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("hashing %T: %v", v, err)) // a rendered object always marshals
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:16]
}

// configHash hashes a ConfigMap's data (json.Marshal sorts map keys).
func configHash(cm *corev1.ConfigMap) string { return hashOf(cm.Data) }

// withPlacement gives a pod spec the node's placement and pull secrets.
func withPlacement(spec *corev1.PodSpec, node *stellarv1.StellarNode) {
	spec.ImagePullSecrets = node.Spec.ImagePullSecrets
	p := node.Spec.Placement
	if p == nil {
		return
	}
	spec.NodeSelector = p.NodeSelector
	spec.Affinity = p.Affinity
	spec.Tolerations = p.Tolerations
	spec.TopologySpreadConstraints = p.TopologySpreadConstraints
	spec.PriorityClassName = p.PriorityClassName
}

// pinSidecar decides the health sidecar's image and records the template hash. With the default
// policy the sidecar keeps the image the running pods have while nothing else of the template
// changes: an operator upgrade alone restarts no pod, so anycast siblings never restart together
// because of it; the new image rides along with the next change the pods restart for anyway.
func pinSidecar(tpl *corev1.PodTemplateSpec, node *stellarv1.StellarNode, live WorkloadFacts) {
	sidecar := -1
	for i := range tpl.Spec.Containers {
		if tpl.Spec.Containers[i].Name == ContainerHealth {
			sidecar = i
		}
	}
	blank := tpl.DeepCopy()
	if sidecar >= 0 {
		blank.Spec.Containers[sidecar].Image = ""
	}
	hash := hashOf(blank)
	if tpl.Annotations == nil {
		tpl.Annotations = map[string]string{}
	}
	tpl.Annotations[AnnotationTemplateHash] = hash
	if sidecar < 0 || node.Spec.HealthCheck.EffectiveSidecarUpdate() != stellarv1.SidecarUpdateOnPodChange {
		return
	}
	if live.TemplateHash == hash && live.SidecarImage != "" {
		tpl.Spec.Containers[sidecar].Image = live.SidecarImage
	}
}

// podDisruptionBudget keeps all but one pod of a multi-replica node up through voluntary
// disruptions (drains). A single pod — every validator — gets none: a budget allowing no
// disruption would block node drains forever.
func podDisruptionBudget(node *stellarv1.StellarNode) *policyv1.PodDisruptionBudget {
	if node.Spec.NodeType == stellarv1.NodeTypeValidator || node.EffectiveReplicas() < 2 {
		return nil
	}
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: owned(node, WorkloadName(node), Component(node.Spec.NodeType)),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: SelectorLabels(node)},
		},
	}
}

// placementProblems warn when a BGP node announcing from some Kubernetes nodes only
// (advertisement.nodeSelectors) with externalTrafficPolicy Local can have its pods scheduled
// elsewhere: such a pod is ready but no speaker announces it, silently.
func placementProblems(node *stellarv1.StellarNode) []validate.Problem {
	bgp := node.BGP()
	if bgp == nil || node.Spec.LoadBalancer.EffectiveExternalTrafficPolicy() != corev1.ServiceExternalTrafficPolicyLocal {
		return nil
	}
	announcing := bgp.EffectiveNodeSelectors()
	if len(announcing) == 0 {
		return nil
	}
	var nodeSelector map[string]string
	var affinity *corev1.Affinity
	if p := node.Spec.Placement; p != nil {
		nodeSelector, affinity = p.NodeSelector, p.Affinity
	}
	if validate.PodsConfinedTo(nodeSelector, affinity, announcing) {
		return nil
	}
	return []validate.Problem{validate.Warnf("spec.placement", stellarv1.ReasonPodsOutsideAnnouncingNodes,
		"pods may be scheduled on Kubernetes nodes outside advertisement.nodeSelectors; with externalTrafficPolicy Local a pod there is ready but never announced: give placement a nodeSelector or required node affinity within them")}
}
