// Package controller reconciles StellarNodes: render the wanted objects (internal/render), apply
// them with one server-side-apply field owner, prune our labelled leftovers, and report status.
package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
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
// again: MetalLB's CRDs, or a Secret whose creation a lost watch event hid.
const DefaultRetryInterval = 30 * time.Second

// DefaultSweepInterval is how often every shared MetalLB object of the operator is checked for a
// user; per-node passes already collect what a node stops using.
const DefaultSweepInterval = 10 * time.Minute

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
	// SweepInterval overrides DefaultSweepInterval.
	SweepInterval time.Duration
	// Workers is how many nodes are reconciled at once (0: DefaultWorkers()).
	Workers int
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

// DefaultWorkers sizes the worker pool to the machine: reconciles mostly wait for the apiserver,
// so a few per CPU keep it busy; more only queue behind the shared-object lock.
func DefaultWorkers() int { return min(4*runtime.GOMAXPROCS(0), 16) }

func (o Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return DefaultWorkers()
}

func (o Options) sweepInterval() time.Duration {
	if o.SweepInterval > 0 {
		return o.SweepInterval
	}
	return DefaultSweepInterval
}

// Reconciler reconciles StellarNode objects.
type Reconciler struct {
	Client client.Client
	// APIReader reads Secrets without caching them.
	APIReader client.Reader
	Scheme    *kruntime.Scheme
	Recorder  recorder.EventRecorder
	Options   Options
	// Metrics are optional (nil in tests that do not look at them).
	Metrics *Metrics
	// HTTPClient asks health sidecars for their status; nil means http.DefaultClient.
	HTTPClient *http.Client

	// createdSecrets are the Secrets this process just generated (secrets.go).
	createdSecrets ownCreations
	// watchesMetalLB is set when MetalLB's CRDs existed at start and its objects are cached.
	watchesMetalLB bool
	// watchesSessions is set when frr-k8s' BGPSessionState CRD existed at start (sessions.go).
	watchesSessions bool
	// sharedMu serialises the check-and-write of shared MetalLB objects (shared.go).
	sharedMu sync.Mutex
}

// The operator's own API: nodes are patched only (finalizer), their status too; finalizers/update
// lets it set blockOwnerDeletion on the objects a node owns.
// +kubebuilder:rbac:groups=stellar.org,resources=stellarnodes,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=stellar.org,resources=stellarnodes/status,verbs=patch
// +kubebuilder:rbac:groups=stellar.org,resources=stellarnodes/finalizers,verbs=update
// Workloads and their configuration, written with server-side apply (create is needed when an
// apply creates), deleted when a node stops wanting them.
// +kubebuilder:rbac:groups=apps,resources=statefulsets;deployments,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=services;configmaps,verbs=get;list;watch;create;patch;delete
// Claims: Horizon's captive-core claim is applied; the StatefulSets' claims are read as evidence of
// existing data (a validator's identity, a database's password); all go under retentionPolicy Delete.
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;create;patch;delete
// Secrets: referenced ones are read by name (values never cached: a metadata-only watch wakes
// their nodes); generated seeds, database passwords and MD5 copies are created, patched, deleted.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// Disruption budgets of multi-replica nodes.
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch;delete

