// Command bench-fleet measures the operator on a fleet (`make bench-fleet N=1000`): N StellarNodes
// of a realistic mix are created on the embedded control plane, the operator is built and started
// as a separate process under its shipped RBAC, and the harness measures, from outside, the time
// to converge, the apiserver's write requests, the operator's CPU, memory and reconcile latency,
// what a restart and a minute of steady state cost, and — in the same run, on a fresh control
// plane — how long a plain server-side-apply client takes for the same objects: the limit.
// It prints a table, one machine-readable line and the goals of issue 9. It exits non-zero only
// when the harness itself fails (the fleet never converges, say); a missed goal is a figure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/stellar-operator/stellar-operator/internal/controlplane"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// envtest logs through controller-runtime; the harness reports errors itself.
	ctrl.SetLogger(logr.Discard())
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

// options are the harness's flags.
type options struct {
	nodes            int
	namespaces       int
	concurrency      int
	operatorArgs     []string
	steady           time.Duration
	moving           int
	timeout          time.Duration
	kubeconfigEnv    bool
	metallbNamespace string
	mode             render.BGPMode
	limit            bool
	logs             string
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	o := options{}
	fs := flag.NewFlagSet("bench-fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.nodes, "nodes", 100, "StellarNodes in the fleet")
	fs.IntVar(&o.namespaces, "namespaces", 10, "namespaces the fleet is spread over")
	fs.IntVar(&o.concurrency, "concurrency", 8, "concurrency of the plain client, besides 1: set it to the operator's workers")
	operatorArgs := fs.String("operator-args", "", "extra flags for `stellar-operator run`, space-separated (e.g. \"--workers=8\")")
	fs.DurationVar(&o.steady, "steady", time.Minute, "length of each steady-state window")
	fs.IntVar(&o.moving, "moving", -1, "nodes given a running pod whose sidecar reports a moving ledger, in the last phase (-1: a tenth of the fleet; 0 skips the phase)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "how long the fleet may take to converge before the harness gives up")
	fs.BoolVar(&o.kubeconfigEnv, "kubeconfig-env", false, "pass the operator its kubeconfig in $KUBECONFIG instead of --kubeconfig")
	fs.StringVar(&o.metallbNamespace, "metallb-namespace", "metallb-system", "MetalLB's namespace (passed to the operator)")
	mode := fs.String("metallb-bgp-mode", string(render.BGPModeFRRK8s), "MetalLB's BGP mode (passed to the operator)")
	fs.BoolVar(&o.limit, "limit", true, "measure the plain client (false: no limit, no ratio)")
	fs.StringVar(&o.logs, "logs", "", "directory to keep the operator's logs in (default: removed with the run)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.operatorArgs = strings.Fields(*operatorArgs)
	o.mode = render.BGPMode(*mode)
	switch o.mode {
	case render.BGPModeNative, render.BGPModeFRR, render.BGPModeFRRK8s:
	default:
		return o, fmt.Errorf("--metallb-bgp-mode %q: want native, frr or frr-k8s", *mode)
	}
	if o.moving < 0 {
		o.moving = o.nodes / 10
	}
	if _, err := fleet(o.nodes, o.namespaces); err != nil {
		return o, err
	}
	if o.concurrency < 1 {
		return o, fmt.Errorf("--concurrency must be at least 1, not %d", o.concurrency)
	}
	if o.steady <= 0 {
		return o, fmt.Errorf("--steady must be positive, not %s", o.steady)
	}
	return o, nil
}

// leaderElects reports whether the operator is asked to elect a leader: its lease renewals are then
// its writes.
func (o options) leaderElects() bool {
	for _, a := range o.operatorArgs {
		if a == "--leader-elect" || a == "-leader-elect" || strings.HasPrefix(a, "--leader-elect=true") {
			return true
		}
	}
	return false
}

// operatorImage is the sidecar image the benchmark names: no pod ever pulls it.
const operatorImage = "example.org/stellar-operator:bench"

func run(ctx context.Context, args []string, stdout io.Writer) (err error) {
	o, err := parseOptions(args, os.Stderr)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-fleet-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	if o.logs != "" {
		if err := os.MkdirAll(o.logs, 0o755); err != nil {
			return err
		}
	}

	b := &bench{o: o, dir: dir, f: &figures{nodes: o.nodes, namespaces: o.namespaces, concurrency: o.concurrency, cpus: runtime.NumCPU()}}
	b.f.load = append(b.f.load, loadSample{"start", loadAverage()})
	if err := controlplane.BuildBinaries(os.Stderr); err != nil {
		return err
	}
	b.progress("Building the operator (go build ./cmd/stellar-operator)...")
	bin, err := buildOperator(ctx, dir)
	if err != nil {
		return err
	}
	if b.metallbCRDs, err = controlplane.MetalLBCRDs(); err != nil {
		return err
	}
	b.op = operatorRun{bin: bin, viaEnv: o.kubeconfigEnv, image: operatorImage, mode: string(o.mode), extra: o.operatorArgs}
	if err := b.operatorPhases(ctx); err != nil {
		return err
	}
	if o.limit {
		if err := b.limitPhases(ctx); err != nil {
			return err
		}
	}
	b.f.load = append(b.f.load, loadSample{"end", loadAverage()})
	b.f.report(stdout)
	return nil
}

// loadAverage is the one-minute load average (other people's builds share this machine).
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	fields := strings.Fields(string(data))
	if len(fields) < 3 {
		return "?"
	}
	return strings.Join(fields[:3], " ")
}
