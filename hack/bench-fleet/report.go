package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stellar-operator/stellar-operator/internal/controller"
)

// loadSample is the machine's load average at a point of the run.
type loadSample struct {
	at   string
	load string
}

// figures are everything one run measured.
type figures struct {
	nodes, namespaces, concurrency, cpus int
	mix                                  string
	objects                              int
	load                                 []loadSample

	convergeSeconds  float64
	writesAtConverge float64
	convergeQuiet    quietResult
	convergeWrites   writeCounts
	// The operator's own count of the write requests it sent (its client-go metrics): the
	// apiserver's count also holds the apiserver's own writes (its ClusterIP repair Events, say).
	convergeOperatorWrites float64
	cpuAtConverge          float64
	cpuQuiet               float64
	rssQuiet               float64
	rssPeak                float64
	reconciles             float64
	reconcileErrors        float64
	reconcileP50           float64
	reconcileP99           float64
	clientRequests         map[string]float64
	rateLimiterWait        float64
	eventReasons           map[string]float64

	restartQuiet          quietResult
	restartWrites         writeCounts
	restartOperatorWrites float64
	steady                windowResult
	rssRestart            float64
	rssRestartPeak        float64

	movingNodes             int
	discoveryQuiet          quietResult
	discoveryWrites         writeCounts
	discoveryOperatorWrites float64
	movingWindow            windowResult
	statusRequests          int64

	limits []limitRun

	forbidden  int
	errorLines int
}

const mib = 1 << 20

// limitAt is the plain client's run at concurrency c, if measured.
func (f *figures) limitAt(c int) (limitRun, bool) {
	for _, l := range f.limits {
		if l.concurrency == c {
			return l, true
		}
	}
	return limitRun{}, false
}

// ratio is the operator's convergence time over the plain client's at --concurrency (NaN
// without it).
func (f *figures) ratio() float64 {
	l, ok := f.limitAt(f.concurrency)
	if !ok || l.seconds == 0 {
		return math.NaN()
	}
	return f.convergeSeconds / l.seconds
}

// goal is one goal of issue 9 with this run's figure.
type goal struct {
	name    string
	figure  string
	verdict string
}

const (
	pass     = "PASS"
	miss     = "MISS"
	notRun   = "—"
	maxRatio = 1.5
	maxRSS   = 80 * mib
	// maxWritesPerObservation bounds the status writes of a moving ledger: at most every other
	// time the operator sees a ledger move may it write (issue 9: a moving ledger must not cost a
	// write per node per sync refresh).
	maxWritesPerObservation = 0.5
	movingWritesGoal        = "moving ledgers: ≤ 0.5 writes per /status read"
	movingReconcilesGoal    = "moving ledgers: reconciles/min ≤ 2 per moving node per sync refresh"
)

func verdict(ok bool) string {
	if ok {
		return pass
	}
	return miss
}

