package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// bench is one run of the harness.
type bench struct {
	o           options
	dir         string
	f           *figures
	metallbCRDs []*apiextensionsv1.CustomResourceDefinition
	op          operatorRun
	started     time.Time
}

// How the harness decides that the operator has finished what it was doing.
const (
	pollInterval = time.Second
	// quietFor is how long the apiserver must see no write (and the operator's queue stay
	// empty) for the operator to count as idle.
	quietFor = 5 * time.Second
	// quietTimeout bounds every wait for quiet; an operator that never goes quiet is a figure.
	quietTimeout = 5 * time.Minute
)

func (b *bench) progress(format string, args ...any) {
	if b.started.IsZero() {
		b.started = time.Now()
	}
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(b.started).Seconds(), fmt.Sprintf(format, args...))
}

func (b *bench) settings() renderSettings {
	return renderSettings{operatorImage: operatorImage, metallbNamespace: b.o.metallbNamespace, mode: b.o.mode}
}

// skipped are the resources whose writes the apiserver makes to itself, not the operator: it
// renews its own leases whether an operator runs or not (unless the operator elects a leader, then
// they count), and records each Service's cluster IP as an IPAddress object (the plain client's
// Services cause the same).
func (b *bench) skipped() map[string]bool {
	return map[string]bool{"leases": !b.o.leaderElects(), "ipaddresses": true}
}

// operatorPhases are convergence, restart, steady state and moving ledgers on one control plane.
func (b *bench) operatorPhases(ctx context.Context) (err error) {
	b.progress("Starting the control plane (kube-apiserver + etcd, MetalLB's CRDs, the operator's RBAC)...")
	c, err := startCluster(ctx, b.dir, b.metallbCRDs, b.o.metallbNamespace)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.stop()) }()
	b.op.kubeconfig = c.kubeconfig

	nodes, err := fleet(b.o.nodes, b.o.namespaces)
	if err != nil {
		return err
	}
	start := time.Now()
	stored, err := c.createFleet(ctx, nodes)
	if err != nil {
		return err
	}
	b.progress("Created %d StellarNodes in %d namespaces in %.1f s (before the operator starts)", len(stored), b.o.namespaces, time.Since(start).Seconds())
	_, expected, err := desiredObjects(stored, b.settings(), c.scheme)
	if err != nil {
		return err
	}
	b.f.objects = len(expected)
	b.f.mix = mixOf(stored)
	b.f.namespaces = len(fleetNamespaces(stored))

	if err := b.converge(ctx, c, stored, expected); err != nil {
		return err
	}
	if err := b.restartAndSteady(ctx, c, len(stored)); err != nil {
		return err
	}
	if b.o.moving > 0 {
		if err := b.movingLedgers(ctx, c, stored); err != nil {
			return err
		}
	}
	return nil
}

// startOperator starts the operator process; its log is kept under --logs when asked.
func (b *bench) startOperator(ctx context.Context, name string) (*operatorProcess, error) {
	logDir := b.dir
	if b.o.logs != "" {
		logDir = b.o.logs
	}
	return b.op.start(ctx, filepath.Join(logDir, fmt.Sprintf("operator-%s.log", name)))
}

// stopOperator stops p and records what its log says about refused requests and errors.
func (b *bench) stopOperator(p *operatorProcess) error {
	err := p.stop()
	b.f.forbidden += len(p.forbidden())
	b.f.errorLines += p.errorLines()
	return err
}

