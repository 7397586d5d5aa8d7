package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellar-operator/stellar-operator/internal/selfimage"
)

func TestVersionPrintsVersionCommitAndImage(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"version: dev\n", "commit: ", "image: none"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version output lacks %q:\n%s", want, out.String())
		}
	}
}

// Against a real cluster, with no flag, no Pod to read and no $OPERATOR_IMAGE, the operator
// refuses to start instead of rendering sidecars with an image nobody published; it says so in
// one line, before it ever contacts the cluster.
func TestRunWithoutAnOperatorImageFailsClearly(t *testing.T) {
	for _, name := range []string{selfimage.EnvImage, selfimage.EnvPodName, selfimage.EnvPodNamespace} {
		t.Setenv(name, "")
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"run", "--kubeconfig", kubeconfig, "--zap-log-level", "error"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "pass --operator-image or set $OPERATOR_IMAGE") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v, want one line naming --operator-image and $OPERATOR_IMAGE", err)
	}
}
