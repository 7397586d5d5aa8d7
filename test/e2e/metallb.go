//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stellar-operator/stellar-operator/internal/controlplane"
	"github.com/stellar-operator/stellar-operator/internal/metallblog"
)

// MetalLB's own processes in the harness: the controller (assigns LoadBalancer IPs from the pools,
// judges the pools) and the speakers (judge pools, peers, advertisements, BFD profiles and
// communities), all built by hack/e2e-tools.sh from the module proxy.

// FRRK8sVersion is the frr-k8s release hack/e2e-tools.sh builds (MetalLB's is
// controlplane.MetalLBVersion, its cache controlplane.CacheRoot).
const FRRK8sVersion = "v0.0.20"

// DefaultSpeakerBinary is where hack/e2e-tools.sh builds the speaker ($METALLB_SPEAKER overrides).
func DefaultSpeakerBinary() string {
	if p := os.Getenv("METALLB_SPEAKER"); p != "" {
		return p
	}
	return filepath.Join(controlplane.CacheRoot(), "metallb-"+controlplane.MetalLBVersion, "speaker")
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
		tp.watchLog(c.Log, metallblog.MetalLB)
	}
	return nil
}

// --- MetalLB's verdict on its configuration (internal/metallblog) ------------------------------

// logMark is how far a log has been judged.
type logMark struct {
	path   string
	kind   metallblog.Kind
	offset int64
}

// watchLog adds a log to what AssertMetalLBAccepts judges.
func (tp *Topology) watchLog(path string, kind metallblog.Kind) {
	tp.marks = append(tp.marks, &logMark{path: path, kind: kind})
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
			for _, l := range v.Pending {
				pending = append(pending, filepath.Base(v.mark.path)+": "+l.String())
			}
		}
		if len(pending) > 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for _, v := range verdicts {
			for _, l := range v.Refused {
				t.Errorf("MetalLB refused the configuration (%s): %s", filepath.Base(v.mark.path), l)
			}
			// Every Service of the e2e asks for an address its pool holds, alone.
			for _, l := range v.Unallocated {
				t.Errorf("MetalLB's controller could not assign an address (%s): %s", filepath.Base(v.mark.path), l)
			}
			if n := len(v.Transients); n > 0 {
				t.Logf("MetalLB retried past %d transient configuration error(s) (%s), the first: %s", n, filepath.Base(v.mark.path), v.Transients[0])
			}
			v.mark.offset += v.Read
		}
		if len(pending) > 0 {
			t.Errorf("MetalLB did not get past a transient configuration error within %v: %s", MetalLBSettle, strings.Join(pending, "; "))
		}
		return
	}
}

type logVerdict struct {
	metallblog.Verdict
	mark *logMark
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
			v.Verdict, err = metallblog.Judge(m.kind, f)
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
