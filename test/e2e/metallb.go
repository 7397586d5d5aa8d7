//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// MetalLB's own processes in the harness: the controller (assigns LoadBalancer IPs from the pools,
// judges the pools) and the speakers (judge pools, peers, advertisements, BFD profiles and
// communities), all built by hack/e2e-tools.sh from the module proxy.

// MetalLBVersion and FRRK8sVersion are the versions hack/e2e-tools.sh builds.
const (
	MetalLBVersion = "v0.15.2"
	FRRK8sVersion  = "v0.0.20"
)

// CacheRoot is hack/e2e-tools.sh's cache: $STELLAR_OPERATOR_CACHE, else
// ${XDG_CACHE_HOME:-~/.cache}/stellar-operator.
func CacheRoot() string {
	if c := os.Getenv("STELLAR_OPERATOR_CACHE"); c != "" {
		return c
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "stellar-operator")
}

// DefaultSpeakerBinary is where hack/e2e-tools.sh builds the speaker ($METALLB_SPEAKER overrides).
func DefaultSpeakerBinary() string {
	if p := os.Getenv("METALLB_SPEAKER"); p != "" {
		return p
	}
	return filepath.Join(CacheRoot(), "metallb-"+MetalLBVersion, "speaker")
}

// DefaultControllerBinary is where hack/e2e-tools.sh builds MetalLB's controller
// ($METALLB_CONTROLLER overrides).
func DefaultControllerBinary() string {
	if p := os.Getenv("METALLB_CONTROLLER"); p != "" {
		return p
	}
	return filepath.Join(CacheRoot(), "metallb-"+MetalLBVersion, "controller")
}

// LBClassPrefix prefixes the loadBalancerClass of each simulated cluster (Options.ClusterPerRegion).
const LBClassPrefix = "e2e.stellar.org/"

// LBClass is the loadBalancerClass the MetalLB of region serves when every region simulates a
// cluster of its own.
func LBClass(region string) string { return LBClassPrefix + region }

// MetalLBController is one MetalLB controller process.
type MetalLBController struct {
	// Class is its --lb-class ("" serves Services without a class).
	Class   string
	Log     string
	Process *Process
}

// startMetalLBControllers starts the controllers in a namespace of their own (netns "mlb", with
// its own apiserver bridge): one per simulated cluster, or one for all.
func (tp *Topology) startMetalLBControllers(ctx context.Context) error {
	ns := tp.run.netns("mlb")
	if err := tp.addNetns(ctx, ns); err != nil {
		return err
	}
	if err := tp.startNetnsBridge(ctx, "mlb", ns); err != nil {
		return err
	}
	kubeconfig, err := tp.writeKubeconfig("mlb")
	if err != nil {
		return err
	}
	classes := []string{""}
	if tp.opts.ClusterPerRegion {
		classes = nil
		for _, rn := range tp.Regions {
			classes = append(classes, LBClass(rn.Name))
		}
	}
	for i, class := range classes {
		name := "metallb-controller"
		args := []string{tp.opts.ControllerBinary, "--namespace=" + MetalLBNamespace, "--webhook-mode=disabled",
			"--disable-cert-rotation", "--log-level=info", fmt.Sprintf("--port=%d", 7572+i)}
		if class != "" {
			name += "-" + strings.TrimPrefix(class, LBClassPrefix)
			args = append(args, "--lb-class="+class)
		}
		c := &MetalLBController{Class: class, Log: filepath.Join(tp.logDir, name+".log")}
		env := append(slices.Clone(basePath), "METALLB_NAMESPACE="+MetalLBNamespace, "KUBECONFIG="+kubeconfig)
		if c.Process, err = tp.run.start(name, ns, c.Log, env, args...); err != nil {
			return err
		}
		tp.Controllers = append(tp.Controllers, c)
		tp.watchLog(c.Log, logMetalLB)
	}
	return nil
}

// --- MetalLB's verdict on its configuration -----------------------------------------------------

// logKind says how a log states a verdict on the configuration.
type logKind int

