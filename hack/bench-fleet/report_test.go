package main

import (
	"io"
	"strings"
	"testing"
)

func goalNamed(t *testing.T, f *figures, prefix string) goal {
	t.Helper()
	for _, g := range f.goals() {
		if strings.HasPrefix(g.name, prefix) {
			return g
		}
	}
	t.Fatalf("no goal %q", prefix)
	return goal{}
}

func TestGoalVerdicts(t *testing.T) {
	status := writeKey{Verb: "PATCH", Resource: "stellarnodes.stellar.org/status"}
	for _, tc := range []struct {
		name    string
		figures figures
		goal    string
		verdict string
	}{
		{"converging within 1.5× the limit passes",
			figures{concurrency: 8, convergeSeconds: 30, limits: []limitRun{{concurrency: 8, seconds: 20}}}, "converge", pass},
		{"converging slower than 1.5× the limit misses",
			figures{concurrency: 8, convergeSeconds: 31, limits: []limitRun{{concurrency: 8, seconds: 20}}}, "converge", miss},
		{"without the limit the ratio is not judged",
			figures{concurrency: 8, convergeSeconds: 31, limits: []limitRun{{concurrency: 1, seconds: 20}}}, "converge", notRun},
		{"a quiet restart without writes passes",
			figures{restartQuiet: quietResult{reached: true}}, "restart", pass},
		{"one write the operator sent on restart misses",
			figures{restartQuiet: quietResult{reached: true}, restartOperatorWrites: 1, restartWrites: writeCounts{status: {Total: 1}}}, "restart", miss},
		{"a write the apiserver made itself during the restart is not the operator's",
			figures{restartQuiet: quietResult{reached: true}, restartWrites: writeCounts{{Verb: "PATCH", Resource: "events.events.k8s.io"}: {Total: 1}}}, "restart", pass},
		{"a restart that never went quiet misses",
			figures{}, "restart", miss},
		{"a steady write misses",
			figures{steady: windowResult{seconds: 60, operatorWrites: 1, writes: writeCounts{status: {Total: 1}}}}, "steady", miss},
		{"a status write for every ledger move seen misses, however long the window",
			figures{movingNodes: 10, statusRequests: 10, movingWindow: windowResult{seconds: 61, operatorWrites: 10}}, movingWritesGoal, miss},
		{"writing a moved ledger at most every other time passes",
			figures{movingNodes: 10, statusRequests: 20, movingWindow: windowResult{seconds: 120, operatorWrites: 10}}, movingWritesGoal, pass},
		{"no status write while ledgers move passes",
			figures{movingNodes: 10, statusRequests: 10, movingWindow: windowResult{seconds: 60}}, movingWritesGoal, pass},
		{"an operator that never asks the sidecars misses",
			figures{movingNodes: 10, movingWindow: windowResult{seconds: 60}}, movingWritesGoal, miss},
		{"without moving nodes the moving goals are not judged",
			figures{}, movingWritesGoal, notRun},
		{"a window shorter than the sync refresh is not judged",
			figures{movingNodes: 10, movingWindow: windowResult{seconds: 10}}, movingWritesGoal, notRun},
		{"reconciles growing with every node's status write miss",
			figures{movingNodes: 10, movingWindow: windowResult{seconds: 60, reconciles: 1000}}, movingReconcilesGoal, miss},
		{"one reconcile per moving node per refresh passes",
			figures{movingNodes: 10, movingWindow: windowResult{seconds: 60, reconciles: 10}}, movingReconcilesGoal, pass},
		{"81 MiB misses the memory goal",
			figures{rssPeak: 81 * mib}, "operator peak RSS", miss},
		{"80 MiB meets the memory goal",
			figures{rssPeak: 80 * mib}, "operator peak RSS", pass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if g := goalNamed(t, &tc.figures, tc.goal); g.verdict != tc.verdict {
				t.Errorf("%s: %s (%s), want %s", g.name, g.verdict, g.figure, tc.verdict)
			}
		})
	}
}

func TestMachineLineCarriesEveryHeadlineFigure(t *testing.T) {
	f := &figures{nodes: 50, concurrency: 8, convergeSeconds: 10, limits: []limitRun{{concurrency: 1, seconds: 8}, {concurrency: 8, seconds: 4}},
		steady: windowResult{seconds: 60}, load: []loadSample{{"start", "1.00 2.00 3.00"}, {"end", "1.50 2.00 3.00"}}}
	line := f.machineLines()[0]
	for _, key := range []string{"nodes=50", "converge_seconds=10.0", "limit_seconds=4.0", "limit_c1_seconds=8.0", "ratio=2.50",
		"writes_total=", "rss_peak_mib=", "cpu_seconds=", "reconcile_p50_ms=", "reconcile_p99_ms=", "restart_writes=0",
		"steady_writes_per_min=0.0", "steady_reconciles_per_min=0.0", "load1_start=1.00", "load1_end=1.50"} {
		if !strings.Contains(line, key) {
			t.Errorf("%q lacks %q", line, key)
		}
	}
	if !strings.HasPrefix(line, "bench_fleet ") {
		t.Errorf("%q does not start with bench_fleet", line)
	}
}

func TestLeaderElectionMakesLeaseWritesTheOperators(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want bool
	}{
		{"no flag", nil, false},
		{"the flag", []string{"--workers=8", "--leader-elect"}, true},
		{"the flag set true", []string{"--leader-elect=true"}, true},
		{"the flag set false", []string{"--leader-elect=false"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &bench{o: options{operatorArgs: tc.args}}
			if got := b.skipped()["leases"]; got == tc.want {
				t.Errorf("leases skipped = %v with %v", got, tc.args)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		check func(options) bool
		fails bool
	}{
		{"a tenth of the fleet moves by default", []string{"--nodes", "500"}, func(o options) bool { return o.moving == 50 }, false},
		{"operator arguments are split on spaces", []string{"--operator-args", "--workers=8  --leader-elect"},
			func(o options) bool { return len(o.operatorArgs) == 2 && o.leaderElects() }, false},
		{"an unknown BGP mode is refused", []string{"--metallb-bgp-mode", "bird"}, nil, true},
		{"a fleet without nodes is refused", []string{"--nodes", "0"}, nil, true},
		{"a plain client without workers is refused", []string{"--concurrency", "0"}, nil, true},
		{"stray arguments are refused", []string{"1000"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(tc.args, io.Discard)
			if tc.fails {
				if err == nil {
					t.Error("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(o) {
				t.Errorf("options = %+v", o)
			}
		})
	}
}
