package controller

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

func TestConditions(t *testing.T) {
	unsupported := validate.Warnf("spec.loadBalancer.bgp.peers[0].keepaliveTime", stellarv1.ReasonUnsupportedByMetalLB, "keepaliveTime cannot take effect")
	ebgp := validate.Warnf("spec.loadBalancer.bgp.advertisement.localPref", stellarv1.ReasonLocalPrefOverEBGP, "LOCAL_PREF is not sent")
	missing := validate.Errorf("spec.validator.seedSecretRef", stellarv1.ReasonSecretMissing, "Secret ns/s does not exist")
	policy := validate.LBErrorf("spec.loadBalancer.loadBalancerIP", stellarv1.ReasonNotAllowedByPolicy, "address is not granted")
	type want struct{ ready, progressing, degraded string }
	cases := []struct {
		name     string
		w        workloadState
		problems []validate.Problem
		want     want
		refused  string
	}{
		{"all pods ready and no problem is Ready, settled and not degraded", workloadState{1, 1, 1}, nil,
			want{"True/PodsReady", "False/Reconciled", "False/AsExpected"}, ""},
		{"a pod not ready yet is rolling out", workloadState{2, 2, 1}, nil,
			want{"False/PodsNotReady", "True/RollingOut", "False/AsExpected"}, ""},
		{"scaled to zero is not ready but not progressing", workloadState{0, 0, 0}, nil,
			want{"False/ScaledToZero", "False/Reconciled", "False/AsExpected"}, ""},
		{"an error problem stops everything and names its reason", workloadState{1, 0, 0}, []validate.Problem{missing},
			want{"False/SecretMissing", "False/SecretMissing", "True/SecretMissing"}, ""},
		{"a warning degrades a ready node without making it unready", workloadState{1, 1, 1}, []validate.Problem{ebgp},
			want{"True/PodsReady", "False/Reconciled", "True/LocalPrefOverEBGP"}, ""},
		{"an error wins over warnings", workloadState{1, 1, 1}, []validate.Problem{ebgp, missing},
			want{"False/SecretMissing", "False/SecretMissing", "True/SecretMissing"}, ""},
		{"unsupported fields degrade too", workloadState{1, 1, 1}, []validate.Problem{unsupported},
			want{"True/PodsReady", "False/Reconciled", "True/UnsupportedByMetalLBMode"}, ""},
		{"an error that stops only the load balancer degrades first but leaves readiness to the pods", workloadState{1, 1, 1}, []validate.Problem{ebgp, policy},
			want{"True/PodsReady", "False/Reconciled", "True/NotAllowedByPolicy"}, ""},
		{"a write the apiserver refused makes the node unready and degraded", workloadState{1, 1, 1}, nil,
			want{"False/ApplyFailed", "False/ApplyFailed", "True/ApplyFailed"}, "writing Service ns/x-lb: denied by policy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			for _, c := range conditions(7, outcome{workload: tc.w, problems: tc.problems, refused: tc.refused}) {
				if tc.refused != "" && c.Type != stellarv1.ConditionProgressing && c.Message != tc.refused {
					t.Errorf("%s message %q does not carry the apiserver's answer", c.Type, c.Message)
				}
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

func TestLoadBalancerReady(t *testing.T) {
	policy := validate.LBErrorf("spec.loadBalancer.loadBalancerIP", stellarv1.ReasonNotAllowedByPolicy, "address 192.0.2.9 is not granted")
	notInstalled := validate.Warnf("spec.loadBalancer", stellarv1.ReasonMetalLBNotInstalled, "MetalLB's CRDs are not installed")
	ebgp := validate.Warnf("spec.loadBalancer.bgp.advertisement.localPref", stellarv1.ReasonLocalPrefOverEBGP, "LOCAL_PREF is not sent")
	cases := []struct {
		name     string
		problems []validate.Problem
		assigned bool
		want     string
	}{
		{"an assigned address is ready", nil, true, "True/AddressAssigned"},
		{"a warning does not stop an assigned address", []validate.Problem{ebgp}, true, "True/AddressAssigned"},
		{"an address MetalLB has not assigned yet is pending", nil, false, "False/AddressPending"},
		{"an error of the load balancer names its reason", []validate.Problem{ebgp, policy}, false, "False/NotAllowedByPolicy"},
		{"MetalLB missing is why nothing is assigned", []validate.Problem{notInstalled}, false, "False/MetalLBNotInstalled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := loadBalancerCondition(4, tc.problems, "192.0.2.9", "pool-a", tc.assigned)
			if got := string(c.Status) + "/" + c.Reason; got != tc.want || c.ObservedGeneration != 4 {
				t.Fatalf("got %s (generation %d), want %s", got, c.ObservedGeneration, tc.want)
			}
			if tc.assigned && !strings.Contains(c.Message, "pool-a") {
				t.Errorf("message %q does not name the pool", c.Message)
			}
		})
	}
}

func TestSyncToReport(t *testing.T) {
	at := func(minute int) *metav1.Time {
		return &metav1.Time{Time: time.Date(2026, 11, 29, 12, minute, 0, 0, time.UTC)}
	}
	synced := func(ledger int64, minute int) *stellarv1.SyncStatus {
		return &stellarv1.SyncStatus{State: stellarv1.SyncSynced, LatestLedger: ledger, Reason: "synced", CheckedAt: at(minute)}
	}
	catchingUp := &stellarv1.SyncStatus{State: stellarv1.SyncCatchingUp, LatestLedger: 90, Reason: "catching up", CheckedAt: at(1)}
	cases := []struct {
		name               string
		reported, observed *stellarv1.SyncStatus
		want               *stellarv1.SyncStatus
	}{
		{"the first observation is reported", nil, synced(100, 0), synced(100, 0)},
		{"a ledger that moved for a minute keeps the report (no write)", synced(100, 0), synced(112, 1), synced(100, 0)},
		{"a ledger that moved for ten minutes is reported", synced(100, 0), synced(220, 10), synced(220, 10)},
		{"a new state is reported at once", synced(100, 0), catchingUp, catchingUp},
		{"losing the sidecars is reported at once", synced(100, 0), nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := syncToReport(tc.reported, tc.observed); !equality.Semantic.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestTransitionEvents(t *testing.T) {
	c := func(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason}
	}
	ready := c(stellarv1.ConditionReady, metav1.ConditionTrue, stellarv1.ReasonPodsReady)
	podsNotReady := c(stellarv1.ConditionReady, metav1.ConditionFalse, stellarv1.ReasonPodsNotReady)
	secretMissing := c(stellarv1.ConditionReady, metav1.ConditionFalse, stellarv1.ReasonSecretMissing)
	notDegraded := c(stellarv1.ConditionDegraded, metav1.ConditionFalse, stellarv1.ReasonAsExpected)
	degraded := c(stellarv1.ConditionDegraded, metav1.ConditionTrue, stellarv1.ReasonSecretMissing)
	supported := c(stellarv1.ConditionMetalLBSupported, metav1.ConditionTrue, stellarv1.ReasonAsExpected)
	pending := c(stellarv1.ConditionLoadBalancerReady, metav1.ConditionFalse, stellarv1.ReasonAddressPending)
	assigned := c(stellarv1.ConditionLoadBalancerReady, metav1.ConditionTrue, stellarv1.ReasonAddressAssigned)
	progressing := c(stellarv1.ConditionProgressing, metav1.ConditionTrue, stellarv1.ReasonRollingOut)
	cases := []struct {
		name        string
		before, now []metav1.Condition
		want        []string
	}{
		{"a new node coming up says nothing", nil, []metav1.Condition{podsNotReady, notDegraded, supported, pending, progressing}, nil},
		{"a new node with a missing secret warns at once", nil, []metav1.Condition{secretMissing, degraded},
			[]string{"Warning/SecretMissing/Ready", "Warning/SecretMissing/Degraded"}},
		{"a node becoming ready says so", []metav1.Condition{podsNotReady, pending}, []metav1.Condition{ready, assigned},
			[]string{"Normal/PodsReady/Ready", "Normal/AddressAssigned/LoadBalancerReady"}},
		{"a ready node falling back to pods not ready warns", []metav1.Condition{ready}, []metav1.Condition{podsNotReady},
			[]string{"Warning/PodsNotReady/Ready"}},
		{"a degraded node recovering says so", []metav1.Condition{degraded}, []metav1.Condition{notDegraded},
			[]string{"Normal/AsExpected/Degraded"}},
		{"an unchanged status says nothing", []metav1.Condition{ready, notDegraded}, []metav1.Condition{ready, notDegraded}, nil},
		{"a new reason with the same status is news", []metav1.Condition{podsNotReady}, []metav1.Condition{secretMissing},
			[]string{"Warning/SecretMissing/Ready"}},
		{"Progressing never sends an Event", nil, []metav1.Condition{c(stellarv1.ConditionProgressing, metav1.ConditionTrue, stellarv1.ReasonInvalidSpec)}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range transitionEvents(tc.before, tc.now) {
				got = append(got, e.eventType+"/"+e.reason+"/"+e.condition)
				if e.note == "" {
					t.Errorf("event %s/%s has no note", e.reason, e.condition)
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("events = %v, want %v", got, tc.want)
			}
		})
	}
}
