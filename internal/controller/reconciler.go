// Package controller reconciles StellarNodes: render the wanted objects (internal/render), apply
// them with one server-side-apply field owner, prune our labelled leftovers, and report status.
package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	metallbv1beta2 "go.universe.tf/metallb/api/v1beta2"

	"github.com/stellar-operator/stellar-operator/internal/render"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// Finalizer lets the operator remove what owner references cannot reach (cross-namespace MetalLB
// objects) and honour retentionPolicy for data volumes and generated Secrets.
const Finalizer = "stellar.org/cleanup"

// DefaultRetryInterval is how soon a node waiting for something the operator does not watch looks
// again: a user's Secret (caching every Secret of the cluster would cost memory and widen what the
// operator holds) or MetalLB's CRDs.
const DefaultRetryInterval = 30 * time.Second

// Options are the operator-wide settings that are not part of any StellarNode.
type Options struct {
	// OperatorImage runs the health sidecar.
	OperatorImage string
	// MetalLBNamespace is where MetalLB watches its objects.
	MetalLBNamespace string
	// FRRK8sNamespace is where frr-k8s writes its BGPSessionStates (frr-k8s mode); default
	// DefaultFRRK8sNamespace.
	FRRK8sNamespace string
	// BGPMode is MetalLB's BGP implementation; it decides which BGP fields can take effect.
	BGPMode render.BGPMode
	// RetryInterval overrides DefaultRetryInterval.
	RetryInterval time.Duration
	// SyncRefresh overrides DefaultSyncRefresh.
	SyncRefresh time.Duration
	// Discovery are the cluster facts global discovery needs (apiserver version, external-dns prefix).
	Discovery render.DiscoveryFacts
}

func (o Options) syncRefresh() time.Duration {
	if o.SyncRefresh > 0 {
		return o.SyncRefresh
	}
	return DefaultSyncRefresh
}

func (o Options) retryInterval() time.Duration {
	if o.RetryInterval > 0 {
		return o.RetryInterval
	}
	return DefaultRetryInterval
}

// Reconciler reconciles StellarNode objects.
type Reconciler struct {
	Client client.Client
	// APIReader reads Secrets without caching them.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  recorder.EventRecorder
	Options   Options
	// Metrics are optional (nil in tests that do not look at them).
	Metrics *Metrics
	// HTTPClient asks health sidecars for their status; nil means http.DefaultClient.
	HTTPClient *http.Client

	// watchesMetalLB is set when MetalLB's CRDs existed at start and its objects are cached.
	watchesMetalLB bool
	// watchesSessions is set when frr-k8s' BGPSessionState CRD existed at start (sessions.go).
	watchesSessions bool
}

// +kubebuilder:rbac:groups=stellar.org,resources=stellarnodes,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=stellar.org,resources=stellarnodes/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=stellar.org,resources=stellarnodes/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=statefulsets;deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services;configmaps;persistentvolumeclaims,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the controller and what it watches. MetalLB's objects are watched
// when its CRDs exist at start; otherwise nodes with a load balancer look again every 30 s.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&stellarv1.StellarNode{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.Service{}).
		Owns(&appsv1.StatefulSet{}).
		Owns(&appsv1.Deployment{}).
		// A node's shared MetalLB objects depend on its siblings: wake them when one changes.
		Watches(&stellarv1.StellarNode{}, handler.EnqueueRequestsFromMapFunc(r.loadBalancedNodes)).
		// Secrets are watched by metadata only (their values are never cached): a created or
		// rotated seed, database URL or MD5 password takes effect at once.
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.nodesReferencingSecret)).
		Named("stellarnode")
	if r.watchesMetalLB {
		for _, obj := range []client.Object{&metallbv1beta1.IPAddressPool{}, &metallbv1beta1.BGPAdvertisement{},
			&metallbv1beta1.L2Advertisement{}, &metallbv1beta1.BFDProfile{}, &metallbv1beta2.BGPPeer{}} {
			b = b.Watches(obj, handler.EnqueueRequestsFromMapFunc(r.nodesOfMetalLBObject))
		}
		if ok, err := r.metallbInstalled("ServiceBGPStatus", "v1beta1"); err == nil && ok {
			b = b.Watches(&metallbv1beta1.ServiceBGPStatus{}, handler.EnqueueRequestsFromMapFunc(r.nodesOfMetalLBObject))
		}
	}
	if r.watchesSessions {
		b = b.Watches(NewBGPSessionState(), handler.EnqueueRequestsFromMapFunc(r.loadBalancedNodes))
	}
	return b.Complete(r)
}

// WatchMetalLB makes the controller watch MetalLB's objects (through the manager's cache); set it
// only when MetalLB's CRDs exist before the manager starts.
func (r *Reconciler) WatchMetalLB(watch bool) { r.watchesMetalLB = watch }

// nodesOfMetalLBObject maps a MetalLB object to its node (per-node objects) or to every
// load-balanced node (shared and foreign objects: pools, peers and profiles affect several).
func (r *Reconciler) nodesOfMetalLBObject(ctx context.Context, obj client.Object) []reconcile.Request {
	labels := obj.GetLabels()
	if name, ns := labels[render.LabelNode], labels[render.LabelNodeNamespace]; name != "" && ns != "" {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}}}
	}
	return r.loadBalancedNodes(ctx, obj)
}