// goals judges the figures against issue 9's goals.
func (f *figures) goals() []goal {
	var out []goal
	if r := f.ratio(); math.IsNaN(r) {
		out = append(out, goal{fmt.Sprintf("converge in ≤ %.1f× the plain client's time (c=%d)", maxRatio, f.concurrency), "not measured", notRun})
	} else {
		out = append(out, goal{fmt.Sprintf("converge in ≤ %.1f× the plain client's time (c=%d)", maxRatio, f.concurrency), fmt.Sprintf("%.2f×", r), verdict(r <= maxRatio)})
	}
	// Judged on the writes the operator sent; the apiserver's count is shown next to them.
	out = append(out, goal{"restart on a converged fleet: 0 writes", sentAndSeen(f.restartOperatorWrites, f.restartWrites.total()),
		verdict(f.restartOperatorWrites == 0 && f.restartQuiet.reached)})
	out = append(out, goal{"steady state, no ledger moving: 0 writes", sentAndSeen(f.steady.operatorWrites, f.steady.writes.total()) + fmt.Sprintf(" in %.0f s", f.steady.seconds),
		verdict(f.steady.operatorWrites == 0)})
	switch {
	case f.movingNodes == 0:
		out = append(out, goal{movingWritesGoal, "not measured", notRun})
		out = append(out, goal{movingReconcilesGoal, "not measured", notRun})
	case f.movingWindow.seconds < controller.DefaultSyncRefresh.Seconds():
		// Shorter than one refresh, the window may hold no sync at all: nothing to judge.
		short := fmt.Sprintf("window %.0f s < sync refresh %s", f.movingWindow.seconds, controller.DefaultSyncRefresh)
		out = append(out, goal{movingWritesGoal, short, notRun})
		out = append(out, goal{movingReconcilesGoal, short, notRun})
	default:
		// Writes per observation of a moved ledger, not per minute: a one-minute window and a
		// one-minute refresh alias (10 writes in 61 s would read as 0.98 per minute).
		if f.statusRequests == 0 {
			out = append(out, goal{movingWritesGoal, "the operator asked no sidecar for /status", miss})
		} else {
			perObservation := f.movingWindow.operatorWrites / float64(f.statusRequests)
			out = append(out, goal{movingWritesGoal, fmt.Sprintf("%.2f (%.0f writes, %d /status reads)", perObservation, f.movingWindow.operatorWrites, f.statusRequests),
				verdict(perObservation <= maxWritesPerObservation)})
		}
		// Each node with pods is reconciled once per sync refresh; twice allows for a refresh
		// falling at both ends of the window.
		bound := 2 * float64(f.movingNodes) * float64(time.Minute) / float64(controller.DefaultSyncRefresh)
		perMin := f.movingWindow.perMinute(f.movingWindow.reconciles)
		out = append(out, goal{movingReconcilesGoal, fmt.Sprintf("%.0f (bound %.0f)", perMin, bound), verdict(perMin <= bound)})
	}
	out = append(out, goal{fmt.Sprintf("operator peak RSS ≤ %d MiB (the goal is for 1,000 nodes; this run has %d)", maxRSS/mib, f.nodes),
		fmt.Sprintf("%.1f MiB", f.rssPeak/mib), verdict(f.rssPeak <= maxRSS)})
	out = append(out, goal{"converged re-reconcile: 0 requests", "measured by make bench-reconcile", notRun})
	return out
}

