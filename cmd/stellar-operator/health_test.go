package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// The sidecar the operator renders, run with exactly its rendered arguments through this binary's
// `health` command, serves the node's healthCheckPort and follows the Stellar process's sync.
func TestTheRenderedHealthSidecarServesReadiness(t *testing.T) {
	var synced atomic.Bool
	synced.Store(true)
	horizon := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now().UTC().Format(time.RFC3339)
		switch r.URL.Path {
		case "/health":
			if !synced.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(w, `{"database_connected":true,"core_up":true,"core_synced":false}`)
				return
			}
			fmt.Fprint(w, `{"database_connected":true,"core_up":true,"core_synced":true}`)
		default:
			fmt.Fprintf(w, `{"core_latest_ledger":100,"history_latest_ledger":100,"history_latest_ledger_closed_at":%q,"network_passphrase":"Public Global Stellar Network ; September 2015"}`, now)
		}
	}))
	defer horizon.Close()

	data, err := os.ReadFile("../../examples/horizon-anycast.yaml")
	if err != nil {
		t.Fatal(err)
	}
	node := &stellarv1.StellarNode{}
	if err := yaml.UnmarshalStrict(data, node); err != nil {
		t.Fatal(err)
	}
	node.Namespace = "default"
	port := freePort(t)
	node.Spec.LoadBalancer.HealthCheckPort = int32(port)
	node.Spec.HealthCheck = &stellarv1.HealthCheckSpec{PeriodSeconds: ptr.To[int32](1)}
	result := render.Desired(node, render.EmptyClusterFacts(node, "x", "metallb-system", render.BGPModeFRRK8s))
	var args []string
	for _, obj := range result.Objects {
		if d, ok := obj.(*appsv1.Deployment); ok {
			args = d.Spec.Template.Spec.Containers[1].Args
		}
	}
	if len(args) == 0 || args[0] != "health" {
		t.Fatalf("no sidecar args: %v", args)
	}
	// In the pod the target is localhost:8000 and the status port 9101; here they are the fake
	// Horizon and a free port.
	statusPort := freePort(t)
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "--target="):
			args[i] = "--target=" + horizon.URL
		case strings.HasPrefix(a, "--status-listen="):
			args[i] = fmt.Sprintf("--status-listen=127.0.0.1:%d", statusPort)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, io.Discard, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("health command: %v", err)
		}
	}()

	readyz := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	waitStatus(t, readyz, http.StatusOK)
	// The public port (on the anycast address) hides the status and metrics; the cluster port has them.
	waitStatus(t, fmt.Sprintf("http://127.0.0.1:%d/status", port), http.StatusNotFound)
	waitStatus(t, fmt.Sprintf("http://127.0.0.1:%d/status", statusPort), http.StatusOK)
	synced.Store(false)
	body := waitStatus(t, readyz, http.StatusServiceUnavailable)
	if !strings.Contains(body, "core_synced") {
		t.Errorf("/readyz body does not say why: %q", body)
	}
}

func waitStatus(t *testing.T, url string, want int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == want {
				return b.String()
			}
			last = fmt.Sprintf("HTTP %d %s", resp.StatusCode, b.String())
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never answered %d: %s", url, want, last)
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}
