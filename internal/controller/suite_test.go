package controller_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/stellar-operator/stellar-operator/internal/controller"
	"github.com/stellar-operator/stellar-operator/internal/controlplane"
	"github.com/stellar-operator/stellar-operator/internal/metallblog"
	"github.com/stellar-operator/stellar-operator/internal/operator"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// suite is the one control plane and operator shared by every test of this package.
type suite struct {
	// k8s is an uncounted client for the tests' own reads, writes and watches.
	k8s client.WithWatch
	// operatorWrites counts the write requests the operator's manager sends.
	operatorWrites *atomic.Int64
	// logs holds everything the operator logged.
	logs *syncBuffer
	// reconcilerWrites counts the write requests of the direct reconciler below.
	reconcilerWrites *atomic.Int64
	// reconciler is a second reconciler, for direct Reconcile calls.
	reconciler *controller.Reconciler
}

var env suite

const (
	testOperatorImage = "example.org/stellar-operator:test"
	metallbNamespace  = "metallb-system"
)

func TestMain(m *testing.M) {
	// The operator's logs go to a buffer that tests scan for leaked secrets; set
	// STELLAR_TEST_LOGS=1 to also see them.
	env.logs = &syncBuffer{}
	var logOut io.Writer = env.logs
	if os.Getenv("STELLAR_TEST_LOGS") != "" {
		logOut = io.MultiWriter(env.logs, os.Stderr)
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logOut), zap.UseDevMode(true)))
	metallbCRDs, err := controlplane.MetalLBCRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: MetalLB's CRDs:", err)
		os.Exit(1)
	}
	var (
		metallb  *controlplane.MetalLBController
		verdict  metallblog.Verdict
		judgeErr error
	)
	code := controlplane.RunTests(m, controlplane.Options{ExtraCRDs: metallbCRDs}, func(cp *controlplane.ControlPlane) (func(), error) {
		scheme, err := operator.NewScheme()
		if err != nil {
			return nil, err
		}
		env.k8s, err = client.NewWithWatch(cp.Config, client.Options{Scheme: scheme})
		if err != nil {
			return nil, err
		}
		if err := env.k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: metallbNamespace}}); err != nil {
			return nil, err
		}
		// MetalLB's own controller judges every object the operator writes (and assigns addresses).
		metallb, err = cp.StartMetalLBController(metallbNamespace)
		if errors.Is(err, controlplane.ErrNoMetalLBController) && os.Getenv("CI") != "true" {
			fmt.Fprintln(os.Stderr, "MetalLB will not judge this run:", err)
		} else if err != nil {
			return nil, err
		}
		// The operator runs as the ServiceAccount of config/rbac, never as admin: what the shipped
		// ClusterRole does not allow fails here as it would in a real cluster.
		operatorConfig, err := cp.OperatorConfig(context.Background())
		if err != nil {
			return nil, err
		}
		env.operatorWrites = &atomic.Int64{}
		counted := rest.CopyConfig(operatorConfig)
		counted.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
			return countWrites{next: rt, writes: env.operatorWrites}
		}
		// The manager's reconciler and the direct one must mean the same thing by every spec.
		minor, err := operator.ServerMinor(cp.Config)
		if err != nil {
			return nil, err
		}
		// Several workers, so every test also runs reconciles concurrently.
		options := controller.Options{OperatorImage: testOperatorImage, MetalLBNamespace: metallbNamespace, BGPMode: render.BGPModeFRRK8s,
			Discovery: render.DiscoveryFacts{ServerMinor: minor}, Workers: 8}
		mgr, err := operator.NewManager(counted, operator.Config{
			Controller:  options,
			MetricsAddr: "0",
			ProbeAddr:   "0",
		})
		if err != nil {
			return nil, err
		}
		// The direct reconciler writes through its own counted transport, so a background pass of
		// the manager (a timer, a watch event) can never be mistaken for its writes.
		env.reconcilerWrites = &atomic.Int64{}
		direct := rest.CopyConfig(operatorConfig)
		direct.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
			return countWrites{next: rt, writes: env.reconcilerWrites}
		}
		directClient, err := client.New(direct, client.Options{Scheme: scheme, Cache: &client.CacheOptions{Reader: mgr.GetCache()}})
		if err != nil {
			return nil, err
		}
		directReader, err := client.New(direct, client.Options{Scheme: scheme})
		if err != nil {
			return nil, err
		}
		env.reconciler = &controller.Reconciler{
			Client: directClient, APIReader: directReader, Scheme: mgr.GetScheme(),
			Recorder: mgr.GetEventRecorder("stellar-operator-test"),
			Options:  options,
		}
		// Like the manager's own reconciler: MetalLB's CRDs exist, so its objects come from the cache.
		env.reconciler.WatchMetalLB(true)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- mgr.Start(ctx) }()
		return func() {
			cancel()
			<-done
			if metallb != nil {
				verdict, judgeErr = metallb.Verdict()
				judgeErr = errors.Join(judgeErr, metallb.Stop())
			}
		}, nil
	})
	// MetalLB must have accepted every configuration the tests made the operator write.
	if judgeErr != nil {
		fmt.Fprintln(os.Stderr, "FAIL: MetalLB's verdict:", judgeErr)
		code = 1
	}
	for _, l := range verdict.Refused {
		fmt.Fprintln(os.Stderr, "FAIL: MetalLB refused the configuration:", l)
		code = 1
	}
	for _, l := range verdict.Pending {
		fmt.Fprintln(os.Stderr, "FAIL: MetalLB never got past a transient configuration error:", l)
		code = 1
	}
	// Tests make nodes ask for taken or pool-less addresses on purpose and check the node's
	// status themselves; MetalLB's failures to assign are counted, not judged.
	if n := len(verdict.Unallocated); n > 0 {
		fmt.Fprintf(os.Stderr, "MetalLB's controller could not assign an address %d times (the first: %s)\n", n, verdict.Unallocated[0])
	}
	// Whatever the tests did, the shipped RBAC must have allowed every request the operator sent.
	if denied := controlplane.ForbiddenLines(env.logs.String()); code == 0 && len(denied) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the operator was refused by its own RBAC (config/rbac) %d times:\n%s\n", len(denied), strings.Join(denied, "\n"))
		code = 1
	}
	os.Exit(code)
}

// countWrites counts every request that is not a read.
type countWrites struct {
	next   http.RoundTripper
	writes *atomic.Int64
}

func (c countWrites) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		c.writes.Add(1)
	}
	return c.next.RoundTrip(req)
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