func (f *figures) report(w io.Writer) {
	t := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(t, "\nFleet benchmark: %d StellarNodes (%s) in %d namespaces; %d objects rendered\n", f.nodes, f.mix, f.namespaces, f.objects)
	fmt.Fprintf(t, "Machine: %d CPUs; load average (1, 5, 15 min):", f.cpus)
	for _, l := range f.load {
		fmt.Fprintf(t, " %s %s;", l.at, l.load)
	}
	fmt.Fprintln(t)

	fmt.Fprintln(t, "\nConvergence (the operator starts after the fleet exists)")
	fmt.Fprintf(t, "  time to converge\t%.1f s\tevery node's observedGeneration, every rendered object present\n", f.convergeSeconds)
	fmt.Fprintf(t, "  writes until converged\t%.0f\t%.1f per node\n", f.writesAtConverge, f.writesAtConverge/float64(f.nodes))
	fmt.Fprintf(t, "  writes until quiet\t%.0f\t%.1f per node; last write %.1f s after convergence%s\n", f.convergeWrites.total(),
		f.convergeWrites.total()/float64(f.nodes), f.convergeQuiet.lastWriteSeconds, notQuiet(f.convergeQuiet))
	writeTable(t, f.convergeWrites)
	fmt.Fprintf(t, "  write requests the operator sent\t%.0f\tits client-go count; the apiserver's count above also holds its own writes\n", f.convergeOperatorWrites)
	fmt.Fprintf(t, "  operator CPU\t%.1f s\tat convergence (%.1f s when quiet)\n", f.cpuAtConverge, f.cpuQuiet)
	fmt.Fprintf(t, "  operator RSS\t%.1f MiB peak\t%.1f MiB when quiet\n", f.rssPeak/mib, f.rssQuiet/mib)
	fmt.Fprintf(t, "  reconciles\t%.0f\t%.0f errors; p50 %s, p99 %s\n", f.reconciles, f.reconcileErrors, ms(f.reconcileP50), ms(f.reconcileP99))
	fmt.Fprintf(t, "  operator's requests\t%s\t%s\n", countList(f.clientRequests), limiterWait(f.rateLimiterWait))
	fmt.Fprintf(t, "  Events by reason\t%s\n", countList(f.eventReasons))

	if len(f.limits) > 0 {
		fmt.Fprintln(t, "\nThe limit: a plain server-side-apply client, same objects, same field manager, fresh control plane each")
		for _, l := range f.limits {
			fmt.Fprintf(t, "  concurrency %d\t%.1f s\t%d objects (%.0f/s), %.0f writes\n", l.concurrency, l.seconds, l.objects, float64(l.objects)/l.seconds, l.writes.total())
		}
		fmt.Fprintf(t, "  operator / limit (c=%d)\t%.2f×\n", f.concurrency, f.ratio())
	}

	fmt.Fprintln(t, "\nRestart on the converged fleet")
	fmt.Fprintf(t, "  writes until quiet\t%.0f\tevery node reconciled within %.1f s of the start%s\n", f.restartWrites.total(), f.restartQuiet.busySeconds, notQuiet(f.restartQuiet))
	writeTable(t, f.restartWrites)
	fmt.Fprintf(t, "  write requests the operator sent\t%.0f\n", f.restartOperatorWrites)
	fmt.Fprintf(t, "\nSteady state (%.0f s, no pod runs, so no ledger moves)\n", f.steady.seconds)
	fmt.Fprintf(t, "  writes per minute\t%.1f\n", f.steady.perMinute(f.steady.writes.total()))
	writeTable(t, f.steady.writes)
	fmt.Fprintf(t, "  write requests the operator sent\t%.0f\n", f.steady.operatorWrites)
	fmt.Fprintf(t, "  reconciles per minute\t%.1f\n", f.steady.perMinute(f.steady.reconciles))
	fmt.Fprintf(t, "  operator RSS\t%.1f MiB\tpeak %.1f MiB since the restart\n", f.rssRestart/mib, f.rssRestartPeak/mib)

	if f.movingNodes > 0 {
		fmt.Fprintf(t, "\nMoving ledgers (optional phase: %d of the nodes get a running pod whose health sidecar reports a ledger closing every %s)\n", f.movingNodes, ledgerClose)
		fmt.Fprintf(t, "  writes when the pods are found\t%.0f\t(operator restarted: it does not watch pods)%s\n", f.discoveryWrites.total(), notQuiet(f.discoveryQuiet))
		writeTable(t, f.discoveryWrites)
		fmt.Fprintf(t, "  write requests the operator sent\t%.0f\n", f.discoveryOperatorWrites)
		fmt.Fprintf(t, "  steady window\t%.0f s\t%d /status requests to the sidecar\n", f.movingWindow.seconds, f.statusRequests)
		fmt.Fprintf(t, "  writes per minute\t%.1f\t%.2f per moving node\n", f.movingWindow.perMinute(f.movingWindow.writes.total()),
			f.movingWindow.perMinute(f.movingWindow.writes.total())/float64(f.movingNodes))
		writeTable(t, f.movingWindow.writes)
		fmt.Fprintf(t, "  write requests the operator sent\t%.0f\n", f.movingWindow.operatorWrites)
		fmt.Fprintf(t, "  reconciles per minute\t%.1f\n", f.movingWindow.perMinute(f.movingWindow.reconciles))
	}
	if f.forbidden > 0 || f.errorLines > 0 {
		fmt.Fprintf(t, "\nThe operator's logs: %d requests refused by its RBAC, %d error lines (--logs keeps them)\n", f.forbidden, f.errorLines)
	}

	fmt.Fprintln(t, "\nGoals of issue 9")
	for _, g := range f.goals() {
		fmt.Fprintf(t, "  %s\t%s\t%s\n", g.name, g.figure, g.verdict)
	}
	t.Flush()
	fmt.Fprintln(w)
	for _, line := range f.machineLines() {
		fmt.Fprintln(w, line)
	}
}

func limiterWait(seconds float64) string {
	if math.IsNaN(seconds) {
		return "client-side rate limiter wait not exported (rest_client_rate_limiter_duration_seconds is opt-in)"
	}
	return fmt.Sprintf("client-side rate limiter wait %.1f s in total", seconds)
}

// sentAndSeen is the operator's write count, with the apiserver's when they differ.
func sentAndSeen(sent, seen float64) string {
	if sent == seen {
		return fmt.Sprintf("%.0f", sent)
	}
	return fmt.Sprintf("%.0f sent (the apiserver saw %.0f)", sent, seen)
}

func notQuiet(q quietResult) string {
	if q.reached {
		return ""
	}
	return fmt.Sprintf("; NOT quiet within %s", quietTimeout)
}

func ms(seconds float64) string {
	if math.IsNaN(seconds) {
		return "n/a"
	}
	return fmt.Sprintf("%.0f ms", seconds*1000)
}

