package controller

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

func TestConditions(t *testing.T) {
	unsupported := validate.Warnf("spec.loadBalancer.bgp.peers[0].keepaliveTime", stellarv1.ReasonUnsupportedByMetalLB, "keepaliveTime cannot take effect")
	ebgp := validate.Warnf("spec.loadBalancer.bgp.advertisement.localPref", stellarv1.ReasonLocalPrefOverEBGP, "LOCAL_PREF is not sent")
	missing := validate.Errorf("spec.validator.seedSecretRef", stellarv1.ReasonSecretMissing, "Secret ns/s does not exist")
	type want struct{ ready, progressing, degraded string }
	cases := []struct {
		name     string
		w        workloadState
		problems []validate.Problem
		want     want
	}{
		{"all pods ready and no problem is Ready, settled and not degraded", workloadState{1, 1, 1}, nil,
			want{"True/PodsReady", "False/Reconciled", "False/AsExpected"}},
		{"a pod not ready yet is rolling out", workloadState{2, 2, 1}, nil,
			want{"False/PodsNotReady", "True/RollingOut", "False/AsExpected"}},
		{"scaled to zero is not ready but not progressing", workloadState{0, 0, 0}, nil,
			want{"False/ScaledToZero", "False/Reconciled", "False/AsExpected"}},
		{"an error problem stops everything and names its reason", workloadState{1, 0, 0}, []validate.Problem{missing},
			want{"False/SecretMissing", "False/SecretMissing", "True/SecretMissing"}},
		{"a warning degrades a ready node without making it unready", workloadState{1, 1, 1}, []validate.Problem{ebgp},
			want{"True/PodsReady", "False/Reconciled", "True/LocalPrefOverEBGP"}},
		{"an error wins over warnings", workloadState{1, 1, 1}, []validate.Problem{ebgp, missing},
			want{"False/SecretMissing", "False/SecretMissing", "True/SecretMissing"}},
		{"unsupported fields degrade too", workloadState{1, 1, 1}, []validate.Problem{unsupported},
			want{"True/PodsReady", "False/Reconciled", "True/UnsupportedByMetalLBMode"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			for _, c := range conditions(7, tc.w, tc.problems) {
				if c.ObservedGeneration != 7 {
					t.Errorf("%s observedGeneration = %d", c.Type, c.ObservedGeneration)
				}
				got[c.Type] = string(c.Status) + "/" + c.Reason
			}
			if got[stellarv1.ConditionReady] != tc.want.ready || got[stellarv1.ConditionProgressing] != tc.want.progressing || got[stellarv1.ConditionDegraded] != tc.want.degraded {
				t.Fatalf("got %v, want %+v", got, tc.want)
			}
		})
	}
}

// Another warning first in Degraded must not hide which fields MetalLB cannot take.
func TestMetalLBSupportedNamesEveryUnsupportedField(t *testing.T) {
	problems := []validate.Problem{
		validate.Warnf("spec.loadBalancer.bgp.advertisement.localPref", stellarv1.ReasonLocalPrefOverEBGP, "LOCAL_PREF is not sent"),
		validate.Warnf("spec.loadBalancer.bgp.peers[0].keepaliveTime", stellarv1.ReasonUnsupportedByMetalLB, "keepaliveTime cannot take effect"),
		validate.Warnf("spec.loadBalancer.bgp.peers[0].gracefulRestart", stellarv1.ReasonUnsupportedByMetalLB, "gracefulRestart cannot take effect"),
		validate.Warnf("spec.loadBalancer.bgp.bfdEnabled", stellarv1.ReasonUnsupportedByMetalLB, "BFD cannot take effect"),
	}
	c := supportedCondition(3, problems)
	if c.Status != metav1.ConditionFalse || c.Reason != stellarv1.ReasonUnsupportedByMetalLB {
		t.Fatalf("condition = %+v", c)
	}
	for _, field := range []string{"keepaliveTime", "gracefulRestart", "bfdEnabled"} {
		if !strings.Contains(c.Message, field) {
			t.Errorf("message %q does not name %s", c.Message, field)
		}
	}
	if strings.Contains(c.Message, "LOCAL_PREF") {
		t.Error("the message mixes in other warnings")
	}
	if ok := supportedCondition(3, problems[:1]); ok.Status != metav1.ConditionTrue {
		t.Errorf("without unsupported fields the condition is %s", ok.Status)
	}
}