// SetupWithManager registers the controller, its cache indexes and what it watches. MetalLB's
// objects are watched when its CRDs exist at start; otherwise nodes with a load balancer look
// again every 30 s.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := setupIndexes(mgr, r.watchesMetalLB); err != nil {
		return err
	}
	// Status writes (the operator's own, each minute's sync) change no generation: they wake nobody.
	// A node's own annotations do wake it: touching one is how a user asks for a pass now.
	// A node's own objects appear because its pass created them (that pass goes on to observe
	// them), or in the cache's first list (every node has a pass then anyway): their creation is no
	// news. Dropping it halves the passes a new fleet costs. Changes and deletions still wake it.
	changedOrDeleted := builder.WithPredicates(predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }})
	// The cache's first list shows every node as created: every node has its own pass then, and
	// waking each one's siblings too would cost a restart O(N²) in event mapping.
	notInFirstList := predicate.Funcs{CreateFunc: func(e event.CreateEvent) bool { return !e.IsInInitialList }}
	// An advertisement labelled with its node was created by that node's pass.
	notANodesOwnCreation := predicate.Funcs{CreateFunc: func(e event.CreateEvent) bool { return len(ownerNodeKeys(e.Object)) == 0 }}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&stellarv1.StellarNode{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&corev1.ConfigMap{}, changedOrDeleted).
		Owns(&corev1.Service{}, changedOrDeleted).
		Owns(&appsv1.StatefulSet{}, changedOrDeleted).
		Owns(&appsv1.Deployment{}, changedOrDeleted).
		Owns(&policyv1.PodDisruptionBudget{}, changedOrDeleted).
		// A node's shared MetalLB objects depend on the nodes claiming the same address, pool or
		// router: wake exactly those when one changes.
		Watches(&stellarv1.StellarNode{}, handler.EnqueueRequestsFromMapFunc(r.siblingsOf),
			builder.WithPredicates(predicate.GenerationChangedPredicate{}, notInFirstList)).
		// Secrets are watched by metadata only (their values are never cached): a created or
		// rotated seed, database URL or MD5 password takes effect at once.
		// A Secret the node's pass generated is no news to it; one a user creates (or restores
		// from a backup, labels and all) is.
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.nodesReferencingSecret),
			builder.WithPredicates(notInFirstList, predicate.Funcs{CreateFunc: func(e event.CreateEvent) bool {
				return !r.createdSecrets.take(e.Object.GetUID())
			}})).
		Watches(&stellarv1.LoadBalancerPolicy{}, handler.EnqueueRequestsFromMapFunc(r.nodesOfPolicyChange)).
		WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.nodesInNamespace)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.Options.workers()}).
		Named("stellarnode")
	if r.watchesMetalLB {
		for _, obj := range []client.Object{&metallbv1beta1.IPAddressPool{}, &metallbv1beta1.BGPAdvertisement{},
			&metallbv1beta1.L2Advertisement{}, &metallbv1beta1.BFDProfile{}, &metallbv1beta2.BGPPeer{}} {
			// MetalLB's controller rewrites pool status often; only spec changes matter here. A
			// node's own advertisement is created by its pass, like its other objects.
			b = b.Watches(obj, handler.EnqueueRequestsFromMapFunc(r.nodesOfMetalLBObject),
				builder.WithPredicates(predicate.GenerationChangedPredicate{}, notANodesOwnCreation))
		}
		if ok, err := r.metallbInstalled("ServiceBGPStatus", "v1beta1"); err == nil && ok {
			b = b.Watches(&metallbv1beta1.ServiceBGPStatus{}, handler.EnqueueRequestsFromMapFunc(r.nodeOfServiceStatus))
		}
	}
	if r.watchesSessions {
		b = b.Watches(NewBGPSessionState(), handler.EnqueueRequestsFromMapFunc(r.nodesOfSessionState))
	}
	if err := mgr.Add(sweeper{r: r}); err != nil {
		return err
	}
	return b.Complete(r)
}

// WatchMetalLB makes the controller watch MetalLB's objects (through the manager's cache); set it
// only when MetalLB's CRDs exist before the manager starts.
func (r *Reconciler) WatchMetalLB(watch bool) { r.watchesMetalLB = watch }