const (
	// logMetalLB is a MetalLB controller's or speaker's JSON log.
	logMetalLB logKind = iota
	// logFRRK8s is an frr-k8s daemon's JSON log: any error is a configuration it could not apply.
	logFRRK8s
	// logReloader is frr-k8s' reloader script's output: FRR's own verdict (frr-reload.py).
	logReloader
)

// logMark is how far a log has been judged.
type logMark struct {
	path   string
	kind   logKind
	offset int64
}

// watchLog adds a log to what AssertMetalLBAccepts judges.
func (tp *Topology) watchLog(path string, kind logKind) {
	tp.marks = append(tp.marks, &logMark{path: path, kind: kind})
}

// metallbLine is one JSON log line of a MetalLB binary (go-kit's JSON logger). Only these fields
// are ever printed: the "metallb CRs and Secrets" dump MetalLB adds to some errors may carry
// passwords.
type metallbLine struct {
	Level      string `json:"level"`
	TS         string `json:"ts"`
	Controller string `json:"controller"`
	Op         string `json:"op"`
	Event      string `json:"event"`
	Msg        string `json:"msg"`
	Error      any    `json:"error"`
	Message    string `json:"message"`
	// raw is the whole line, for classification only: it may hold secrets, so it is never printed.
	raw string
}

