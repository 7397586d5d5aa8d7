package validate_test

import (
	"testing"

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