func countList(byKey map[string]float64) string {
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, byKey[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func writeTable(w io.Writer, writes writeCounts) {
	for _, k := range writes.rows() {
		c := writes[k]
		failed := ""
		if c.Failed > 0 {
			failed = fmt.Sprintf("%.0f failed", c.Failed)
		}
		fmt.Fprintf(w, "    %s %s\t%.0f\t%s\n", k.Verb, k.Resource, c.Total, failed)
	}
}

// machineLines are the figures as key=value lines: one summary line, one line per write row and
// per goal.
func (f *figures) machineLines() []string {
	var kv []string
	add := func(k string, format string, v any) { kv = append(kv, k+"="+fmt.Sprintf(format, v)) }
	add("nodes", "%d", f.nodes)
	add("namespaces", "%d", f.namespaces)
	add("objects", "%d", f.objects)
	add("converge_seconds", "%.1f", f.convergeSeconds)
	if l, ok := f.limitAt(f.concurrency); ok {
		add("limit_seconds", "%.1f", l.seconds)
		add("limit_concurrency", "%d", l.concurrency)
		add("limit_objects", "%d", l.objects)
	}
	if l, ok := f.limitAt(1); ok {
		add("limit_c1_seconds", "%.1f", l.seconds)
	}
	add("ratio", "%.2f", f.ratio())
	add("writes_total", "%.0f", f.convergeWrites.total())
	add("writes_per_node", "%.1f", f.convergeWrites.total()/float64(f.nodes))
	add("operator_writes", "%.0f", f.convergeOperatorWrites)
	add("rss_peak_mib", "%.1f", f.rssPeak/mib)
	add("cpu_seconds", "%.1f", f.cpuAtConverge)
	add("reconcile_p50_ms", "%.0f", f.reconcileP50*1000)
	add("reconcile_p99_ms", "%.0f", f.reconcileP99*1000)
	add("reconciles", "%.0f", f.reconciles)
	if !math.IsNaN(f.rateLimiterWait) {
		add("rate_limiter_wait_seconds", "%.1f", f.rateLimiterWait)
	}
	add("restart_writes", "%.0f", f.restartWrites.total())
	add("restart_operator_writes", "%.0f", f.restartOperatorWrites)
	add("restart_seconds", "%.1f", f.restartQuiet.busySeconds)
	add("steady_seconds", "%.0f", f.steady.seconds)
	add("steady_writes_per_min", "%.1f", f.steady.perMinute(f.steady.writes.total()))
	add("steady_operator_writes_per_min", "%.1f", f.steady.perMinute(f.steady.operatorWrites))
	add("steady_reconciles_per_min", "%.1f", f.steady.perMinute(f.steady.reconciles))
	add("rss_steady_mib", "%.1f", f.rssRestart/mib)
	add("moving_nodes", "%d", f.movingNodes)
	if f.movingNodes > 0 {
		add("moving_writes_per_min", "%.1f", f.movingWindow.perMinute(f.movingWindow.writes.total()))
		add("moving_operator_writes_per_min", "%.1f", f.movingWindow.perMinute(f.movingWindow.operatorWrites))
		add("moving_reconciles_per_min", "%.1f", f.movingWindow.perMinute(f.movingWindow.reconciles))
		add("moving_status_requests", "%d", f.statusRequests)
	}
	if len(f.load) > 0 {
		add("load1_start", "%s", strings.Fields(f.load[0].load)[0])
		add("load1_end", "%s", strings.Fields(f.load[len(f.load)-1].load)[0])
	}
	lines := []string{"bench_fleet " + strings.Join(kv, " ")}
	type phase struct {
		name   string
		writes writeCounts
	}
	phases := []phase{{"converge", f.convergeWrites}, {"restart", f.restartWrites}, {"steady", f.steady.writes}, {"moving-found", f.discoveryWrites}, {"moving-steady", f.movingWindow.writes}}
	for _, l := range f.limits {
		phases = append(phases, phase{fmt.Sprintf("limit-c%d", l.concurrency), l.writes})
	}
	for _, phase := range phases {
		for _, k := range phase.writes.rows() {
			lines = append(lines, fmt.Sprintf("bench_fleet_writes nodes=%d phase=%s verb=%s resource=%s count=%.0f failed=%.0f",
				f.nodes, phase.name, k.Verb, k.Resource, phase.writes[k].Total, phase.writes[k].Failed))
		}
	}
	for _, g := range f.goals() {
		lines = append(lines, fmt.Sprintf("bench_fleet_goal nodes=%d verdict=%s figure=%q goal=%q", f.nodes, g.verdict, g.figure, g.name))
	}
	return lines
}
