package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellar-operator/stellar-operator/internal/controlplane"
)

// The README's quick start: `make run` with no cluster configured starts the embedded control
// plane, runs the operator, applies examples/ and prints what it created, leaving a kubeconfig.
func TestQuickStartLocalClusterAppliesTheExamples(t *testing.T) {
	if _, err := controlplane.AssetsDir(); errors.Is(err, controlplane.ErrNoBinaries) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, []string{"local", "--once", "--examples", "../../examples", "--kubeconfig-out", kubeconfig,
		"--operator-image", "stellar-operator:test", "--zap-log-level", "error"}, &out, &out)
	if err != nil {
		t.Fatalf("local: %v\n%s", err, out.String())
	}
	summary := out.String()
	t.Log(summary)
	for _, want := range []string{
		"Control plane up at", "Applied StellarNode default/horizon-anycast", "Applied StellarNode default/horizon-l2",
		"StatefulSet/validator-testnet", "Secret/validator-testnet-seed", "ConfigMap/validator-testnet-config",
		"Deployment/horizon-l2", "StatefulSet/horizon-l2-postgres", "StatefulSet/soroban-rpc-testnet",
		"stellar/stellar-horizon:21.0.0", "kubectl --kubeconfig " + kubeconfig,
		"Applied StellarNode stellar-nodes/horizon-us-east", "Applied Secret stellar-nodes/bgp-md5-eu-west",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("the summary lacks %q", want)
		}
	}
	data, err := os.ReadFile(kubeconfig)
	if err != nil || !bytes.Contains(data, []byte("certificate-authority-data")) {
		t.Errorf("no usable kubeconfig was left: %v", err)
	}
}

func TestUnknownCommandIsAnError(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"frobnicate"}, &out, &out); err == nil || !strings.Contains(out.String(), "Usage") {
		t.Fatalf("err=%v out=%s", err, out.String())
	}
}

// `-h` is an answer, not a failure, for every command.
func TestHelpOfEveryCommandSucceeds(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"help"}, {"run", "-h"}, {"local", "-h"}, {"health", "-h"}, {"version"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out bytes.Buffer
			if err := run(context.Background(), args, &out, &out); err != nil {
				t.Fatalf("%v: %v", args, err)
			}
			if out.Len() == 0 {
				t.Errorf("%v printed nothing", args)
			}
		})
	}
}

// Without a kubeconfig and outside a Pod, `run` knows there is no cluster (and says so in one line
// before starting the embedded one), instead of failing with client configuration errors.
func TestNoClusterIsRecognised(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "absent"))
	t.Setenv("HOME", t.TempDir())
	env := map[string]string{}
	if _, err := clusterConfig("", func(k string) string { return env[k] }); !errors.Is(err, errNoCluster) {
		t.Fatalf("without any configuration: %v, want errNoCluster", err)
	}
	env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"] = "10.96.0.1", "443"
	if _, err := clusterConfig("", func(k string) string { return env[k] }); errors.Is(err, errNoCluster) {
		t.Fatal("in a Pod the in-cluster configuration is used")
	}
}