// converge starts the operator on the created fleet and measures until it is quiet.
func (b *bench) converge(ctx context.Context, c *cluster, nodes []*stellarv1.StellarNode, expected map[objectKey]bool) (err error) {
	before, err := c.writes(ctx, b.skipped())
	if err != nil {
		return err
	}
	b.progress("Starting the operator (%s run, as ServiceAccount %s/%s)...", b.op.bin, "stellar-system", "stellar-operator")
	start := time.Now()
	p, err := b.startOperator(ctx, "converge")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.stopOperator(p)) }()

	if err := b.waitConverged(ctx, c, p, nodes, expected, start); err != nil {
		return err
	}
	b.f.convergeSeconds = time.Since(start).Seconds()
	if b.f.cpuAtConverge, err = p.cpuSeconds(); err != nil {
		return err
	}
	atConverge, err := c.writes(ctx, b.skipped())
	if err != nil {
		return err
	}
	b.f.writesAtConverge = atConverge.minus(before).total()
	b.f.load = append(b.f.load, loadSample{"converged", loadAverage()})
	b.progress("Converged in %.1f s; waiting for the operator to go quiet...", b.f.convergeSeconds)

	quiet, err := b.waitQuiet(ctx, p, float64(len(nodes)), true)
	if err != nil {
		return err
	}
	b.f.convergeQuiet = quiet
	if b.f.eventReasons, err = c.eventReasons(ctx); err != nil {
		return err
	}
	after, err := c.writes(ctx, b.skipped())
	if err != nil {
		return err
	}
	b.f.convergeWrites = after.minus(before)
	m, err := p.metrics(ctx)
	if err != nil {
		return err
	}
	hist := m.histogramOf("controller_runtime_reconcile_time_seconds")
	b.f.reconcileP50, b.f.reconcileP99 = hist.quantile(0.5), hist.quantile(0.99)
	b.f.reconciles = m.sum("controller_runtime_reconcile_total")
	b.f.reconcileErrors = m.sum("controller_runtime_reconcile_errors_total")
	b.f.clientRequests = m.sumBy("rest_client_requests_total", "method")
	b.f.convergeOperatorWrites = clientWrites(m)
	if _, exported := m["rest_client_rate_limiter_duration_seconds"]; exported {
		b.f.rateLimiterWait = m.sum("rest_client_rate_limiter_duration_seconds")
	} else {
		b.f.rateLimiterWait = math.NaN()
	}
	if b.f.cpuQuiet, err = p.cpuSeconds(); err != nil {
		return err
	}
	if b.f.rssQuiet, b.f.rssPeak, err = p.memory(); err != nil {
		return err
	}
	return nil
}

// waitConverged polls until every node's status.observedGeneration is its generation and every
// object render wants exists, with one list per kind per poll.
func (b *bench) waitConverged(ctx context.Context, c *cluster, p *operatorProcess, nodes []*stellarv1.StellarNode, expected map[objectKey]bool, start time.Time) error {
	deadline := start.Add(b.o.timeout)
	lastReport := time.Now()
	var missingNow []objectKey
	observed := 0
	for {
		if err := p.checkAlive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the fleet did not converge within %s: %d/%d nodes observed, %d objects missing (first: %v)",
				b.o.timeout, observed, len(nodes), len(missingNow), firstKeys(missingNow, 5))
		}
		list := &stellarv1.StellarNodeList{}
		if err := c.admin.List(ctx, list); err != nil {
			return err
		}
		observed = 0
		for i := range list.Items {
			if n := &list.Items[i]; n.Status.ObservedGeneration == n.Generation {
				observed++
			}
		}
		if observed == len(nodes) {
			seen, err := c.existing(ctx, expected)
			if err != nil {
				return err
			}
			if missingNow = missing(expected, seen); len(missingNow) == 0 {
				return nil
			}
		}
		if time.Since(lastReport) >= 10*time.Second {
			lastReport = time.Now()
			b.progress("  %.0f s: %d/%d nodes observed their generation", time.Since(start).Seconds(), observed, len(nodes))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

func firstKeys(keys []objectKey, n int) []string {
	var out []string
	for i, k := range keys {
		if i == n {
			break
		}
		out = append(out, k.String())
	}
	return out
}

// existing lists, by metadata only, the operator's objects of every expected kind.
func (c *cluster) existing(ctx context.Context, expected map[objectKey]bool) (map[objectKey]bool, error) {
	seen := map[objectKey]bool{}
	ours := client.MatchingLabelsSelector{Selector: labels.SelectorFromSet(labels.Set{render.LabelManagedBy: render.ManagerName})}
	for _, gvk := range kindsOf(expected) {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.admin.List(ctx, list, ours); err != nil {
			return nil, fmt.Errorf("listing %s: %w", gvk.Kind, err)
		}
		for _, item := range list.Items {
			seen[objectKey{gvk: gvk, namespace: item.Namespace, name: item.Name}] = true
		}
	}
	return seen, nil
}

// quietResult is how a wait for quiet ended.
type quietResult struct {
	// lastWriteSeconds is when, after the wait's start, the apiserver saw the last write.
	lastWriteSeconds float64
	// busySeconds is when, after the wait's start, the operator was last seen working (fewer
	// reconciles than asked for, a queued or running reconcile): how long its pass took.
	busySeconds float64
	reached     bool
}

// waitQuiet waits until the operator has reconciled at least minReconciles times, its queue is
// empty and idle, and — when silent — it has sent no write for quietFor. Not reaching quiet within
// quietTimeout is reported, not an error. Live nodes write their status in turn, so a fleet with
// moving ledgers is never silent: its wait is not. Only the operator's own metrics are read, once
// a second: the apiserver's /metrics is large, and scraping it often would load the apiserver the
// operator is measured against.
func (b *bench) waitQuiet(ctx context.Context, p *operatorProcess, minReconciles float64, silent bool) (quietResult, error) {
	start := time.Now()
	lastWrite, lastBusy := start, start
	lastWrites := -1.0
	result := func(reached bool) quietResult {
		return quietResult{lastWriteSeconds: lastWrite.Sub(start).Seconds(), busySeconds: lastBusy.Sub(start).Seconds(), reached: reached}
	}
	for time.Since(start) < quietTimeout {
		if err := p.checkAlive(); err != nil {
			return quietResult{}, err
		}
		m, err := p.metrics(ctx)
		if err != nil {
			return quietResult{}, err
		}
		if writes := clientWrites(m); writes != lastWrites {
			if lastWrites >= 0 {
				lastWrite = time.Now()
			}
			lastWrites = writes
		}
		idle := m.sum("controller_runtime_reconcile_total") >= minReconciles &&
			m.sum("workqueue_depth") == 0 && m.sum("controller_runtime_active_workers") == 0
		if !idle {
			lastBusy = time.Now()
		}
		if idle && (!silent || time.Since(lastWrite) >= quietFor) {
			return result(true), nil
		}
		select {
		case <-ctx.Done():
			return quietResult{}, ctx.Err()
		case <-time.After(pollInterval):
		}
	}
	b.progress("  the operator was not quiet within %s", quietTimeout)
	return result(false), nil
}

// restartAndSteady restarts the operator on the converged fleet, counts the writes until it is
// quiet, then the writes and reconciles of a steady window.
func (b *bench) restartAndSteady(ctx context.Context, c *cluster, nodes int) (err error) {
	before, err := c.writes(ctx, b.skipped())
	if err != nil {
		return err
	}
	b.progress("Restarting the operator on the converged fleet...")
	p, err := b.startOperator(ctx, "restart")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.stopOperator(p)) }()
	if b.f.restartQuiet, err = b.waitQuiet(ctx, p, float64(nodes), true); err != nil {
		return err
	}
	after, err := c.writes(ctx, b.skipped())
	if err != nil {
		return err
	}
	b.f.restartWrites = after.minus(before)
	if b.f.restartOperatorWrites, err = operatorWrites(ctx, p); err != nil {
		return err
	}
	b.progress("Restart: %.0f writes, every node reconciled within %.0f s; steady state for %s...", b.f.restartWrites.total(), b.f.restartQuiet.busySeconds, b.o.steady)
	b.f.steady, err = b.window(ctx, c, p)
	if err != nil {
		return err
	}
	if b.f.rssRestart, b.f.rssRestartPeak, err = p.memory(); err != nil {
		return err
	}
	b.f.load = append(b.f.load, loadSample{"steady", loadAverage()})
	return nil
}

