//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stellar-operator/stellar-operator/internal/controlplane"
)

// cp is the control plane shared by every test of the package: kube-apiserver + etcd with the
// operator's CRDs, MetalLB's and frr-k8s', and kube-controller-manager running its garbage
// collector, endpointslice and namespace controllers. Tests run one after the other (no
// t.Parallel), each building and tearing down its own topology.
var cp *controlplane.ControlPlane

func TestMain(m *testing.M) {
	stopFailed := false
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "FAIL: the anycast e2e needs root")
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "SKIP: the anycast e2e needs root (network namespaces, veths, TCP MD5)")
		os.Exit(0)
	}
	if dir, err := controlplane.AssetsDir(); err == nil && os.Getenv("CI") != "true" {
		if _, err := os.Stat(filepath.Join(dir, "kube-controller-manager")); err != nil {
			fmt.Fprintln(os.Stderr, "SKIP:", controlplane.ErrNoControllerManager)
			os.Exit(0)
		}
	}
	// Leftovers of runs that crashed (or were killed by `go test -timeout`) before their cleanup.
	if err := Sweep(); err != nil {
		fmt.Fprintln(os.Stderr, "sweeping stale e2e resources:", err)
	}
	dir, err := MetalLBCRDDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	crds, err := MetalLBCRDs(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: reading MetalLB's CRDs:", err)
		os.Exit(1)
	}
	// frr-k8s' CRDs (FRRConfiguration, BGPSessionState, ...), for the frr-k8s-mode tests; those
	// skip (fail under CI) without hack/e2e-tools.sh's build.
	if frr, err := FRRK8sCRDs(); err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "frr-k8s-mode tests will skip:", err)
	} else {
		crds = append(crds, frr...)
	}
	// The package's own run: it records the control plane's processes for Sweep.
	pkg, err := newRun()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	// The operator (started by the first test that needs it) logs through controller-runtime.
	if err := setupOperatorLog(logDir(pkg)); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: operator log:", err)
		os.Exit(1)
	}
	code := controlplane.RunTests(m, controlplane.Options{ExtraCRDs: crds}, func(c *controlplane.ControlPlane) (func(), error) {
		cp = c
		pkg.adoptChildren("kube-apiserver", "etcd")
		kcm, err := c.StartControllerManager(controlplane.ControllerManagerOptions{
			Log: filepath.Join(logDir(pkg), "kube-controller-manager.log"),
			Configure: func(cmd *exec.Cmd) {
				// Dies with the test binary; Sweep kills it otherwise (recorded below).
				cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			},
		})
		if err != nil {
			return nil, err
		}
		pkg.recordPid(kcm.Pid(), "kube-controller-manager")
		// Stopped before the control plane: every test has deleted its StellarNodes by then.
		return func() {
			if err := stopOperator(); err != nil {
				fmt.Fprintln(os.Stderr, "FAIL:", err)
				stopFailed = true
			}
			if err := kcm.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "stopping kube-controller-manager:", err)
			}
		}, nil
	})
	if stopFailed && code == 0 {
		code = 1
	}
	// Every request the operator sent must have been allowed by the RBAC it ships.
	if log, err := os.ReadFile(operatorLogPath); err == nil {
		if denied := controlplane.ForbiddenLines(string(log)); code == 0 && len(denied) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: the operator was refused by its own RBAC (config/rbac) %d times:\n%s\n", len(denied), strings.Join(denied, "\n"))
			code = 1
		}
	}
	if err := pkg.close(); err != nil {
		fmt.Fprintln(os.Stderr, "cleaning up:", err)
	}
	os.Exit(code)
}
