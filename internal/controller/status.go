package controller

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// workloadState is what the conditions are computed from.
type workloadState struct {
	desired, replicas, ready int32
}

// outcome is what a pass found, as the pure condition setters see it.
type outcome struct {
	workload workloadState
	problems []validate.Problem
	// refused is the apiserver's refusal of a write, when one happened.
	refused string
}

// conditions computes Ready, Progressing and Degraded from a pass's outcome. Pure, so every
// combination is table-tested.
func conditions(generation int64, o outcome) []metav1.Condition {
	cond := func(t string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: t, Status: status, Reason: reason, Message: msg, ObservedGeneration: generation}
	}
	if o.refused != "" {
		return []metav1.Condition{
			cond(stellarv1.ConditionReady, metav1.ConditionFalse, stellarv1.ReasonApplyFailed, o.refused),
			cond(stellarv1.ConditionProgressing, metav1.ConditionFalse, stellarv1.ReasonApplyFailed, "retrying with backoff"),
			cond(stellarv1.ConditionDegraded, metav1.ConditionTrue, stellarv1.ReasonApplyFailed, o.refused),
		}
	}
	nodeErrors := validate.InScope(blocking(o.problems), validate.ScopeNode)
	if len(nodeErrors) > 0 {
		msg := problemMessage(nodeErrors)
		return []metav1.Condition{
			cond(stellarv1.ConditionReady, metav1.ConditionFalse, nodeErrors[0].Reason, msg),
			cond(stellarv1.ConditionProgressing, metav1.ConditionFalse, nodeErrors[0].Reason, "nothing is applied until the problem is fixed"),
			cond(stellarv1.ConditionDegraded, metav1.ConditionTrue, nodeErrors[0].Reason, msg),
		}
	}
	// Errors that stop the load balancer come first: they are what the user must act on.
	ordered := append(blocking(o.problems), nonBlocking(o.problems)...)
	degraded := cond(stellarv1.ConditionDegraded, metav1.ConditionFalse, stellarv1.ReasonAsExpected, "")
	if len(ordered) > 0 {
		degraded = cond(stellarv1.ConditionDegraded, metav1.ConditionTrue, ordered[0].Reason, problemMessage(ordered))
	}
	w := o.workload
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

func blocking(problems []validate.Problem) []validate.Problem {
	var out []validate.Problem
	for _, p := range problems {
		if p.Blocking() {
			out = append(out, p)
		}
	}
	return out
}

func nonBlocking(problems []validate.Problem) []validate.Problem {
	var out []validate.Problem
	for _, p := range problems {
		if !p.Blocking() {
			out = append(out, p)
		}
	}
	return out
}

// loadBalancerCondition says whether the node's address is assigned, or what stops it. Pure.
func loadBalancerCondition(generation int64, problems []validate.Problem, externalIP, pool string, assigned bool) metav1.Condition {
	c := metav1.Condition{Type: stellarv1.ConditionLoadBalancerReady, ObservedGeneration: generation}
	lbErrors := validate.InScope(blocking(problems), validate.ScopeLoadBalancer)
	for _, p := range problems {
		if p.Reason == stellarv1.ReasonMetalLBNotInstalled {
			lbErrors = append(lbErrors, p)
		}
	}
	switch {
	case len(lbErrors) > 0:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, lbErrors[0].Reason, problemMessage(lbErrors)
	case !assigned:
		c.Status, c.Reason = metav1.ConditionFalse, stellarv1.ReasonAddressPending
		c.Message = "waiting for MetalLB to assign the address from IPAddressPool " + pool
	default:
		c.Status, c.Reason = metav1.ConditionTrue, stellarv1.ReasonAddressAssigned
		c.Message = externalIP + " assigned from IPAddressPool " + pool
	}
	return c
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
	return truncate(strings.Join(parts, "; "), 4*maxAPIMessage)
}

