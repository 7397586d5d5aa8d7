package health

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"k8s.io/klog/v2"
)

const (
	envPrefix       = "STELLAR_HEALTH_"
	shutdownTimeout = 5 * time.Second
)

// Command runs the health sidecar: it parses args (without the program or
// subcommand name), serves until ctx is cancelled and then shuts the HTTP
// server down gracefully. Each flag falls back to STELLAR_HEALTH_<FLAG>
// (upper-cased, dashes as underscores), so a pod spec can use env vars.
// The bound address is printed to stdout as "Serving health on <addr>".
func Command(ctx context.Context, args []string, stdout io.Writer) error {
	return command(ctx, args, stdout, os.LookupEnv)
}

func command(ctx context.Context, args []string, stdout io.Writer, lookupEnv func(string) (string, bool)) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var (
		nodeType   = fs.String("node-type", "", "Stellar process to check: Validator, Horizon or SorobanRpc (required)")
		target     = fs.String("target", "", "base URL of the process (default http://127.0.0.1:11626 for Validator, http://127.0.0.1:8000 otherwise)")
		listen     = fs.String("listen", DefaultListen, "public address: /healthz and /readyz only (the LoadBalancer exposes it)")
		statusAt   = fs.String("status-listen", DefaultStatusListen, "in-cluster address: /healthz, /readyz, /status and /metrics (empty: none)")
		passphrase = fs.String("network-passphrase", "", "expected network passphrase; empty skips the check")
		period     = fs.Duration("period", DefaultPeriod, "interval between checks")
		timeout    = fs.Duration("timeout", DefaultTimeout, "timeout of each HTTP call to the process")
		maxAge     = fs.Duration("max-ledger-age", DefaultMaxLedgerAge, "oldest acceptable last closed ledger")
		maxLag     = fs.Int64("max-ingest-lag", DefaultMaxIngestLag, "Horizon: most ledgers ingestion may trail core")
	)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: health [flags]\n\nServes the sync state of a Stellar process for Kubernetes probes.\n"+
			"Every flag can also be set as %s<FLAG>, e.g. %sNODE_TYPE.\n\n", envPrefix, envPrefix)
		fs.PrintDefaults()
	}

	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := lookupEnv(name); ok && envErr == nil {
			// Setting before Parse makes explicit flags win over env.
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("invalid $%s: %w", name, err)
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if *nodeType == "" {
		return fmt.Errorf("--node-type is required (Validator, Horizon or SorobanRpc)")
	}
	nt, err := parseNodeType(*nodeType)
	if err != nil {
		return err
	}
	for name, d := range map[string]time.Duration{"period": *period, "timeout": *timeout, "max-ledger-age": *maxAge} {
		if d <= 0 {
			return fmt.Errorf("--%s must be positive, got %s", name, d)
		}
	}
	if *maxLag <= 0 {
		return fmt.Errorf("--max-ingest-lag must be positive, got %d", *maxLag)
	}

	cfg := Config{
		NodeType:          nt,
		TargetURL:         *target,
		NetworkPassphrase: *passphrase,
		Period:            *period,
		Timeout:           *timeout,
		MaxLedgerAge:      *maxAge,
		MaxIngestLag:      *maxLag,
	}.withDefaults()
	checker, err := NewChecker(cfg, nil, time.Now)
	if err != nil {
		return err
	}

	log := klog.FromContext(ctx).WithName("health")
	registry := prometheus.NewRegistry()
	registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	server := NewServer(cfg, checker, registry, log)

	listeners := []struct {
		address string
		handler http.Handler
		what    string
	}{{*listen, server.PublicHandler(), "health"}}
	if *statusAt != "" {
		listeners = append(listeners, struct {
			address string
			handler http.Handler
			what    string
		}{*statusAt, server.Handler(), "status"})
	}
	var servers []*http.Server
	serveErr := make(chan error, len(listeners))
	for _, l := range listeners {
		ln, err := net.Listen("tcp", l.address)
		if err != nil {
			for _, srv := range servers {
				_ = srv.Close()
			}
			return fmt.Errorf("listen on %s: %w", l.address, err)
		}
		srv := &http.Server{
			Handler: l.handler,
			// Probes are tiny; tight limits keep stuck clients from holding
			// connections open.
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    16 << 10,
		}
		servers = append(servers, srv)
		fmt.Fprintf(stdout, "Serving %s on %s\n", l.what, ln.Addr())
		log.Info("Serving "+l.what, "address", ln.Addr().String())
		go func() { serveErr <- srv.Serve(ln) }()
	}
	log.Info("Checking", "target", redactedTarget(cfg.TargetURL),
		"networkPassphrase", cfg.NetworkPassphrase, "period", cfg.Period, "timeout", cfg.Timeout,
		"maxLedgerAge", cfg.MaxLedgerAge, "maxIngestLag", cfg.MaxIngestLag)

	runCtx, stopChecks := context.WithCancel(ctx)
	defer stopChecks()
	var wg sync.WaitGroup
	wg.Go(func() { server.Run(runCtx) })

	var result error
	pending := len(servers)
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		// Serve only returns early on a listener failure.
		result = fmt.Errorf("serve health: %w", err)
		pending--
	}

	log.Info("Shutting down health server")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			log.Error(err, "Graceful shutdown timed out; closing connections")
			_ = srv.Close()
		}
	}
	for ; pending > 0; pending-- {
		<-serveErr
	}
	stopChecks()
	wg.Wait()
	return result
}

func redactedTarget(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid>"
	}
	return u.Redacted()
}
