// Package operator wires the manager: scheme, controllers, metrics and probes. The run command,
// the embedded local control plane and the envtest suites all build the operator through it.
package operator

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	metallbv1beta2 "go.universe.tf/metallb/api/v1beta2"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/controller"
	statusmetrics "github.com/stellar-operator/stellar-operator/internal/metrics"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// Config is the operator's process-wide configuration.
type Config struct {
	Controller  controller.Options
	MetricsAddr string
	ProbeAddr   string
	// PprofAddr serves Go's /debug/pprof/ profiles ("" or 0: off): how a fleet's CPU and memory
	// are looked into without rebuilding the operator.
	PprofAddr        string
	LeaderElection   bool
	LeaderElectionNS string
	// QPS and Burst limit the operator's requests to the apiserver on the client side (0: the
	// defaults below). The apiserver's own priority and fairness protects it; the client-side
	// limit only has to stop a runaway loop.
	QPS   float32
	Burst int
	// SkipControllerNameCheck lets a process build the operator again after an earlier manager
	// stopped (controller-runtime refuses a second controller named "stellarnode" per process
	// otherwise): for tests that restart the operator with other options.
	SkipControllerNameCheck bool
}

// Client-side rate limits: client-go's defaults (5 requests/s, burst 10) would make a fleet of a
// thousand nodes converge at the pace of the limiter, not of the apiserver.
const (
	DefaultQPS   = 200
	DefaultBurst = 400
)

// NewScheme registers every API the operator reads or writes.
func NewScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, stellarv1.AddToScheme, metallbv1beta1.AddToScheme, metallbv1beta2.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	return scheme, nil
}

// NewManager builds a manager running the StellarNode controller.
func NewManager(restConfig *rest.Config, cfg Config) (ctrl.Manager, error) {
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	if cfg.Controller.MetalLBNamespace == "" {
		cfg.Controller.MetalLBNamespace = "metallb-system"
	}
	if cfg.Controller.BGPMode == "" {
		cfg.Controller.BGPMode = render.BGPModeFRRK8s
	}
	restConfig = rest.CopyConfig(restConfig)
	restConfig.QPS, restConfig.Burst = cfg.QPS, cfg.Burst
	if restConfig.QPS == 0 {
		restConfig.QPS = DefaultQPS
	}
	if restConfig.Burst == 0 {
		restConfig.Burst = DefaultBurst
	}
	// MetalLB's objects are cached, from its namespace only, when its CRDs exist now; a cache for
	// kinds the apiserver does not serve cannot even be configured.
	metallbPresent, err := metallbServed(restConfig)
	if err != nil {
		return nil, err
	}
	metallbNamespace := map[string]cache.Config{cfg.Controller.MetalLBNamespace: {}}
	byObject := map[client.Object]cache.ByObject{}
	for _, obj := range []client.Object{&metallbv1beta1.IPAddressPool{}, &metallbv1beta1.BGPAdvertisement{}, &metallbv1beta1.L2Advertisement{},
		&metallbv1beta1.BFDProfile{}, &metallbv1beta2.BGPPeer{}, &metallbv1beta1.ServiceBGPStatus{}, &metallbv1beta1.ConfigurationState{}} {
		if metallbPresent {
			byObject[obj] = cache.ByObject{Namespaces: metallbNamespace}
		}
	}
	// The kinds the operator writes are cached only when they carry its label: a cluster's other
	// ConfigMaps, Services, workloads and claims never reach its memory.
	ours := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{render.LabelManagedBy: render.ManagerName})}
	for _, obj := range []client.Object{&corev1.ConfigMap{}, &corev1.Service{}, &corev1.PersistentVolumeClaim{}, &appsv1.StatefulSet{}, &appsv1.Deployment{}, &corev1.Pod{}, &policyv1.PodDisruptionBudget{}} {
		byObject[obj] = ours
	}
	// frr-k8s' BGPSessionStates are cached, from its namespace only, when their CRD exists now.
	sessionsPresent, err := groupVersionServed(restConfig, controller.BGPSessionStateGVK().GroupVersion().String())
	if err != nil {
		return nil, err
	}
	if sessionsPresent {
		ns := cfg.Controller.FRRK8sNamespace
		if ns == "" {
			ns = controller.DefaultFRRK8sNamespace
		}
		byObject[controller.NewBGPSessionState()] = cache.ByObject{Namespaces: map[string]cache.Config{ns: {}}}
	}
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme: scheme,
		Cache: cache.Options{ByObject: byObject,
			// Only the operator's own managedFields entry is read (to see what it owns); the rest
			// of them is a good part of every cached object's size.
			DefaultTransform: keepOwnManagedFields},
		Metrics:                 metricsserver.Options{BindAddress: cfg.MetricsAddr},
		HealthProbeBindAddress:  cfg.ProbeAddr,
		PprofBindAddress:        cfg.PprofAddr,
		LeaderElection:          cfg.LeaderElection,
		LeaderElectionID:        "stellar-operator.stellar.org",
		LeaderElectionNamespace: cfg.LeaderElectionNS,
		Controller:              ctrlconfig.Controller{SkipNameValidation: &cfg.SkipControllerNameCheck},
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	if cfg.ProbeAddr != "0" && cfg.ProbeAddr != "" {
		if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
			return nil, err
		}
		if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
			return nil, err
		}
	}
	metrics, err := controller.NewMetrics(ctrlmetrics.Registry)
	if err != nil {
		return nil, err
	}
	// StellarNodes' status as metrics, read from the cache at scrape time (alerts and dashboards).
	if err := statusmetrics.Register(ctrlmetrics.Registry, statusmetrics.NewStatusCollector(mgr.GetCache())); err != nil {
		return nil, err
	}
	if cfg.Controller.Discovery.ServerMinor == 0 {
		if cfg.Controller.Discovery.ServerMinor, err = ServerMinor(restConfig); err != nil {
			return nil, err
		}
	}
	r := &controller.Reconciler{
		Metrics:   metrics,
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Scheme:    mgr.GetScheme(),
		Recorder:  mgr.GetEventRecorder("stellar-operator"),
		Options:   cfg.Controller,
	}
	r.WatchMetalLB(metallbPresent)
	r.WatchSessions(sessionsPresent)
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the StellarNode controller: %w", err)
	}
	return mgr, nil
}