// nodesReferencingSecret maps a Secret to the nodes of its namespace that name it.
func (r *Reconciler) nodesReferencingSecret(ctx context.Context, secret client.Object) []reconcile.Request {
	list := &stellarv1.StellarNodeList{}
	if err := r.Client.List(ctx, list, client.InNamespace(secret.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if referencesSecret(&list.Items[i], secret.GetName()) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}

func referencesSecret(node *stellarv1.StellarNode, name string) bool {
	spec := node.Spec
	if v := spec.Validator; v != nil && v.SeedSecretRef != nil && v.SeedSecretRef.Name == name {
		return true
	}
	if h := spec.Horizon; h != nil && h.DatabaseSecretRef != nil && h.DatabaseSecretRef.Name == name {
		return true
	}
	if lb := spec.LoadBalancer; lb != nil && lb.BGP != nil {
		for _, p := range lb.BGP.Peers {
			if p.PasswordSecretRef != nil && p.PasswordSecretRef.Name == name {
				return true
			}
		}
	}
	return false
}

// loadBalancedNodes lists every node with a load balancer.
func (r *Reconciler) loadBalancedNodes(ctx context.Context, _ client.Object) []reconcile.Request {
	list := &stellarv1.StellarNodeList{}
	if err := r.Client.List(ctx, list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if render.LBEnabled(&list.Items[i]) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}

// scope is one reconcile pass: the node, what was observed, and what the pass found.
type scope struct {
	node      *stellarv1.StellarNode
	before    *stellarv1.StellarNodeStatus
	facts     render.Facts
	problems  []validate.Problem
	publicKey string
	wrote     int
	requeue   time.Duration
}

// requeueAtMost makes the pass come back no later than d.
func (s *scope) requeueAtMost(d time.Duration) {
	if s.requeue == 0 || d < s.requeue {
		s.requeue = d
	}
}

// Reconcile brings one StellarNode's objects in line with its spec.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	log := ctrl.LoggerFrom(ctx)
	node := &stellarv1.StellarNode{}
	if err := r.Client.Get(ctx, req.NamespacedName, node); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !node.DeletionTimestamp.IsZero() {
		r.Metrics.forget(node)
		return ctrl.Result{}, r.finalize(ctx, node)
	}
	if !controllerutil.ContainsFinalizer(node, Finalizer) {
		patch := client.MergeFrom(node.DeepCopy())
		controllerutil.AddFinalizer(node, Finalizer)
		if err := r.Client.Patch(ctx, node, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding finalizer: %w", err)
		}
	}

	s := &scope{node: node, before: node.Status.DeepCopy(), facts: render.Facts{OperatorImage: r.Options.OperatorImage, Discovery: r.Options.Discovery}}
	defer func() {
		// A panic must not be reported as a successful pass: turn it into an error.
		if p := recover(); p != nil {
			err = fmt.Errorf("reconcile panicked: %v", p)
			log.Error(err, "Recovered from a panic", "node", klog.KObj(node), "stack", string(debug.Stack()))
		}
		setStatus(s, err)
		r.Metrics.record(node, s)
		if statusErr := r.writeStatus(ctx, s); statusErr != nil {
			err = errors.Join(err, statusErr)
		}
	}()

	if s.requeue, err = r.resolveSecrets(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.observeMetalLB(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	if render.LBEnabled(node) && !s.facts.MetalLB.Installed {
		// Not watched until installed: look again so the node converges once the CRDs appear.
		s.requeue = r.Options.retryInterval()
	}
	desired := render.Desired(node, s.facts)
	s.problems = append(s.problems, desired.Problems...)
	if validate.HasErrors(s.problems) {
		// The user must fix the spec or create what it references: retrying changes nothing.
		log.Info("Not applying: the node has problems", "node", klog.KObj(node), "problems", len(s.problems))
		return ctrl.Result{RequeueAfter: s.requeue}, nil
	}
	if err := r.applyAll(ctx, s, desired.Objects); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.prune(ctx, s, desired.Objects); err != nil {
		return ctrl.Result{}, err
	}
	deleted, err := r.collectShared(ctx, s.facts.MetalLB)
	s.wrote += deleted
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.observeWorkload(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.observeLoadBalancer(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.observeSessions(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.observeSync(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: s.requeue}, nil
}

func (r *Reconciler) applyAll(ctx context.Context, s *scope, objects []client.Object) error {
	a := applier{client: r.Client, scheme: r.Scheme, readerFor: r.readerFor}
	for _, obj := range objects {
		if peer, ok := obj.(*metallbv1beta2.BGPPeer); ok {
			if err := r.recreateOnImmutableChange(ctx, s, peer); err != nil {
				return err
			}
		}
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

// readerFor reads Secrets and unwatched MetalLB kinds from the API, everything else from the cache.
func (r *Reconciler) readerFor(obj client.Object) client.Reader {
	switch obj.(type) {
	case *corev1.Secret:
		return r.APIReader
	case *metallbv1beta1.IPAddressPool, *metallbv1beta1.BGPAdvertisement, *metallbv1beta1.L2Advertisement,
		*metallbv1beta1.BFDProfile, *metallbv1beta2.BGPPeer:
		return r.metallbReader()
	}
	return r.Client
}

// recreateOnImmutableChange deletes our BGPPeer when its enableGracefulRestart must change:
// MetalLB makes the field immutable, so the session is rebuilt (it flaps once).
func (r *Reconciler) recreateOnImmutableChange(ctx context.Context, s *scope, peer *metallbv1beta2.BGPPeer) error {
	current := &metallbv1beta2.BGPPeer{}
	if err := r.metallbReader().Get(ctx, client.ObjectKeyFromObject(peer), current); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !ours(current) || current.Spec.EnableGracefulRestart == peer.Spec.EnableGracefulRestart {
		return nil
	}
	ctrl.LoggerFrom(ctx).Info("Recreating BGPPeer: enableGracefulRestart is immutable", "peer", klog.KObj(peer))
	if err := r.Client.Delete(ctx, current); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting BGPPeer %s to change enableGracefulRestart: %w", peer.Name, err)
	}
	s.wrote++
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
