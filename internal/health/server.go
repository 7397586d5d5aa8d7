package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const noCheckYet = "no check has completed yet"

// Server runs a Checker periodically and serves the latest verdict. Probes
// only read the stored result, so a burst of probes never turns into a burst
// of calls against the Stellar process.
type Server struct {
	cfg      Config
	checker  Checker
	registry *prometheus.Registry
	log      logr.Logger
	metrics  *metrics

	last atomic.Pointer[snapshot]

	// checkTimeout bounds a whole check (Horizon and RPC make two calls).
	checkTimeout time.Duration
	// staleAfter is how old a result may get before /readyz stops trusting
	// it: if the check loop stops or wedges, the node must not keep
	// attracting anycast traffic on the strength of an old answer.
	staleAfter time.Duration
}

type snapshot struct {
	result Result
	// observedAt uses the local clock: Result.CheckedAt comes from the
	// checker's clock, which tests (and future callers) may fake.
	observedAt time.Time
	initial    bool
}

type metrics struct {
	synced       prometheus.Gauge
	latestLedger prometheus.Gauge
	lag          prometheus.Gauge
	duration     prometheus.Histogram
	failures     *prometheus.CounterVec
	// quorum holds a validator's quorum-set counts (agree, disagree, delayed, missing, fail_at).
	quorum *prometheus.GaugeVec
}

// NewServer wires checker to HTTP handlers and metrics registered on
// registry. A nil registry gets a private one so nothing ever lands in the
// global default registry.
func NewServer(cfg Config, checker Checker, registry *prometheus.Registry, log logr.Logger) *Server {
	cfg = cfg.withDefaults()
	if cfg.Period <= 0 {
		cfg.Period = DefaultPeriod
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if registry == nil {
		registry = prometheus.NewRegistry()
	}
	log = log.WithValues("nodeType", cfg.NodeType)
	s := &Server{
		cfg:          cfg,
		checker:      checker,
		registry:     registry,
		log:          log,
		metrics:      newMetrics(registry, cfg.NodeType, log),
		checkTimeout: 3 * cfg.Timeout,
		staleAfter:   3*cfg.Period + 3*cfg.Timeout,
	}
	s.last.Store(&snapshot{
		result:  Result{NodeType: cfg.NodeType, State: StateUnknown, Reason: noCheckYet},
		initial: true,
	})
	return s
}

func newMetrics(reg *prometheus.Registry, nodeType NodeType, log logr.Logger) *metrics {
	labels := prometheus.Labels{"node_type": string(nodeType)}
	m := &metrics{
		synced: register(reg, log, prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "stellar_health_synced",
			Help:        "1 if the last check found the Stellar process synced and ready, else 0.",
			ConstLabels: labels,
		})),
		latestLedger: register(reg, log, prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "stellar_health_latest_ledger",
			Help:        "Latest ledger the Stellar process reported (last known value).",
			ConstLabels: labels,
		})),
		lag: register(reg, log, prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "stellar_health_ledger_lag",
			Help:        "Ledgers the Stellar process is behind, where known (last known value).",
			ConstLabels: labels,
		})),
		duration: register(reg, log, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:        "stellar_health_check_duration_seconds",
			Help:        "Duration of sync checks against the Stellar process.",
			ConstLabels: labels,
			Buckets:     prometheus.DefBuckets,
		})),
		failures: register(reg, log, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "stellar_health_check_failures_total",
			Help:        "Checks that found the Stellar process not ready, by reason.",
			ConstLabels: labels,
		}, []string{"reason"})),
		quorum: register(reg, log, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name:        "stellar_health_quorum_validators",
			Help:        "Validators of the core's quorum set by state (agree, disagree, delayed, missing), and fail_at: how many failures the quorum survives. Validators only.",
			ConstLabels: labels,
		}, []string{"state"})),
	}
	for _, f := range allFailureReasons() {
		m.failures.WithLabelValues(string(f))
	}
	return m
}

// register tolerates a second Server on the same registry by reusing the
// collectors already there instead of panicking like MustRegister.
func register[T prometheus.Collector](reg prometheus.Registerer, log logr.Logger, c T) T {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing
		}
	}
	log.Error(err, "Cannot register metric; it will not be exported")
	return c
}

// PublicHandler serves only /healthz and /readyz: it listens on the port the LoadBalancer Service
// exposes on the anycast address, where anyone may probe readiness but nothing else is shown.
func (s *Server) PublicHandler() http.Handler {
	mux := http.NewServeMux()
	s.probes(mux)
	return mux
}