func (l metallbLine) String() string {
	parts := []string{l.TS, l.Level}
	for _, kv := range [][2]string{{"controller", l.Controller}, {"op", l.Op}, {"event", l.Event}, {"msg", l.Msg}, {"message", l.Message}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	if l.Error != nil {
		parts = append(parts, fmt.Sprintf("error=%v", l.Error))
	}
	return strings.Join(parts, " ")
}

// configVerdict classifies a line: a refusal of the configuration, an acceptance (the reconciler
// loaded it), or neither.
type configVerdict int

const (
	verdictNone configVerdict = iota
	verdictAccepted
	verdictRefused
	// verdictTransient is what MetalLB itself calls a TransientError: an object it references is
	// not in its cache yet (the operator writes the Secret or BFDProfile first; the informers may
	// deliver them later). MetalLB retries; it must end in acceptance.
	verdictTransient
)

// configReconcilers are the MetalLB reconcilers whose errors are a verdict on the configuration.
var configReconcilers = []string{"ConfigReconciler", "PoolReconciler"}

// transientErrors are MetalLB's TransientError texts (internal/config of v0.15.2), and the
// speaker's complaint about a Service whose IP comes from a pool its configuration does not have
// yet (it holds the previous configuration while a transient error lasts, and re-checks every
// Service once a new one loads).
//
// "service has no configuration under new config" (and the ConfigReconciler's "reload failed,
// retry" that goes with it) is the speaker keeping its previous configuration while a Service
// still holds an IP from a pool that is gone: when StellarNodes sharing a pool are deleted
// together, one finalizer deletes the pool while a sibling's LoadBalancer Service still exists
// (a finding, docs/anycast-e2e.md). It must resolve once that Service is gone.
var transientErrors = []string{"secret ref not found", "referencing non existing bfd profile", "assigned IP not allowed by config",
	"service has no configuration under new config", "reload failed, retry"}

func classify(kind logKind, l metallbLine) configVerdict {
	if kind == logFRRK8s {
		// An optimistic-concurrency conflict writing its own status (FRRNodeState) is retried by
		// frr-k8s and says nothing about the configuration.
		if l.Level == "error" && !strings.Contains(l.raw, "the object has been modified") {
			return verdictRefused
		}
		return verdictNone
	}
	inConfig := slices.Contains(configReconcilers, l.Controller) ||
		l.Op == "setConfig" || l.Op == "setBalancer" || l.Op == "allocateIPs" || l.Event == "loadbalancerIP"
	if !inConfig {
		return verdictNone
	}
	if l.Level == "error" {
		text := fmt.Sprint(l.Error) + " " + l.Msg + " " + l.Message + " " + l.Event
		for _, t := range transientErrors {
			if strings.Contains(text, t) {
				return verdictTransient
			}
		}
		return verdictRefused
	}
	if l.Event == "config reloaded" {
		return verdictAccepted
	}
	return verdictNone
}

// reloaderRefusals are the reloader's lines for a configuration FRR did not take.
var reloaderRefusals = []string{"Failed to fully apply"}

// judgeLog reads a log from offset and returns the refusals, the transient errors still unresolved
// (no acceptance by the same reconciler after them), and how far it read.
func judgeLog(kind logKind, r io.Reader) (refused, pending, transients []metallbLine, read int64, err error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	// Only complete lines: a line still being written is judged next time.
	end := bytes.LastIndexByte(data, '\n') + 1
	open := map[string]metallbLine{} // reconciler → last transient error not yet followed by acceptance
	for _, raw := range bytes.Split(data[:end], []byte{'\n'}) {
		if kind == logReloader {
			for _, t := range reloaderRefusals {
				if strings.Contains(string(raw), t) {
					refused = append(refused, metallbLine{Level: "error", Msg: string(raw)})
				}
			}
			continue
		}
		if len(raw) == 0 || raw[0] != '{' {
			continue
		}
		var l metallbLine
		if json.Unmarshal(raw, &l) != nil {
			continue
		}
		l.raw = string(raw)
		key := l.Controller + l.Op
		switch classify(kind, l) {
		case verdictRefused:
			refused = append(refused, l)
		case verdictTransient:
			open[key] = l
			transients = append(transients, l)
		case verdictAccepted:
			// A configuration loaded: everything that waited for one is settled (what is still
			// wrong is logged again after this line).
			clear(open)
		}
	}
	keys := make([]string, 0, len(open))
	for k := range open {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		pending = append(pending, open[k])
	}
	return refused, pending, transients, int64(end), nil
}

// MetalLBSettle is how long AssertMetalLBAccepts waits for a transient error to be resolved.
var MetalLBSettle = 15 * time.Second

// AssertMetalLBAccepts fails the test if MetalLB (its controller or any speaker) refused the
// configuration since the previous call (or since the topology started): MetalLB v0.15.2 has no
// ConfigurationState, so its JSON logs are its verdict. MetalLB's transient errors (a referenced
// Secret or BFDProfile not yet in its cache) must be followed by the same reconciler loading the
// configuration within MetalLBSettle. Call it after every step that changes what MetalLB reads.
func (tp *Topology) AssertMetalLBAccepts(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(MetalLBSettle)
	for {
		verdicts, err := tp.judgeLogs()
		if err != nil {
			t.Error(err)
			return
		}
		var pending []string
		for _, v := range verdicts {
			for _, l := range v.pending {
				pending = append(pending, filepath.Base(v.mark.path)+": "+l.String())
			}
		}
		if len(pending) > 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for _, v := range verdicts {
			for _, l := range v.refused {
				t.Errorf("MetalLB refused the configuration (%s): %s", filepath.Base(v.mark.path), l)
			}
			if n := len(v.transients); n > 0 {
				t.Logf("MetalLB retried past %d transient configuration error(s) (%s), the first: %s", n, filepath.Base(v.mark.path), v.transients[0])
			}
			v.mark.offset += v.read
		}
		if len(pending) > 0 {
			t.Errorf("MetalLB did not get past a transient configuration error within %v: %s", MetalLBSettle, strings.Join(pending, "; "))
		}
		return
	}
}

type logVerdict struct {
	mark                         *logMark
	refused, pending, transients []metallbLine
	read                         int64
}

func (tp *Topology) judgeLogs() ([]logVerdict, error) {
	var out []logVerdict
	for _, m := range tp.marks {
		f, err := os.Open(m.path)
		if err != nil {
			return nil, fmt.Errorf("MetalLB log %s: %w", m.path, err)
		}
		_, err = f.Seek(m.offset, io.SeekStart)
		var v logVerdict
		if err == nil {
			v.refused, v.pending, v.transients, v.read, err = judgeLog(m.kind, f)
		}
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("MetalLB log %s: %w", m.path, err)
		}
		v.mark = m
		out = append(out, v)
	}
	return out, nil
}

// CheckControllers returns an error naming every MetalLB controller that has exited.
func (tp *Topology) CheckControllers() error {
	for _, c := range tp.Controllers {
		if !c.Process.Running() {
			return fmt.Errorf("MetalLB controller %q exited: %v\n%s", c.Class, c.Process.Err(), tail(c.Log, 15))
		}
	}
	return nil
}