// scope is one reconcile pass: the node, what was observed, and what the pass found.
type scope struct {
	node     *stellarv1.StellarNode
	before   *stellarv1.StellarNodeStatus
	facts    render.Facts
	claims   *cacheClaims
	intended render.IntendedStatus
	problems []validate.Problem
	// publicKey is the validator's, when its seed was read.
	publicKey string
	// lbAssigned is true when MetalLB assigned the LoadBalancer Service its address.
	lbAssigned bool
	// applyErr is the write the apiserver refused, reported on the node.
	applyErr *applyError
	// peersEstablished is the PeersEstablished condition, where frr-k8s reports sessions.
	peersEstablished *metav1.Condition
	wrote            int
	requeue          time.Duration
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

	if err := r.resolveSecrets(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.observeLiveWorkload(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	desired, err := r.renderAndApplyShared(ctx, s)
	if err != nil {
		return ctrl.Result{}, err
	}
	if validate.HasErrors(s.problems) {
		// The user must fix the spec or create what it references: retrying changes nothing.
		log.Info("Not applying: the node has problems", "node", klog.KObj(node), "problems", len(s.problems))
		return ctrl.Result{RequeueAfter: s.requeue}, nil
	}
	if err := r.applyAll(ctx, s, desired, false); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.prune(ctx, s, desired); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.collectUnused(ctx, s); err != nil {
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

// renderAndApplyShared observes MetalLB, renders the node and writes its shared MetalLB objects,
// as one step under sharedMu for load-balanced nodes (see shared.go). It returns what is left to
// apply.
func (r *Reconciler) renderAndApplyShared(ctx context.Context, s *scope) ([]client.Object, error) {
	if usesSharedObjects(s.node) {
		r.sharedMu.Lock()
		defer r.sharedMu.Unlock()
	}
	if err := r.observeMetalLB(ctx, s); err != nil {
		return nil, err
	}
	if s.node.LoadBalancerEnabled() && !s.facts.MetalLB.Installed {
		// Not watched until installed: look again so the node converges once the CRDs appear.
		s.requeueAtMost(r.Options.retryInterval())
	}
	desired := render.Desired(s.node, s.facts)
	if s.claims != nil && s.claims.err != nil {
		return nil, s.claims.err
	}
	s.problems = append(s.problems, desired.Problems...)
	s.intended = desired.Status
	if validate.BlocksLoadBalancer(s.problems) {
		// What stops the load balancer may be another object (a peer with another ASN, a pool):
		// not every such change wakes this node, so it looks again.
		s.requeueAtMost(r.Options.retryInterval())
	}
	if validate.HasErrors(s.problems) {
		return nil, nil
	}
	var shared, rest []client.Object
	for _, obj := range desired.Objects {
		if isShared(obj) {
			shared = append(shared, obj)
		} else {
			rest = append(rest, obj)
		}
	}
	if err := r.applyAll(ctx, s, shared, true); err != nil {
		return nil, err
	}
	return rest, nil
}

// collectUnused deletes the shared objects the node (and every other node) no longer uses. It runs
// after prune: the node's advertisements and LoadBalancer Service are gone first, so nothing is
// announced through a peer or from a pool when they go.
func (r *Reconciler) collectUnused(ctx context.Context, s *scope) error {
	if !s.facts.MetalLB.Installed || !usesSharedObjects(s.node) {
		return nil
	}
	r.sharedMu.Lock()
	defer r.sharedMu.Unlock()
	// What the node itself still wants stays: no need to ask its siblings (a fleet's shared peer
	// has them all) about it. Only what it held before is a candidate.
	candidates := formerShared(s.node, s.facts.MetalLB)
	for kind, names := range render.SharedObjectNames(s.node, s.facts.MetalLB) {
		for _, name := range names {
			delete(candidates, kind+"/"+name)
		}
	}
	deleted, err := r.collectShared(ctx, s.facts.MetalLB, candidates)
	s.wrote += deleted
	return err
}

// usesSharedObjects reports whether a node has, or had at its last pass, a load balancer: shared
// MetalLB objects may then need writing or collecting.
func usesSharedObjects(node *stellarv1.StellarNode) bool {
	return node.LoadBalancerEnabled() || node.Status.LoadBalancer != nil
}

// applyAll applies objects; shared ones wait for the cache to show them (see shared.go).
func (r *Reconciler) applyAll(ctx context.Context, s *scope, objects []client.Object, shared bool) error {
	a := applier{client: r.Client, scheme: r.Scheme, readerFor: r.readerFor}
	for _, obj := range objects {
		if peer, ok := obj.(*metallbv1beta2.BGPPeer); ok {
			if err := r.recreateOnImmutableChange(ctx, s, peer); err != nil {
				return s.refused(obj, err)
			}
		}
		result, err := a.apply(ctx, obj)
		if err != nil {
			return s.refused(obj, err)
		}
		if result.wrote {
			s.wrote++
			r.announceRollout(s, obj)
			ctrl.LoggerFrom(ctx).V(1).Info("Applied object", "kind", obj.GetObjectKind().GroupVersionKind().Kind, "object", klog.KObj(obj), "difference", result.difference)
			if shared {
				r.waitCached(ctx, obj, result.before, false)
			}
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
	r.Recorder.Eventf(s.node, nil, corev1.EventTypeWarning, stellarv1.ReasonPeerRecreated, "Recreate",
		"BGPPeer %s is recreated to change enableGracefulRestart (immutable in MetalLB): its sessions restart once", peer.Name)
	if err := r.Client.Delete(ctx, current); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting BGPPeer %s to change enableGracefulRestart: %w", peer.Name, err)
	}
	r.waitCached(ctx, current, "", true)
	s.wrote++
	return nil
}

// observeLiveWorkload reads the pod template the node's main workload runs now: the health
// sidecar's image stays pinned to it while nothing else changes.
func (r *Reconciler) observeLiveWorkload(ctx context.Context, s *scope) error {
	key := client.ObjectKey{Namespace: s.node.Namespace, Name: render.WorkloadName(s.node)}
	var tpl *corev1.PodTemplateSpec
	if s.node.Spec.NodeType == stellarv1.NodeTypeHorizon {
		d := &appsv1.Deployment{}
		if err := r.Client.Get(ctx, key, d); err != nil {
			return client.IgnoreNotFound(err)
		}
		tpl = &d.Spec.Template
	} else {
		st := &appsv1.StatefulSet{}
		if err := r.Client.Get(ctx, key, st); err != nil {
			return client.IgnoreNotFound(err)
		}
		tpl = &st.Spec.Template
	}
	s.facts.Workload = render.ObserveWorkload(tpl)
	return nil
}

// announceRollout sends an Event when a write restarts the node's pods: a disruptive action the
// user should be able to trace.
func (r *Reconciler) announceRollout(s *scope, obj client.Object) {
	var tpl *corev1.PodTemplateSpec
	switch w := obj.(type) {
	case *appsv1.Deployment:
		tpl = &w.Spec.Template
	case *appsv1.StatefulSet:
		tpl = &w.Spec.Template
	}
	if tpl == nil || obj.GetName() != render.WorkloadName(s.node) {
		return
	}
	if cause := render.RolloutCause(s.facts.Workload, tpl); cause != "" {
		r.Recorder.Eventf(s.node, nil, corev1.EventTypeNormal, stellarv1.ReasonRolloutStarted, "Rollout",
			"The pods of %s restart: %s", obj.GetName(), cause)
	}
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

// sweeper runs sweepShared at start and then every SweepInterval, on the leader only.
type sweeper struct{ r *Reconciler }

func (w sweeper) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("shared-sweep")
	ticker := time.NewTicker(w.r.Options.sweepInterval())
	defer ticker.Stop()
	for {
		if err := w.r.sweepShared(ctx); err != nil && ctx.Err() == nil {
			log.Error(err, "Sweeping shared MetalLB objects")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// NeedLeaderElection: only the leader deletes.
func (sweeper) NeedLeaderElection() bool { return true }