// keepOwnManagedFields drops every managedFields entry but the operator's own from cached objects.
func keepOwnManagedFields(obj any) (any, error) {
	accessor, ok := obj.(metav1.Object)
	if !ok {
		return obj, nil
	}
	entries := accessor.GetManagedFields()
	kept := entries[:0:0]
	for _, e := range entries {
		if e.Manager == controller.FieldOwner {
			kept = append(kept, e)
		}
	}
	if len(kept) != len(entries) {
		accessor.SetManagedFields(kept)
	}
	return obj, nil
}

// metallbServed reports whether the apiserver serves MetalLB's API group.
func metallbServed(restConfig *rest.Config) (bool, error) {
	return groupVersionServed(restConfig, metallbv1beta1.GroupVersion.String())
}

// groupVersionServed reports whether the apiserver serves a group version.
func groupVersionServed(restConfig *rest.Config, groupVersion string) (bool, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(restConfig)
	if err != nil {
		return false, err
	}
	if _, err := dc.ServerResourcesForGroupVersion(groupVersion); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("discovering %s: %w", groupVersion, err)
	}
	return true, nil
}

// ServerMinor is the apiserver's minor version, which decides how topology-aware routing is asked
// for (spec.trafficDistribution values changed across releases).
func ServerMinor(restConfig *rest.Config) (int, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(restConfig)
	if err != nil {
		return 0, err
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return 0, fmt.Errorf("reading the apiserver version: %w", err)
	}
	minor, err := strconv.Atoi(strings.TrimRight(v.Minor, "+"))
	if err != nil {
		return 0, fmt.Errorf("unexpected apiserver minor version %q", v.Minor)
	}
	return minor, nil
}
