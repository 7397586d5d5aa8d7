package controlplane

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/stellar-operator/stellar-operator/internal/metallblog"
)

// MetalLB's controller (v0.15.2, built by hack/e2e-tools.sh from the module proxy) run against the
// control plane as a plain process: it assigns LoadBalancer addresses from the pools and, above
// all, parses MetalLB's whole configuration with MetalLB's own rules. A suite that runs it lets
// MetalLB judge every object the operator writes (metallblog reads its verdict from its log).

// MetalLBVersion is the MetalLB release hack/e2e-tools.sh builds.
const MetalLBVersion = "v0.15.2"

// ErrNoMetalLBController means MetalLB's controller has not been built.
var ErrNoMetalLBController = errors.New("MetalLB's controller is not built: run hack/e2e-tools.sh")

// CacheRoot is the per-user cache of the project's build scripts: $STELLAR_OPERATOR_CACHE, else
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

// MetalLBControllerBinary is where hack/e2e-tools.sh builds MetalLB's controller
// ($METALLB_CONTROLLER overrides).
func MetalLBControllerBinary() string {
	if p := os.Getenv("METALLB_CONTROLLER"); p != "" {
		return p
	}
	return filepath.Join(CacheRoot(), "metallb-"+MetalLBVersion, "controller")
}

// MetalLBController is a running MetalLB controller.
type MetalLBController struct {
	// Log is its JSON log.
	Log string

	*process
	dir string
}

// StartMetalLBController runs MetalLB's controller for namespace (webhook off, no certificate
// rotation) as a cluster admin: MetalLB's own RBAC is not what is tested. It returns once the
// controller has started its workers.
func (c *ControlPlane) StartMetalLBController(namespace string) (*MetalLBController, error) {
	bin := MetalLBControllerBinary()
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%w (%s)", ErrNoMetalLBController, bin)
	}
	dir, err := os.MkdirTemp("", "metallb-controller-")
	if err != nil {
		return nil, err
	}
	m := &MetalLBController{dir: dir, Log: filepath.Join(dir, "controller.log")}
	user, err := c.env.AddUser(envtest.User{Name: "metallb-controller", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, m.cleanup(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return nil, m.cleanup(err)
	}
	kubeconfigPath := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		return nil, m.cleanup(err)
	}
	port, err := freePort()
	if err != nil {
		return nil, m.cleanup(err)
	}
	logf, err := os.Create(m.Log)
	if err != nil {
		return nil, m.cleanup(err)
	}
	cmd := exec.Command(bin, "--namespace="+namespace, "--webhook-mode=disabled", "--disable-cert-rotation",
		"--log-level=info", "--port="+strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "METALLB_NAMESPACE="+namespace, "KUBECONFIG="+kubeconfigPath)
	if m.process, err = startProcess(cmd, logf, "MetalLB's controller"); err != nil {
		return nil, m.cleanup(err)
	}
	if err := m.waitStarted(60 * time.Second); err != nil {
		_ = m.Stop()
		return nil, err
	}
	return m, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (m *MetalLBController) waitStarted(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if data, err := os.ReadFile(m.Log); err == nil && bytes.Contains(data, []byte("Starting workers")) {
			return nil
		}
		if !m.Running() {
			return fmt.Errorf("MetalLB's controller exited: %v (log %s)", m.err, m.Log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("MetalLB's controller did not start within %v (log %s)", timeout, m.Log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Verdict is MetalLB's judgement of every configuration it read so far.
func (m *MetalLBController) Verdict() (metallblog.Verdict, error) {
	f, err := os.Open(m.Log)
	if err != nil {
		return metallblog.Verdict{}, err
	}
	defer f.Close()
	return metallblog.Judge(metallblog.MetalLB, f)
}

// Stop stops the controller and removes its directory (its log with it: read the verdict first).
func (m *MetalLBController) Stop() error {
	if m.process != nil {
		m.stop()
	}
	return m.cleanup(nil)
}

func (m *MetalLBController) cleanup(err error) error {
	return errors.Join(err, os.RemoveAll(m.dir))
}
