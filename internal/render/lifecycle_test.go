package render_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

func horizonTemplate(t *testing.T, node *stellarv1.StellarNode, facts render.Facts) *corev1.PodTemplateSpec {
	t.Helper()
	for _, obj := range render.Desired(node, facts).Objects {
		if d, ok := obj.(*appsv1.Deployment); ok && d.Name == node.Name {
			return &d.Spec.Template
		}
	}
	t.Fatal("no Deployment rendered")
	return nil
}

func sidecarImage(tpl *corev1.PodTemplateSpec) string {
	for _, c := range tpl.Spec.Containers {
		if c.Name == render.ContainerHealth {
			return c.Image
		}
	}
	return ""
}

// An operator upgrade alone restarts no pod: the sidecar keeps the running image until the pods
// restart for another reason, unless the node asks to follow the operator at once.
func TestTheSidecarImageIsPinnedUntilThePodsChangeAnyway(t *testing.T) {
	node := readExample(t, "../../examples/horizon-anycast.yaml")
	old := render.EmptyClusterFacts(node, "operator:v1", "metallb-system", render.BGPModeFRRK8s)
	running := render.ObserveWorkload(horizonTemplate(t, node, old))
	upgraded := render.EmptyClusterFacts(node, "operator:v2", "metallb-system", render.BGPModeFRRK8s)
	upgraded.Workload = running

	cases := []struct {
		name   string
		change func(n *stellarv1.StellarNode)
		want   string
	}{
		{"an unchanged node keeps the running sidecar image", func(*stellarv1.StellarNode) {}, "operator:v1"},
		{"a spec change restarts the pods anyway, with the new sidecar", func(n *stellarv1.StellarNode) {
			n.Spec.Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}
		}, "operator:v2"},
		{"a configuration change restarts the pods anyway, with the new sidecar", func(n *stellarv1.StellarNode) {
			n.Spec.Horizon = &stellarv1.HorizonSpec{Ingest: ptr.To(false)}
		}, "operator:v2"},
		{"Immediate follows the operator at once", func(n *stellarv1.StellarNode) {
			n.Spec.HealthCheck = &stellarv1.HealthCheckSpec{SidecarUpdate: stellarv1.SidecarUpdateImmediate}
		}, "operator:v2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := node.DeepCopy()
			tc.change(n)
			tpl := horizonTemplate(t, n, upgraded)
			if got := sidecarImage(tpl); got != tc.want {
				t.Fatalf("sidecar image = %s, want %s", got, tc.want)
			}
			if tc.want == "operator:v1" && render.RolloutCause(running, tpl) != "" {
				t.Errorf("an unchanged node rolls out: %s", render.RolloutCause(running, tpl))
			}
		})
	}
}

// The rendered configuration is part of the pod template, so a configuration change restarts the
// pods (and says why).
func TestAConfigurationChangeRollsThePods(t *testing.T) {
	node := readExample(t, "../../examples/validator-testnet.yaml")
	facts := testFacts(node, render.BGPModeFRRK8s)
	template := func(n *stellarv1.StellarNode) *corev1.PodTemplateSpec {
		for _, obj := range render.Desired(n, facts).Objects {
			if s, ok := obj.(*appsv1.StatefulSet); ok {
				return &s.Spec.Template
			}
		}
		t.Fatal("no StatefulSet")
		return nil
	}
	before := template(node)
	changed := node.DeepCopy()
	changed.Spec.Validator.Quality = "MEDIUM"
	after := template(changed)
	if before.Annotations[render.AnnotationConfigHash] == after.Annotations[render.AnnotationConfigHash] {
		t.Fatal("the config hash did not change with the configuration")
	}
	if cause := render.RolloutCause(render.ObserveWorkload(before), after); !strings.Contains(cause, "configuration") {
		t.Errorf("rollout cause = %q", cause)
	}
}

// Several replicas get a budget allowing one pod down; a single pod (every validator) none, so a
// drain is never blocked forever.
func TestPodDisruptionBudgets(t *testing.T) {
	for _, tc := range []struct {
		file     string
		replicas int32
		want     bool
	}{
		{"horizon-testnet.yaml", 1, false},
		{"horizon-testnet.yaml", 3, true},
		{"soroban-rpc-testnet.yaml", 2, true},
		{"validator-testnet.yaml", 1, false},
	} {
		node := readExample(t, "../../examples/"+tc.file)
		node.Spec.Replicas = ptr.To(tc.replicas)
		var pdbs []*policyv1.PodDisruptionBudget
		for _, obj := range render.Desired(node, testFacts(node, render.BGPModeFRRK8s)).Objects {
			if p, ok := obj.(*policyv1.PodDisruptionBudget); ok {
				pdbs = append(pdbs, p)
			}
		}
		if (len(pdbs) == 1) != tc.want {
			t.Errorf("%s with %d replicas: %d budgets", tc.file, tc.replicas, len(pdbs))
			continue
		}
		if tc.want && pdbs[0].Spec.MaxUnavailable.IntValue() != 1 {
			t.Errorf("%s: maxUnavailable = %v", tc.file, pdbs[0].Spec.MaxUnavailable)
		}
	}
}

// Placement reaches every pod of the node, its database's included; a BGP node whose pods may
// land where nothing announces them is warned about.
func TestPlacementReachesThePodsAndIsCheckedAgainstTheAnnouncingNodes(t *testing.T) {
	node := readExample(t, "../../examples/horizon-anycast.yaml")
	node.Spec.LoadBalancer.BGP.Advertisement.NodeSelectors = []stellarv1.NodeSelector{{MatchLabels: map[string]stellarv1.LabelValue{"bgp": "yes"}}}
	node.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "registry"}}
	result := render.Desired(node, testFacts(node, render.BGPModeFRRK8s))
	if !hasReason(result.Problems, stellarv1.ReasonPodsOutsideAnnouncingNodes) {
		t.Fatalf("no warning for pods that may run outside the announcing nodes: %v", result.Problems)
	}
	node.Spec.Placement = &stellarv1.PlacementSpec{NodeSelector: map[string]string{"bgp": "yes"}, PriorityClassName: "stellar",
		Tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "stellar", Effect: corev1.TaintEffectNoSchedule}}}
	result = render.Desired(node, testFacts(node, render.BGPModeFRRK8s))
	if hasReason(result.Problems, stellarv1.ReasonPodsOutsideAnnouncingNodes) {
		t.Fatalf("warned although the pods are confined: %v", result.Problems)
	}
	n := 0
	for _, obj := range result.Objects {
		var spec *corev1.PodSpec
		switch w := obj.(type) {
		case *appsv1.Deployment:
			spec = &w.Spec.Template.Spec
		case *appsv1.StatefulSet:
			spec = &w.Spec.Template.Spec
		default:
			continue
		}
		n++
		if spec.NodeSelector["bgp"] != "yes" || spec.PriorityClassName != "stellar" || len(spec.Tolerations) != 1 || len(spec.ImagePullSecrets) != 1 {
			t.Errorf("%s: placement not applied: %+v", obj.GetName(), spec)
		}
	}
	if n != 2 {
		t.Fatalf("%d workloads, want Horizon and its database", n)
	}
}