// setStatus fills the node's status from the pass: what render intended, what the controller
// observed, and the conditions. After a transient error the conditions and observedGeneration keep
// what the last successful pass said; a refused write is reported.
func setStatus(s *scope, reconcileErr error) {
	node := s.node
	if reconcileErr != nil {
		if s.applyErr != nil {
			for _, c := range conditions(node.Generation, outcome{refused: s.applyErr.message()}) {
				meta.SetStatusCondition(&node.Status.Conditions, c)
			}
		}
		return
	}
	node.Status.Image = s.intended.Image
	node.Status.Selector = s.intended.Selector
	switch {
	case node.Spec.NodeType != stellarv1.NodeTypeValidator:
		node.Status.PublicKey = ""
	case s.publicKey != "":
		node.Status.PublicKey = s.publicKey
	}
	// A validator whose seed cannot be read keeps the public key it had: it is still that validator.
	w := workloadState{desired: node.EffectiveReplicas(), replicas: node.Status.Replicas, ready: node.Status.ReadyReplicas}
	for _, c := range conditions(node.Generation, outcome{workload: w, problems: s.problems}) {
		meta.SetStatusCondition(&node.Status.Conditions, c)
	}
	node.Status.LoadBalancer = nil
	if node.LoadBalancerEnabled() {
		node.Status.LoadBalancer = s.intended.LoadBalancer
		pool := ""
		if lb := s.intended.LoadBalancer; lb != nil {
			pool = lb.Pool
		}
		meta.SetStatusCondition(&node.Status.Conditions, supportedCondition(node.Generation, s.problems))
		meta.SetStatusCondition(&node.Status.Conditions, loadBalancerCondition(node.Generation, s.problems, node.Status.ExternalIP, pool, s.lbAssigned))
	} else {
		meta.RemoveStatusCondition(&node.Status.Conditions, stellarv1.ConditionMetalLBSupported)
		meta.RemoveStatusCondition(&node.Status.Conditions, stellarv1.ConditionLoadBalancerReady)
	}
	if s.peersEstablished != nil && node.LoadBalancerEnabled() {
		meta.SetStatusCondition(&node.Status.Conditions, *s.peersEstablished)
	} else {
		meta.RemoveStatusCondition(&node.Status.Conditions, stellarv1.ConditionPeersEstablished)
	}
	node.Status.Discovery = s.intended.Discovery
	node.Status.ObservedGeneration = node.Generation
}

// recordTransitions sends the Events transitionEvents decides.
func (r *Reconciler) recordTransitions(s *scope) {
	for _, e := range transitionEvents(s.before.Conditions, s.node.Status.Conditions) {
		r.Recorder.Eventf(s.node, nil, e.eventType, e.reason, e.condition, "%s", truncate(e.note, maxAPIMessage))
	}
}

// conditionEvent is one Event about a condition's transition.
type conditionEvent struct {
	eventType, reason, condition, note string
}

// comingUp tells the reasons every new node passes through on its way to ready: news on a node
// that falls back to them, not on one that has them from its first pass.
func comingUp(reason string) bool {
	switch reason {
	case stellarv1.ReasonPodsNotReady, stellarv1.ReasonRollingOut, stellarv1.ReasonAddressPending, stellarv1.ReasonNoSessionState:
		return true
	}
	return false
}

// transitionEvents decides the Events a status change deserves: one per condition whose status or
// reason changed, and only then (Events are writes too: a converged node must cost none). A
// condition that appears for the first time is news only when it is bad and not a step every new
// node takes: a fleet of new nodes would otherwise send four Events a node to say nothing is wrong
// (a third of its writes at 1,000 nodes). Degraded=True and every other condition being False are
// the bad news, sent as Warnings. Pure.
func transitionEvents(before, now []metav1.Condition) []conditionEvent {
	var events []conditionEvent
	for _, t := range []string{stellarv1.ConditionReady, stellarv1.ConditionDegraded, stellarv1.ConditionMetalLBSupported,
		stellarv1.ConditionLoadBalancerReady, stellarv1.ConditionPeersEstablished} {
		c := meta.FindStatusCondition(now, t)
		if c == nil {
			continue
		}
		bad := (t == stellarv1.ConditionDegraded) == (c.Status == metav1.ConditionTrue)
		was := meta.FindStatusCondition(before, t)
		switch {
		case was != nil && was.Status == c.Status && was.Reason == c.Reason:
			continue
		case was == nil && (!bad || comingUp(c.Reason)):
			continue
		}
		eventType := corev1.EventTypeNormal
		if bad {
			eventType = corev1.EventTypeWarning
		}
		note := c.Message
		if note == "" {
			note = t + " is " + string(c.Status)
		}
		events = append(events, conditionEvent{eventType: eventType, reason: c.Reason, condition: t, note: note})
	}
	return events
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
