package validate_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stellar-operator/stellar-operator/internal/validate"
)

func TestSelectorsMayOverlap(t *testing.T) {
	labels := func(kv ...string) metav1.LabelSelector {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return metav1.LabelSelector{MatchLabels: m}
	}
	expr := func(key string, op metav1.LabelSelectorOperator, values ...string) metav1.LabelSelector {
		return metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: key, Operator: op, Values: values}}}
	}
	cases := []struct {
		name string
		a, b []metav1.LabelSelector
		want bool
	}{
		{"no selector selects every node, so it overlaps anything", nil, []metav1.LabelSelector{labels("region", "eu")}, true},
		{"two regions by matchLabels exclude each other", []metav1.LabelSelector{labels("region", "us")}, []metav1.LabelSelector{labels("region", "eu")}, false},
		{"the same region overlaps", []metav1.LabelSelector{labels("region", "us")}, []metav1.LabelSelector{labels("region", "us")}, true},
		{"different keys may meet on one node", []metav1.LabelSelector{labels("region", "us")}, []metav1.LabelSelector{labels("zone", "a")}, true},
		{"In sets without a common value exclude each other", []metav1.LabelSelector{expr("region", metav1.LabelSelectorOpIn, "us", "ca")}, []metav1.LabelSelector{expr("region", metav1.LabelSelectorOpIn, "eu")}, false},
		{"In sets sharing a value overlap", []metav1.LabelSelector{expr("region", metav1.LabelSelectorOpIn, "us", "eu")}, []metav1.LabelSelector{labels("region", "eu")}, true},
		{"Exists against DoesNotExist excludes", []metav1.LabelSelector{expr("bgp", metav1.LabelSelectorOpExists)}, []metav1.LabelSelector{expr("bgp", metav1.LabelSelectorOpDoesNotExist)}, false},
		{"a value against NotIn that value excludes", []metav1.LabelSelector{labels("region", "us")}, []metav1.LabelSelector{expr("region", metav1.LabelSelectorOpNotIn, "us")}, false},
		{"NotIn another value overlaps", []metav1.LabelSelector{labels("region", "us")}, []metav1.LabelSelector{expr("region", metav1.LabelSelectorOpNotIn, "eu")}, true},
		{"one overlapping pair among several is enough", []metav1.LabelSelector{labels("region", "us"), labels("region", "ap")}, []metav1.LabelSelector{labels("region", "eu"), labels("region", "ap")}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := validate.SelectorsMayOverlap(tc.a, tc.b); got != tc.want {
				t.Fatalf("SelectorsMayOverlap = %v, want %v", got, tc.want)
			}
			if got := validate.SelectorsMayOverlap(tc.b, tc.a); got != tc.want {
				t.Fatalf("not symmetric: reversed = %v", got)
			}
		})
	}
}

func TestPodsConfinedTo(t *testing.T) {
	bgpNodes := []metav1.LabelSelector{{MatchLabels: map[string]string{"bgp": "yes"}}}
	required := func(reqs ...corev1.NodeSelectorRequirement) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: reqs}}}}}
	}
	cases := []struct {
		name         string
		nodeSelector map[string]string
		affinity     *corev1.Affinity
		announcing   []metav1.LabelSelector
		want         bool
	}{
		{"no announcing selector: every node announces", nil, nil, nil, true},
		{"unplaced pods may land anywhere", nil, nil, bgpNodes, false},
		{"the same nodeSelector confines them", map[string]string{"bgp": "yes", "zone": "a"}, nil, bgpNodes, true},
		{"another label value does not", map[string]string{"bgp": "no"}, nil, bgpNodes, false},
		{"required affinity In the value confines them", nil, required(corev1.NodeSelectorRequirement{Key: "bgp", Operator: corev1.NodeSelectorOpIn, Values: []string{"yes"}}), bgpNodes, true},
		{"required affinity In a wider set does not", nil, required(corev1.NodeSelectorRequirement{Key: "bgp", Operator: corev1.NodeSelectorOpIn, Values: []string{"yes", "maybe"}}), bgpNodes, false},
		{"Exists is enough for an Exists selector", nil, required(corev1.NodeSelectorRequirement{Key: "bgp", Operator: corev1.NodeSelectorOpExists}),
			[]metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "bgp", Operator: metav1.LabelSelectorOpExists}}}}, true},
		{"Gt proves no value", nil, required(corev1.NodeSelectorRequirement{Key: "bgp", Operator: corev1.NodeSelectorOpGt, Values: []string{"1"}}), bgpNodes, false},
		{"a region value avoids a NotIn of other regions", map[string]string{"region": "us"}, nil,
			[]metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "region", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"eu"}}}}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := validate.PodsConfinedTo(tc.nodeSelector, tc.affinity, tc.announcing); got != tc.want {
				t.Fatalf("PodsConfinedTo = %v, want %v", got, tc.want)
			}
		})
	}
}
