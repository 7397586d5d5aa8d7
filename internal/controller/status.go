package controller

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// workloadState is what the conditions are computed from.
type workloadState struct {
	desired, replicas, ready int32
}

// conditions computes Ready, Progressing and Degraded from a pass's outcome. Pure, so every
// combination is table-tested.
func conditions(generation int64, w workloadState, problems []validate.Problem) []metav1.Condition {
	cond := func(t string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: t, Status: status, Reason: reason, Message: msg, ObservedGeneration: generation}
	}
	var errs, warns []validate.Problem
	for _, p := range problems {
		if p.Severity == validate.SeverityError {
			errs = append(errs, p)
		} else {
			warns = append(warns, p)
		}
	}
	if len(errs) > 0 {
		msg := problemMessage(errs)
		return []metav1.Condition{
			cond(stellarv1.ConditionReady, metav1.ConditionFalse, errs[0].Reason, msg),
			cond(stellarv1.ConditionProgressing, metav1.ConditionFalse, errs[0].Reason, "nothing is applied until the problem is fixed"),
			cond(stellarv1.ConditionDegraded, metav1.ConditionTrue, errs[0].Reason, msg),
		}
	}
	degraded := cond(stellarv1.ConditionDegraded, metav1.ConditionFalse, stellarv1.ReasonAsExpected, "")
	if len(warns) > 0 {
		degraded = cond(stellarv1.ConditionDegraded, metav1.ConditionTrue, warns[0].Reason, problemMessage(warns))
	}
	ready := cond(stellarv1.ConditionReady, metav1.ConditionTrue, stellarv1.ReasonPodsReady, fmt.Sprintf("%d/%d pods ready", w.ready, w.desired))
	switch {
	case w.desired == 0:
		ready = cond(stellarv1.ConditionReady, metav1.ConditionFalse, stellarv1.ReasonScaledToZero, "replicas is 0")
	case w.ready < w.desired:
		ready = cond(stellarv1.ConditionReady, metav1.ConditionFalse, stellarv1.ReasonPodsNotReady, fmt.Sprintf("%d/%d pods ready", w.ready, w.desired))
	}
	progressing := cond(stellarv1.ConditionProgressing, metav1.ConditionFalse, stellarv1.ReasonReconciled, "")
	if w.replicas != w.desired || w.ready < w.desired {
		progressing = cond(stellarv1.ConditionProgressing, metav1.ConditionTrue, stellarv1.ReasonRollingOut,
			fmt.Sprintf("%d/%d pods ready", w.ready, w.desired))
	}
	return []metav1.Condition{ready, progressing, degraded}
}

// supportedCondition says which fields MetalLB's mode cannot take, on its own condition so that
// another warning in Degraded never hides it.
func supportedCondition(generation int64, problems []validate.Problem) metav1.Condition {
	var unsupported []validate.Problem
	for _, p := range problems {
		if p.Reason == stellarv1.ReasonUnsupportedByMetalLB {
			unsupported = append(unsupported, p)
		}
	}
	c := metav1.Condition{Type: stellarv1.ConditionMetalLBSupported, Status: metav1.ConditionTrue,
		Reason: stellarv1.ReasonAsExpected, ObservedGeneration: generation}
	if len(unsupported) > 0 {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, stellarv1.ReasonUnsupportedByMetalLB, problemMessage(unsupported)
	}
	return c
}

func problemMessage(problems []validate.Problem) string {
	parts := make([]string, 0, len(problems))
	for _, p := range problems {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, "; ")
}

// setStatus fills the node's status from the pass. After a transient error the conditions and
// observedGeneration keep what the last successful pass said.
func setStatus(s *scope, reconcileErr error) {
	node := s.node
	if reconcileErr != nil {
		return
	}
	node.Status.Image = render.Image(node)
	node.Status.Selector = labels.SelectorFromSet(render.SelectorLabels(node)).String()
	if node.Spec.NodeType == stellarv1.NodeTypeValidator {
		node.Status.PublicKey = s.publicKey
	}
	w := workloadState{desired: render.Replicas(node), replicas: node.Status.Replicas, ready: node.Status.ReadyReplicas}
	for _, c := range conditions(node.Generation, w, s.problems) {
		meta.SetStatusCondition(&node.Status.Conditions, c)
	}
	if render.LBEnabled(node) {
		meta.SetStatusCondition(&node.Status.Conditions, supportedCondition(node.Generation, s.problems))
	} else {
		meta.RemoveStatusCondition(&node.Status.Conditions, stellarv1.ConditionMetalLBSupported)
	}
	node.Status.Discovery = nil
	if gd := render.Discovery(node); gd != nil {
		node.Status.Discovery = &stellarv1.DiscoveryStatus{Region: gd.Region, Zone: gd.Zone, Priority: render.Priority(gd), DNSName: render.DNSName(node)}
	}
	node.Status.ObservedGeneration = node.Generation
}

// recordTransitions sends an Event when Ready or Degraded changes, and only then: Events are writes
// too, and a converged node must cost none.
func (r *Reconciler) recordTransitions(s *scope) {
	for _, t := range []string{stellarv1.ConditionReady, stellarv1.ConditionDegraded, stellarv1.ConditionMetalLBSupported} {
		now := meta.FindStatusCondition(s.node.Status.Conditions, t)
		if now == nil {
			continue
		}
		was := meta.FindStatusCondition(s.before.Conditions, t)
		if was != nil && was.Status == now.Status && was.Reason == now.Reason {
			continue
		}
		// Degraded=True, Ready=False and MetalLBSupported=False are the bad news.
		eventType := corev1.EventTypeNormal
		if (t == stellarv1.ConditionDegraded) == (now.Status == metav1.ConditionTrue) {
			eventType = corev1.EventTypeWarning
		}
		note := now.Message
		if note == "" {
			note = t + " is " + string(now.Status)
		}
		r.Recorder.Eventf(s.node, nil, eventType, now.Reason, t, "%s", truncate(note, 1000))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