// windowResult is what one steady window cost.
type windowResult struct {
	seconds float64
	// writes are the apiserver's; operatorWrites those the operator sent.
	writes         writeCounts
	operatorWrites float64
	reconciles     float64
}

// operatorWrites are the write requests p sent since it started.
func operatorWrites(ctx context.Context, p *operatorProcess) (float64, error) {
	m, err := p.metrics(ctx)
	if err != nil {
		return 0, err
	}
	return clientWrites(m), nil
}

func (w windowResult) perMinute(v float64) float64 { return v * 60 / w.seconds }

// window measures the writes and reconciles of one steady-state window.
func (b *bench) window(ctx context.Context, c *cluster, p *operatorProcess) (windowResult, error) {
	before, err := c.writes(ctx, b.skipped())
	if err != nil {
		return windowResult{}, err
	}
	m0, err := p.metrics(ctx)
	if err != nil {
		return windowResult{}, err
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return windowResult{}, ctx.Err()
	case <-time.After(b.o.steady):
	}
	if err := p.checkAlive(); err != nil {
		return windowResult{}, err
	}
	after, err := c.writes(ctx, b.skipped())
	if err != nil {
		return windowResult{}, err
	}
	m1, err := p.metrics(ctx)
	if err != nil {
		return windowResult{}, err
	}
	return windowResult{
		seconds:        time.Since(start).Seconds(),
		writes:         after.minus(before),
		operatorWrites: clientWrites(m1) - clientWrites(m0),
		reconciles:     m1.sum("controller_runtime_reconcile_total") - m0.sum("controller_runtime_reconcile_total"),
	}, nil
}

