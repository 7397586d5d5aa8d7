//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	"github.com/stellar-operator/stellar-operator/internal/health"
	"github.com/stellar-operator/stellar-operator/internal/stellar"
)

// The readiness chain of one region, standing in for a pod's containers and its kubelet:
//
//	fake Horizon ──> health.Server (the real sidecar code) ──/readyz──> probe mirror ──> Pod Ready
//	    ──> endpointslice controller (kube-controller-manager) ──> EndpointSlice ──> MetalLB
//
// - FakeHorizon answers /health and / in Horizon's shapes, synced or not.
// - The health server is internal/health's Server with a short period, served on loopback.
// - The probe mirror plays the kubelet's readiness probe (periodSeconds = ProbePeriod,
//   failureThreshold = successThreshold = 1): on every change of /readyz it writes the pod's Ready
//   condition through the status subresource, as the kubelet does. The real endpointslice
//   controller turns that into the Service's EndpointSlice.
//
// Every step records when it happened (ChainEvents), so a failover can be broken down.

// FakeHorizon serves Horizon's /health and / on loopback.
type FakeHorizon struct {
	URL    string
	synced atomic.Bool
	ledger atomic.Int64
	srv    *httptest.Server
}

// UnsyncedLag is how many ledgers an unsynced fake Horizon's ingestion trails its core.
const UnsyncedLag = 50