// Handler serves /healthz, /readyz, /status and /metrics: for the cluster only (the operator reads
// /status, Prometheus scrapes /metrics), never exposed on the load balancer.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.probes(mux)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		body, err := json.MarshalIndent(s.current(), "", "  ")
		if err != nil {
			writeText(w, http.StatusInternalServerError, "cannot encode status")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(append(body, '\n'))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	return mux
}

func (s *Server) probes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		r := s.current()
		code := http.StatusOK
		if !r.Ready {
			code = http.StatusServiceUnavailable
		}
		writeText(w, code, r.Reason)
	})
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

// current returns the result to serve, downgraded when it is too old.
func (s *Server) current() Result {
	snap := s.last.Load()
	r := snap.result
	if snap.initial {
		return r
	}
	if age := time.Since(snap.observedAt); age > s.staleAfter {
		r.Ready = false
		r.State = StateUnknown
		r.Failure = FailureStale
		r.Reason = fmt.Sprintf("last check finished %s ago (limit %s); checks have stopped or are stuck",
			ageString(age), s.staleAfter)
	}
	return r
}

// Run checks immediately and then every Period until ctx is done. Checks run
// one at a time in this goroutine, so a slow target delays checks instead of
// stacking them up.
func (s *Server) Run(ctx context.Context) {
	if c, ok := s.checker.(interface{ CloseIdleConnections() }); ok {
		// Keep-alive connections hold goroutines; nothing uses them once
		// the loop ends.
		defer c.CloseIdleConnections()
	}
	if ctx.Err() != nil {
		return
	}
	s.log.Info("Starting sync checks", "period", s.cfg.Period, "timeout", s.cfg.Timeout)
	s.runCheck(ctx)
	ticker := time.NewTicker(s.cfg.Period)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			s.log.Info("Stopped sync checks")
			return
		case <-ticker.C:
			s.runCheck(ctx)
		}
	}
}

func (s *Server) runCheck(ctx context.Context) {
	checkCtx, cancel := context.WithTimeout(ctx, s.checkTimeout)
	defer cancel()
	start := time.Now()
	r := s.safeCheck(checkCtx)
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		// Interrupted by shutdown: the result describes us, not the target.
		return
	}
	s.record(s.normalize(r, elapsed), elapsed)
}

func (s *Server) safeCheck(ctx context.Context) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			// The sidecar must keep answering probes; a crash loop would
			// also flap the route on every restart.
			s.log.Error(fmt.Errorf("panic: %v", p), "Check panicked")
			r = notReady(StateUnknown, FailureInvalidResponse, "check panicked: %s", clip(fmt.Sprint(p)))
		}
	}()
	return s.checker.Check(ctx)
}

// normalize fills what a foreign Checker may leave out and keeps the
// failure label inside its fixed set.
func (s *Server) normalize(r Result, elapsed time.Duration) Result {
	if r.NodeType == "" {
		r.NodeType = s.cfg.NodeType
	}
	if r.CheckedAt.IsZero() {
		r.CheckedAt = time.Now()
	}
	if r.DurationSeconds == 0 {
		r.DurationSeconds = elapsed.Seconds()
	}
	if r.State == "" {
		r.State = StateUnknown
	}
	if r.Ready {
		r.Failure = ""
		return r
	}
	if !r.Failure.known() {
		r.Failure = FailureNotSynced
	}
	if r.Reason == "" {
		r.Reason = "not ready (" + string(r.Failure) + ")"
	}
	return r
}

func (s *Server) record(r Result, elapsed time.Duration) {
	prev := s.last.Swap(&snapshot{result: r, observedAt: time.Now()})

	m := s.metrics
	m.duration.Observe(elapsed.Seconds())
	if r.Ready {
		m.synced.Set(1)
	} else {
		m.synced.Set(0)
		m.failures.WithLabelValues(string(r.Failure)).Inc()
	}
	if r.LatestLedger > 0 {
		m.latestLedger.Set(float64(r.LatestLedger))
		m.lag.Set(float64(r.Lag))
	}
	if q := r.Quorum; q != nil {
		for state, n := range map[string]int64{"agree": q.Agree, "disagree": q.Disagree, "delayed": q.Delayed, "missing": q.Missing, "fail_at": q.FailAt} {
			m.quorum.WithLabelValues(state).Set(float64(n))
		}
	}

	kv := []any{"ready", r.Ready, "state", r.State, "latestLedger", r.LatestLedger, "lag", r.Lag, "reason", r.Reason}
	if prev.initial || prev.result.Ready != r.Ready || prev.result.Failure != r.Failure {
		// Only transitions at the default level: a log line every period
		// would drown the interesting ones.
		s.log.Info("Readiness changed", kv...)
		return
	}
	s.log.V(1).Info("Check completed", kv...)
}