// movingLedgers gives some nodes a running pod whose sidecar reports a ledger closing every 5 s,
// restarts the operator so it finds them (it does not watch pods), waits for quiet and measures
// a steady window: the status writes and reconciles a live fleet costs.
func (b *bench) movingLedgers(ctx context.Context, c *cluster, nodes []*stellarv1.StellarNode) (err error) {
	moving := movingNodes(nodes, b.o.moving)
	b.f.movingNodes = len(moving)
	if len(moving) == 0 {
		return nil
	}
	s, err := startSidecar(ctx)
	if err != nil {
		return err
	}
	defer s.stop()
	if err := c.createPods(ctx, moving); err != nil {
		return err
	}
	before, err := c.writes(ctx, b.skipped())
	if err != nil {
		return err
	}
	b.progress("Moving ledgers: %d nodes have a running pod; restarting the operator so it finds them...", len(moving))
	p, err := b.startOperator(ctx, "moving")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.stopOperator(p)) }()
	if b.f.discoveryQuiet, err = b.waitQuiet(ctx, p, float64(len(nodes)), false); err != nil {
		return err
	}
	after, err := c.writes(ctx, b.skipped())
	if err != nil {
		return err
	}
	b.f.discoveryWrites = after.minus(before)
	if b.f.discoveryOperatorWrites, err = operatorWrites(ctx, p); err != nil {
		return err
	}
	b.progress("Moving ledgers: %.0f writes when the pods were found; steady state for %s...", b.f.discoveryWrites.total(), b.o.steady)
	requests := s.requests.Load()
	if b.f.movingWindow, err = b.window(ctx, c, p); err != nil {
		return err
	}
	b.f.statusRequests = s.requests.Load() - requests
	return nil
}

// limitPhases measure the plain client at concurrency 1 and at --concurrency, each on a fresh
// control plane holding the same fleet, so neither finds the other's objects (an apply of an
// existing object is cheaper) and neither runs on a bigger etcd.
func (b *bench) limitPhases(ctx context.Context) error {
	levels := []int{1}
	if b.o.concurrency != 1 {
		levels = append(levels, b.o.concurrency)
	}
	for _, concurrency := range levels {
		r, err := b.limit(ctx, concurrency)
		if err != nil {
			return err
		}
		b.f.limits = append(b.f.limits, r)
	}
	return nil
}

func (b *bench) limit(ctx context.Context, concurrency int) (r limitRun, err error) {
	b.progress("Limit: a fresh control plane for the plain client at concurrency %d...", concurrency)
	dir := filepath.Join(b.dir, fmt.Sprintf("limit-%d", concurrency))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return r, err
	}
	c, err := startCluster(ctx, dir, b.metallbCRDs, b.o.metallbNamespace)
	if err != nil {
		return r, err
	}
	defer func() { err = errors.Join(err, c.stop()) }()
	nodes, err := fleet(b.o.nodes, b.o.namespaces)
	if err != nil {
		return r, err
	}
	stored, err := c.createFleet(ctx, nodes)
	if err != nil {
		return r, err
	}
	objects, _, err := desiredObjects(stored, b.settings(), c.scheme)
	if err != nil {
		return r, err
	}
	secrets, err := generatedSecrets(stored)
	if err != nil {
		return r, err
	}
	// The operator resolves a node's Secrets before rendering it: so does the plain client.
	objects = append(secrets, objects...)
	before, err := c.writes(ctx, b.skipped())
	if err != nil {
		return r, err
	}
	took, err := c.applyPlain(ctx, objects, concurrency)
	if err != nil {
		return r, err
	}
	after, err := c.writes(ctx, b.skipped())
	if err != nil {
		return r, err
	}
	r = limitRun{concurrency: concurrency, objects: len(objects), seconds: took.Seconds(), writes: after.minus(before)}
	b.progress("Limit: %d objects at concurrency %d in %.1f s", r.objects, concurrency, r.seconds)
	b.f.load = append(b.f.load, loadSample{fmt.Sprintf("limit c=%d", concurrency), loadAverage()})
	return r, nil
}

// eventReasons counts the Events in the fleet's namespaces by reason (the operator's Events are
// a large share of its writes).
func (c *cluster) eventReasons(ctx context.Context) (map[string]float64, error) {
	list := &eventsv1.EventList{}
	if err := c.admin.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing events: %w", err)
	}
	out := map[string]float64{}
	for _, e := range list.Items {
		count := 1.0
		if e.Series != nil {
			count = float64(e.Series.Count)
		}
		out[e.Reason+" ("+e.Type+")"] += count
	}
	return out, nil
}