// NewFakeHorizon starts a fake Horizon (synced or not); it is closed at test cleanup.
func NewFakeHorizon(t testing.TB, synced bool) *FakeHorizon {
	f := &FakeHorizon{}
	f.synced.Store(synced)
	f.ledger.Store(52_000_000)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if f.synced.Load() {
			_, _ = io.WriteString(w, `{"database_connected":true,"core_up":true,"core_synced":true}`)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"database_connected":true,"core_up":true,"core_synced":false}`)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		history := f.ledger.Add(1)
		core := history
		if !f.synced.Load() {
			core += UnsyncedLag
		}
		w.Header().Set("Content-Type", "application/hal+json; charset=utf-8")
		fmt.Fprintf(w, `{"horizon_version":"21.0.0","core_version":"v21.0.0","ingest_latest_ledger":%d,`+
			`"history_latest_ledger":%d,"history_latest_ledger_closed_at":%q,"history_elder_ledger":2,`+
			`"core_latest_ledger":%d,"network_passphrase":%q,"current_protocol_version":21,`+
			`"supported_protocol_version":21,"core_supported_protocol_version":21}`,
			history, history, time.Now().UTC().Format(time.RFC3339), core, stellar.MainnetPassphrase)
	})
	f.srv = httptest.NewServer(mux)
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// SetSynced flips the fake: unsynced answers /health 503 (core_synced false) with ingestion
// UnsyncedLag ledgers behind core.
func (f *FakeHorizon) SetSynced(synced bool) { f.synced.Store(synced) }

// ChainEvent is one step of a readiness change.
type ChainEvent struct {
	// Step is "health" (the health server's verdict changed, so /readyz answers differently from
	// now on), "probe" (the probe mirror saw the new /readyz) or "patched" (the pod status patch
	// returned).
	Step  string
	Ready bool
	At    time.Time
}

// ChainOptions tune a readiness chain.
type ChainOptions struct {
	// HealthPeriod is the health server's check period (spec.healthCheck.periodSeconds).
	HealthPeriod time.Duration
	// ProbePeriod is the readiness probe's period (periodSeconds).
	ProbePeriod time.Duration
	// Synced is the fake Horizon's initial state.
	Synced bool
}

// ReadinessChain is one region's fake Horizon, health server and probe mirror.
type ReadinessChain struct {
	Region    string
	Pod       types.NamespacedName
	Horizon   *FakeHorizon
	HealthURL string
	Options   ChainOptions

	mu      sync.Mutex
	events  []ChainEvent
	rephase chan struct{}
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// StartReadinessChain starts the chain for the region's pod. The pod must exist (RunPod); the
// mirror sets its readiness on its first probe, as the kubelet does once a pod's first readiness
// probe has run. Everything stops at test cleanup.
func (tp *Topology) StartReadinessChain(t testing.TB, region string, pod types.NamespacedName, opts ChainOptions) *ReadinessChain {
	t.Helper()
	if _, err := tp.mustRegion(region); err != nil {
		t.Fatal(err)
	}
	c := &ReadinessChain{Region: region, Pod: pod, Options: opts, rephase: make(chan struct{}, 1)}
	c.Horizon = NewFakeHorizon(t, opts.Synced)
	cfg := health.Config{
		NodeType:          health.NodeTypeHorizon,
		TargetURL:         c.Horizon.URL,
		NetworkPassphrase: stellar.MainnetPassphrase,
		Period:            opts.HealthPeriod,
		// Generous: a check against loopback takes about a millisecond, and a timeout on a busy
		// two-core machine would flap the route.
		Timeout:      time.Second,
		MaxLedgerAge: time.Minute,
		MaxIngestLag: 10,
	}
	checker, err := health.NewChecker(cfg, nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	srv := health.NewServer(cfg, checker, prometheus.NewRegistry(), logr.New(&readinessSink{chain: c}))
	hs := httptest.NewServer(srv.Handler())
	c.HealthURL = hs.URL
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.wg.Add(2)
	go func() { defer c.wg.Done(); srv.Run(ctx) }()
	go func() { defer c.wg.Done(); c.mirror(ctx, tp) }()
	t.Cleanup(func() {
		cancel()
		c.wg.Wait()
		hs.Close()
	})
	return c
}

func (c *ReadinessChain) record(step string, ready bool, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, ChainEvent{Step: step, Ready: ready, At: at})
}

// First returns the first event of step with readiness ready at or after since.
func (c *ReadinessChain) First(step string, ready bool, since time.Time) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.events {
		if e.Step == step && e.Ready == ready && !e.At.Before(since) {
			return e.At, true
		}
	}
	return time.Time{}, false
}

// Events returns a copy of every event so far.
func (c *ReadinessChain) Events() []ChainEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ChainEvent(nil), c.events...)
}

// Rephase makes the probe mirror wait a random part of its period before its next probe, so that
// the probe's phase against the health server's checks is drawn anew (uniformly). Consecutive
// failovers then sample every phase a fleet of pods has, instead of the one phase this pod got.
func (c *ReadinessChain) Rephase() {
	select {
	case c.rephase <- struct{}{}:
	default:
	}
}

// mirror is the kubelet's readiness probe and its pod status write.
func (c *ReadinessChain) mirror(ctx context.Context, tp *Topology) {
	hc := &http.Client{Timeout: time.Second} // timeoutSeconds: 1
	period := c.Options.ProbePeriod
	next := time.NewTimer(period)
	defer next.Stop()
	var published *bool
	for {
		ready := false
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.HealthURL+"/readyz", nil)
		if err == nil {
			if resp, err := hc.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				ready = resp.StatusCode == http.StatusOK
			}
		}
		if ctx.Err() != nil {
			return
		}
		if published == nil || *published != ready {
			seen := time.Now()
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := tp.SetPodReady(pctx, c.Pod, ready)
			cancel()
			// A failed patch is retried on the next probe, like a kubelet status update.
			if err == nil {
				c.record("probe", ready, seen)
				c.record("patched", ready, time.Now())
				published = &ready
			}
		}
		next.Reset(period)
	wait:
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.rephase:
				next.Reset(rand.N(period))
			case <-next.C:
				break wait
			}
		}
	}
}

// readinessSink is the health server's logger: it turns "Readiness changed" into chain events,
// taken right after the server stored the new verdict (from then on /readyz answers it).
type readinessSink struct{ chain *ReadinessChain }

func (s *readinessSink) Init(logr.RuntimeInfo)  {}
func (s *readinessSink) Enabled(level int) bool { return level == 0 }
func (s *readinessSink) Info(_ int, msg string, kv ...any) {
	if msg != "Readiness changed" {
		return
	}
	now := time.Now()
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok && k == "ready" {
			if ready, ok := kv[i+1].(bool); ok {
				s.chain.record("health", ready, now)
			}
		}
	}
}
func (s *readinessSink) Error(error, string, ...any)    {}
func (s *readinessSink) WithValues(...any) logr.LogSink { return s }
func (s *readinessSink) WithName(string) logr.LogSink   { return s }
