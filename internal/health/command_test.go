package health

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

// syncBuffer lets the test read what Command writes from its goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	servingRE       = regexp.MustCompile(`Serving health on (\S+)`)
	servingStatusRE = regexp.MustCompile(`Serving status on (\S+)`)
)

// startCommand runs command in the background and returns the bound public
// and in-cluster addresses plus a function that cancels it and returns its error.
func startCommand(t *testing.T, args []string, env map[string]string) (string, string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(logr.NewContext(context.Background(), logr.Discard()))
	out := &syncBuffer{}
	errc := make(chan error, 1)
	go func() {
		errc <- command(ctx, args, out, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	}()
	var addr, statusAddr string
	waitFor(t, 5*time.Second, "the serving lines", func() bool {
		select {
		case err := <-errc:
			t.Fatalf("command returned early: %v (output %q)", err, out.String())
		default:
		}
		m, ms := servingRE.FindStringSubmatch(out.String()), servingStatusRE.FindStringSubmatch(out.String())
		if m != nil && ms != nil {
			addr, statusAddr = m[1], ms[1]
		}
		return m != nil && ms != nil
	})
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(10 * time.Second):
				t.Fatal("command did not return after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return addr, statusAddr, stop
}

func TestCommandServesUntilCancelled(t *testing.T) {
	core := serve(t, static(http.StatusOK, coreInfoBody("Synced!", 1, testnetPassphrase)))
	addr, statusAddr, stop := startCommand(t, []string{
		"--node-type", "Validator", "--target", core.URL, "--listen", "127.0.0.1:0", "--status-listen", "127.0.0.1:0",
		"--period", "50ms", "--timeout", "1s", "--network-passphrase", testnetPassphrase,
	}, nil)

	base, internal := "http://"+addr, "http://"+statusAddr
	waitFor(t, 5*time.Second, "/readyz 200", func() bool {
		code, _ := get(t, base+"/readyz")
		return code == http.StatusOK
	})
	for _, b := range []string{base, internal} {
		if code, body := get(t, b+"/healthz"); code != http.StatusOK || body != "ok" {
			t.Errorf("%s/healthz = %d %q", b, code, body)
		}
	}
	if _, body := get(t, internal+"/metrics"); !strings.Contains(body, "stellar_health_synced") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics lacks the health or Go runtime metrics")
	}
	// The public port is exposed on the anycast address: it tells readiness and nothing else.
	for _, path := range []string{"/status", "/metrics"} {
		if code, _ := get(t, base+path); code != http.StatusNotFound {
			t.Errorf("the public port answers %s with %d, want 404", path, code)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("command returned %v after cancel, want nil", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("server still answers after the command returned")
	}
}

func TestCommandReadsEnvironment(t *testing.T) {
	rpc := serve(t, &fakeRPC{health: rpcHealthyPreV271})
	addr, statusAddr, stop := startCommand(t, []string{"--period", "50ms"}, map[string]string{
		"STELLAR_HEALTH_NODE_TYPE":     "rpc",
		"STELLAR_HEALTH_TARGET":        rpc.URL,
		"STELLAR_HEALTH_LISTEN":        "127.0.0.1:0",
		"STELLAR_HEALTH_STATUS_LISTEN": "127.0.0.1:0",
		"STELLAR_HEALTH_PERIOD":        "1h", // the flag wins
	})
	waitFor(t, 5*time.Second, "/readyz 200", func() bool {
		code, _ := get(t, "http://"+addr+"/readyz")
		return code == http.StatusOK
	})
	if r := getStatus(t, "http://"+statusAddr); r.NodeType != NodeTypeSorobanRPC {
		t.Errorf("NodeType = %q, want SorobanRpc", r.NodeType)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestCommandRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"a missing node type is an error", []string{"--listen", "127.0.0.1:0"}, nil, "--node-type is required"},
		{"an unknown node type is an error", []string{"--node-type", "watcher"}, nil, "unknown node type"},
		{"a bad target is an error", []string{"--node-type", "Horizon", "--target", "localhost:8000"}, nil, "target URL"},
		{"a zero period is an error", []string{"--node-type", "Horizon", "--period", "0s"}, nil, "--period must be positive"},
		{"stray arguments are an error", []string{"--node-type", "Horizon", "extra"}, nil, "unexpected arguments"},
		{"an unknown flag is an error", []string{"--frobnicate"}, nil, "frobnicate"},
		{"a bad environment value names the variable", nil, map[string]string{"STELLAR_HEALTH_TIMEOUT": "soon"}, "STELLAR_HEALTH_TIMEOUT"},
		{"an unusable listen address is an error", []string{"--node-type", "Horizon", "--listen", "256.0.0.1:0"}, nil, "listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := command(context.Background(), tt.args, &out, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("command error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestCommandHelpIsNotAnError(t *testing.T) {
	var out bytes.Buffer
	if err := Command(context.Background(), []string{"-h"}, &out); err != nil {
		t.Fatalf("Command(-h) = %v", err)
	}
	if !strings.Contains(out.String(), "STELLAR_HEALTH_") || !strings.Contains(out.String(), "-max-ingest-lag") {
		t.Errorf("usage output %q lacks the flags or env hint", out.String())
	}
}

func TestParseNodeType(t *testing.T) {
	for in, want := range map[string]NodeType{
		"Validator": NodeTypeValidator, "core": NodeTypeValidator,
		"HORIZON": NodeTypeHorizon, "SorobanRpc": NodeTypeSorobanRPC, "stellar-rpc": NodeTypeSorobanRPC,
	} {
		if got, err := parseNodeType(in); err != nil || got != want {
			t.Errorf("parseNodeType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
