//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// Stand-ins for the scheduler, the Deployment/ReplicaSet controllers and the kubelet: the harness
// creates a StellarNode's pod from the operator's own Deployment template, bound to a region's
// node, and plays the kubelet's status writes (phase, pod IP, Ready). From there the real
// endpointslice controller (kube-controller-manager) writes the EndpointSlices MetalLB reads.

// RunPod creates the pod of node n's Deployment on region's node, with the region's pod IP, Running
// and ready as given. It is owned by the Deployment (no ReplicaSet: the controllers that would make
// one do not run), so the real garbage collector removes it with the StellarNode's workload. Its
// termination grace period is 0: no kubelet would confirm a graceful deletion.
func (tp *Topology) RunPod(ctx context.Context, n *stellarv1.StellarNode, region string, ready bool) (types.NamespacedName, error) {
	rn, err := tp.mustRegion(region)
	if err != nil {
		return types.NamespacedName{}, err
	}
	d := &appsv1.Deployment{}
	key := types.NamespacedName{Namespace: n.Namespace, Name: render.WorkloadName(n)}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err = tp.Client.Get(ctx, key, d); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return types.NamespacedName{}, fmt.Errorf("the operator's Deployment %s: %w", key, err)
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: n.Name + "-" + region, Namespace: n.Namespace,
			Labels:      d.Spec.Template.Labels,
			Annotations: d.Spec.Template.Annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID,
			}},
		},
		Spec: *d.Spec.Template.Spec.DeepCopy(),
	}
	pod.Spec.NodeName = rn.Node
	pod.Spec.TerminationGracePeriodSeconds = ptr.To[int64](0)
	if err := tp.Client.Create(ctx, pod); err != nil {
		return types.NamespacedName{}, fmt.Errorf("creating pod %s: %w", pod.Name, err)
	}
	now := metav1.Now()
	pod.Status = corev1.PodStatus{
		Phase:     corev1.PodRunning,
		HostIP:    rn.Addr.String(),
		HostIPs:   []corev1.HostIP{{IP: rn.Addr.String()}},
		PodIP:     rn.PodIP.String(),
		PodIPs:    []corev1.PodIP{{IP: rn.PodIP.String()}},
		StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
	}
	setReady(pod, ready)
	if err := tp.Client.Status().Update(ctx, pod); err != nil {
		return types.NamespacedName{}, fmt.Errorf("writing pod %s's status: %w", pod.Name, err)
	}
	return client.ObjectKeyFromObject(pod), nil
}

func setReady(pod *corev1.Pod, ready bool) {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	now := metav1.Now()
	for _, t := range []corev1.PodConditionType{corev1.ContainersReady, corev1.PodReady} {
		found := false
		for i := range pod.Status.Conditions {
			if c := &pod.Status.Conditions[i]; c.Type == t {
				found = true
				if c.Status != status {
					c.Status, c.LastTransitionTime = status, now
				}
			}
		}
		if !found {
			pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: t, Status: status, LastTransitionTime: now})
		}
	}
}

// SetPodReady writes the pod's Ready (and ContainersReady) condition through the status
// subresource, as the kubelet does when a readiness probe's verdict changes.
func (tp *Topology) SetPodReady(ctx context.Context, key types.NamespacedName, ready bool) error {
	pod := &corev1.Pod{}
	if err := tp.Client.Get(ctx, key, pod); err != nil {
		return err
	}
	patch := client.MergeFrom(pod.DeepCopy())
	setReady(pod, ready)
	return tp.Client.Status().Patch(ctx, pod, patch)
}
