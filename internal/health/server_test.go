package health

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
)

type checkerFunc func(ctx context.Context) Result

func (f checkerFunc) Check(ctx context.Context) Result { return f(ctx) }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func getStatus(t *testing.T, base string) Result {
	t.Helper()
	_, body := get(t, base+"/status")
	var r Result
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("decode /status %q: %v", body, err)
	}
	return r
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// startRun runs s.Run until the test ends and waits for it to return.
func startRun(t *testing.T, s *Server) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

func TestServerBeforeFirstCheck(t *testing.T) {
	s := NewServer(Config{NodeType: NodeTypeValidator}, checkerFunc(func(context.Context) Result {
		t.Error("checker must not run before Run")
		return Result{}
	}), prometheus.NewRegistry(), logr.Discard())
	srv := serve(t, s.Handler())

	if code, body := get(t, srv.URL+"/healthz"); code != http.StatusOK || body != "ok" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
	if code, body := get(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable || body != "no check has completed yet" {
		t.Errorf("/readyz = %d %q, want 503 and the no-check reason", code, body)
	}
	r := getStatus(t, srv.URL)
	if r.State != StateUnknown || r.Ready || r.NodeType != NodeTypeValidator {
		t.Errorf("/status = %+v, want Unknown, not ready, Validator", r)
	}
	if code, _ := get(t, srv.URL+"/nope"); code != http.StatusNotFound {
		t.Errorf("unknown path answered %d, want 404", code)
	}
}

func TestServerFollowsHorizonSyncFlips(t *testing.T) {
	// Horizon's freshness rule compares against the wall clock here, so the
	// fake's close time is kept current.
	fresh := func() string {
		return horizonRootBody(3730795, 3730796, time.Now().Add(-2*time.Second).UTC().Format(time.RFC3339), testnetPassphrase)
	}
	fake := &fakeHorizon{}
	fake.set(http.StatusOK, horizonHealthy, http.StatusOK, fresh())
	target := serve(t, fake)

	const period = 50 * time.Millisecond
	cfg := Config{NodeType: NodeTypeHorizon, TargetURL: target.URL, Period: period, Timeout: time.Second}
	checker, err := NewChecker(cfg, nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(cfg, checker, prometheus.NewRegistry(), logr.Discard())
	srv := serve(t, s.Handler())
	startRun(t, s)

	readyz := func() int { code, _ := get(t, srv.URL+"/readyz"); return code }
	// One period to notice, plus slack for the check itself and a loaded
	// CI machine.
	const within = period + 400*time.Millisecond

	waitFor(t, 2*time.Second, "first ready", func() bool { return readyz() == http.StatusOK })

	fake.set(http.StatusServiceUnavailable, horizonCoreNotSynced, http.StatusOK, fresh())
	if took := waitFor(t, 2*time.Second, "/readyz 503", func() bool { return readyz() == http.StatusServiceUnavailable }); took > within {
		t.Errorf("/readyz took %s to turn 503, want within %s", took, within)
	}
	if r := getStatus(t, srv.URL); r.Ready || r.State != StateCatchingUp || !strings.Contains(r.Reason, "core_synced") {
		t.Errorf("/status = %+v, want not ready, CatchingUp, reason naming core_synced", r)
	}
	if _, body := get(t, srv.URL+"/readyz"); !strings.Contains(body, "core_synced") {
		t.Errorf("/readyz body = %q, want the reason", body)
	}

	fake.set(http.StatusOK, horizonHealthy, http.StatusOK, fresh())
	if took := waitFor(t, 2*time.Second, "/readyz 200", func() bool { return readyz() == http.StatusOK }); took > within {
		t.Errorf("/readyz took %s to turn 200 again, want within %s", took, within)
	}
	if r := getStatus(t, srv.URL); !r.Ready || r.State != StateSynced || r.LatestLedger != 3730795 || r.Lag != 1 {
		t.Errorf("/status = %+v, want ready and synced at 3730795 with lag 1", r)
	}
}

func TestServerExposesMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	calls := make(chan struct{}, 100)
	s := NewServer(Config{NodeType: NodeTypeSorobanRPC, Period: 20 * time.Millisecond},
		checkerFunc(func(context.Context) Result {
			calls <- struct{}{}
			return Result{State: StateSynced, Ready: true, LatestLedger: 42, Reason: "fine"}
		}), reg, logr.Discard())
	srv := serve(t, s.Handler())
	startRun(t, s)
	waitFor(t, 2*time.Second, "a completed check", func() bool { return getStatus(t, srv.URL).Ready })

	code, body := get(t, srv.URL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`stellar_health_synced{node_type="SorobanRpc"} 1`,
		`stellar_health_latest_ledger{node_type="SorobanRpc"} 42`,
		`stellar_health_ledger_lag{node_type="SorobanRpc"} 0`,
		`stellar_health_check_duration_seconds_count{node_type="SorobanRpc"}`,
		`stellar_health_check_failures_total{node_type="SorobanRpc",reason="transport"} 0`,
		`stellar_health_check_failures_total{node_type="SorobanRpc",reason="wrong_network"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestServerCountsFailuresByBoundedReason(t *testing.T) {
	reg := prometheus.NewRegistry()
	var mu sync.Mutex
	next := Result{State: StateUnknown, Failure: "something-unbounded", Reason: "weird"}
	s := NewServer(Config{NodeType: NodeTypeHorizon}, checkerFunc(func(context.Context) Result {
		mu.Lock()
		defer mu.Unlock()
		return next
	}), reg, logr.Discard())
	s.runCheck(context.Background())
	mu.Lock()
	next = Result{State: StateUnknown, Failure: FailureTransport, Reason: "refused"}
	mu.Unlock()
	s.runCheck(context.Background())

	srv := serve(t, s.Handler())
	_, body := get(t, srv.URL+"/metrics")
	for _, want := range []string{
		`stellar_health_check_failures_total{node_type="Horizon",reason="not_synced"} 1`,
		`stellar_health_check_failures_total{node_type="Horizon",reason="transport"} 1`,
		`stellar_health_synced{node_type="Horizon"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "something-unbounded") {
		t.Error("an unknown failure reason leaked into a label value")
	}
}

func TestNewServerTwiceOnOneRegistryDoesNotPanic(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := checkerFunc(func(context.Context) Result { return Result{Ready: true, State: StateSynced} })
	NewServer(Config{NodeType: NodeTypeValidator}, c, reg, logr.Discard())
	NewServer(Config{NodeType: NodeTypeValidator}, c, reg, logr.Discard())
}

func TestServerDistrustsOldResults(t *testing.T) {
	s := NewServer(Config{NodeType: NodeTypeValidator}, checkerFunc(nil), nil, logr.Discard())
	s.last.Store(&snapshot{
		result:     Result{NodeType: NodeTypeValidator, State: StateSynced, Ready: true, Reason: "was fine"},
		observedAt: time.Now().Add(-time.Hour),
	})
	srv := serve(t, s.Handler())
	if code, body := get(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "stopped or are stuck") {
		t.Errorf("/readyz = %d %q, want 503 for a result an hour old", code, body)
	}
}

func TestServerSurvivesPanickingChecker(t *testing.T) {
	s := NewServer(Config{NodeType: NodeTypeValidator}, checkerFunc(func(context.Context) Result {
		panic("boom")
	}), nil, logr.Discard())
	s.runCheck(context.Background())
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "panicked") {
		t.Errorf("/readyz = %d %q, want 503 mentioning the panic", rec.Code, rec.Body.String())
	}
}

func TestRunStopsWithoutLeakingGoroutines(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(slowHandler(release))
	defer slow.Close()
	defer close(release)

	// Warm up lazily started runtime and net/http goroutines so they do not
	// count as leaks.
	check(t, Config{NodeType: NodeTypeValidator, TargetURL: refusedURL(t)}, coreNow)
	runtime.GC()
	before := runtime.NumGoroutine()

	var checks sync.WaitGroup
	cfg := Config{NodeType: NodeTypeValidator, TargetURL: slow.URL, Period: 5 * time.Millisecond, Timeout: 20 * time.Millisecond}
	inner, err := NewChecker(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	counting := checkerFunc(func(ctx context.Context) Result {
		checks.Add(1)
		defer checks.Done()
		mu.Lock()
		n++
		mu.Unlock()
		return inner.Check(ctx)
	})
	s := NewServer(cfg, counting, nil, logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	waitFor(t, 5*time.Second, "20 timed-out checks", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return n >= 20
	})
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	checks.Wait()
	inner.(interface{ CloseIdleConnections() }).CloseIdleConnections()

	if r := s.current(); r.Ready || !strings.Contains(r.Reason, "timed out") {
		t.Errorf("last result = %+v, want a timeout", r)
	}
	// The fake server's handler goroutines end once their connections
	// close; only our side matters, so allow a little slack.
	var now int
	waitFor(t, 5*time.Second, "goroutines to wind down", func() bool {
		now = runtime.NumGoroutine()
		return now <= before+2
	})
	t.Logf("goroutines: before %d, after %d", before, now)
}
