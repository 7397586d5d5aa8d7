// Package controller reconciles StellarNodes: render the wanted objects (internal/render), apply
// them with one server-side-apply field owner, prune our labelled leftovers, and report status.
package controller

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// Finalizer lets the operator remove what owner references cannot reach (cross-namespace MetalLB
// objects) and honour retentionPolicy for data volumes and generated Secrets.
const Finalizer = "stellar.org/cleanup"

// retryMissingSecret is how soon a node waiting for a user's Secret looks again. Secrets are not
// watched: caching every Secret of the cluster would cost memory and widen what the operator holds.
const retryMissingSecret = 30 * time.Second

// Options are the operator-wide settings that are not part of any StellarNode.
type Options struct {
	// OperatorImage runs the health sidecar.
	OperatorImage string
}

// Reconciler reconciles StellarNode objects.
type Reconciler struct {
	Client client.Client
	// APIReader reads Secrets without caching them.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  recorder.EventRecorder
	Options   Options
}

// +kubebuilder:rbac:groups=stellar.org,resources=stellarnodes,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=stellar.org,resources=stellarnodes/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=stellar.org,resources=stellarnodes/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=statefulsets;deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services;configmaps;persistentvolumeclaims,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the controller and what it watches.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&stellarv1.StellarNode{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.Service{}).
		Owns(&appsv1.StatefulSet{}).
		Owns(&appsv1.Deployment{}).
		Named("stellarnode").
		Complete(r)
}

// scope is one reconcile pass: the node, what was observed, and what the pass found.
type scope struct {
	node      *stellarv1.StellarNode
	before    *stellarv1.StellarNodeStatus
	facts     render.Facts
	problems  []validate.Problem
	publicKey string
	wrote     int
}

// Reconcile brings one StellarNode's objects in line with its spec.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	log := ctrl.LoggerFrom(ctx)
	node := &stellarv1.StellarNode{}
	if err := r.Client.Get(ctx, req.NamespacedName, node); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !node.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, node)
	}
	if !controllerutil.ContainsFinalizer(node, Finalizer) {
		patch := client.MergeFrom(node.DeepCopy())
		controllerutil.AddFinalizer(node, Finalizer)
		if err := r.Client.Patch(ctx, node, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding finalizer: %w", err)
		}
	}

	s := &scope{node: node, before: node.Status.DeepCopy(), facts: render.Facts{OperatorImage: r.Options.OperatorImage}}
	defer func() {
		// A panic must not be reported as a successful pass: turn it into an error.
		if p := recover(); p != nil {
			err = fmt.Errorf("reconcile panicked: %v", p)
			log.Error(err, "Recovered from a panic", "node", klog.KObj(node), "stack", string(debug.Stack()))
		}
		setStatus(s, err)
		if statusErr := r.writeStatus(ctx, s); statusErr != nil {
			err = errors.Join(err, statusErr)
		}
	}()

	requeue, err := r.resolveSecrets(ctx, s)
	if err != nil {
		return ctrl.Result{}, err
	}
	desired := render.Desired(node, s.facts)
	s.problems = append(s.problems, desired.Problems...)
	if validate.HasErrors(s.problems) {
		// The user must fix the spec or create what it references: retrying changes nothing.
		log.Info("Not applying: the node has problems", "node", klog.KObj(node), "problems", len(s.problems))
		return ctrl.Result{RequeueAfter: requeue}, nil
	}
	if err := r.applyAll(ctx, s, desired.Objects); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.prune(ctx, s, desired.Objects); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.observeWorkload(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

func (r *Reconciler) applyAll(ctx context.Context, s *scope, objects []client.Object) error {
	a := applier{client: r.Client, scheme: r.Scheme}
	for _, obj := range objects {
		wrote, err := a.apply(ctx, obj)
		if err != nil {
			return err
		}
		if wrote {
			s.wrote++
			ctrl.LoggerFrom(ctx).V(1).Info("Applied object", "kind", obj.GetObjectKind().GroupVersionKind().Kind, "object", klog.KObj(obj))
		}
	}
	return nil
}

// observeWorkload reads replica counts from the node's main workload.
func (r *Reconciler) observeWorkload(ctx context.Context, s *scope) error {
	key := client.ObjectKey{Namespace: s.node.Namespace, Name: render.WorkloadName(s.node)}
	var replicas, ready int32
	if s.node.Spec.NodeType == stellarv1.NodeTypeHorizon {
		d := &appsv1.Deployment{}
		if err := r.Client.Get(ctx, key, d); err != nil {
			return client.IgnoreNotFound(err)
		}
		replicas, ready = d.Status.Replicas, d.Status.ReadyReplicas
	} else {
		st := &appsv1.StatefulSet{}
		if err := r.Client.Get(ctx, key, st); err != nil {
			return client.IgnoreNotFound(err)
		}
		replicas, ready = st.Status.Replicas, st.Status.ReadyReplicas
	}
	s.node.Status.Replicas, s.node.Status.ReadyReplicas = replicas, ready
	return nil
}

// writeStatus patches status once per pass, and only when it changed: a converged node costs no write.
func (r *Reconciler) writeStatus(ctx context.Context, s *scope) error {
	if equality.Semantic.DeepEqual(*s.before, s.node.Status) {
		return nil
	}
	r.recordTransitions(s)
	patch := client.MergeFrom(&stellarv1.StellarNode{ObjectMeta: s.node.ObjectMeta, Status: *s.before})
	if err := r.Client.Status().Patch(ctx, s.node, patch); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("writing status: %w", err)
	}
	return nil
}
