package controlplane

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// kube-controller-manager, built by `hack/k8s-binaries.sh --controller-manager` next to
// kube-apiserver from the same k8s.io/kubernetes version, run against the control plane with only
// the controllers a suite asks for. envtest alone runs apiserver + etcd: nothing deletes owned
// objects, writes EndpointSlices for Pods, or finishes deleting a namespace.

// ErrNoControllerManager means kube-controller-manager has not been built next to kube-apiserver.
var ErrNoControllerManager = errors.New("kube-controller-manager is not built: run `hack/k8s-binaries.sh --controller-manager` (hack/e2e-tools.sh does)")

// Controllers of kube-controller-manager (its --controllers names).
const (
	// GarbageCollector deletes objects whose owners are gone (ownerReferences).
	GarbageCollector = "garbage-collector-controller"
	// EndpointSlice writes the EndpointSlices of Services with a selector, from their Pods.
	EndpointSlice = "endpointslice-controller"
	// Namespace deletes a terminating namespace's content, then the namespace.
	Namespace = "namespace-controller"
)

// DefaultControllers are the controllers StartControllerManager runs when none are named.
func DefaultControllers() []string { return []string{GarbageCollector, EndpointSlice, Namespace} }

// ControllerManagerOptions tune StartControllerManager.
type ControllerManagerOptions struct {
	// Controllers to run; default DefaultControllers().
	Controllers []string
	// Log receives kube-controller-manager's output; default kube-controller-manager.log in Dir.
	Log string
	// Dir holds the kubeconfig (and the default log); default a temporary directory, removed by Stop.
	Dir string
	// Configure may adjust the command before it starts (process attributes, environment).
	Configure func(*exec.Cmd)
}

// ControllerManager is a running kube-controller-manager.
type ControllerManager struct {
	// Log is its output (klog text).
	Log         string
	Controllers []string

	*process
	dir     string
	tempDir bool
}

// StartControllerManager runs kube-controller-manager against the control plane as the user
// system:kube-controller-manager (group system:masters: with --use-service-account-credentials off
// every controller acts as this user), without leader election and without serving HTTPS, and
// waits until each controller has started.
func (c *ControlPlane) StartControllerManager(opts ControllerManagerOptions) (*ControllerManager, error) {
	dir, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "kube-controller-manager")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%w (%s)", ErrNoControllerManager, bin)
	}
	m := &ControllerManager{Controllers: opts.Controllers, dir: opts.Dir}
	if len(m.Controllers) == 0 {
		m.Controllers = DefaultControllers()
	}
	if m.dir == "" {
		if m.dir, err = os.MkdirTemp("", "kube-controller-manager-"); err != nil {
			return nil, err
		}
		m.tempDir = true
	}
	user, err := c.env.AddUser(envtest.User{Name: "system:kube-controller-manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, m.cleanup(fmt.Errorf("adding the controller manager's user: %w", err))
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return nil, m.cleanup(err)
	}
	kubeconfigPath := filepath.Join(m.dir, "kube-controller-manager.kubeconfig")
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		return nil, m.cleanup(err)
	}
	m.Log = opts.Log
	if m.Log == "" {
		m.Log = filepath.Join(m.dir, "kube-controller-manager.log")
	}
	logf, err := os.OpenFile(m.Log, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, m.cleanup(err)
	}
	cmd := exec.Command(bin,
		"--kubeconfig="+kubeconfigPath,
		"--controllers="+strings.Join(m.Controllers, ","),
		"--leader-elect=false",
		// No HTTPS endpoint: nothing probes it, and it needs no delegated authentication then.
		"--secure-port=0",
		"--use-service-account-credentials=false",
		"--v=2",
	)
	if opts.Configure != nil {
		opts.Configure(cmd)
	}
	if m.process, err = startProcess(cmd, logf, "kube-controller-manager"); err != nil {
		return nil, m.cleanup(err)
	}
	if err := m.waitStarted(60 * time.Second); err != nil {
		_ = m.Stop()
		return nil, err
	}
	return m, nil
}

// waitStarted waits until the log says every controller started: `"Controller starting..."
// controller="<name>"` in 1.37 (`"Started controller"` in earlier releases).
func (m *ControllerManager) waitStarted(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		missing := m.notStarted()
		if len(missing) == 0 {
			return nil
		}
		if !m.Running() {
			return fmt.Errorf("kube-controller-manager exited: %v (log %s)", m.err, m.Log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-controller-manager did not start %v within %v (log %s)", missing, timeout, m.Log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (m *ControllerManager) notStarted() []string {
	started := map[string]bool{}
	if f, err := os.Open(m.Log); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			if !strings.Contains(line, `"Controller starting..."`) && !strings.Contains(line, `"Started controller"`) {
				continue
			}
			for _, c := range m.Controllers {
				if strings.Contains(line, `"`+c+`"`) {
					started[c] = true
				}
			}
		}
		f.Close()
	}
	var missing []string
	for _, c := range m.Controllers {
		if !started[c] {
			missing = append(missing, c)
		}
	}
	return missing
}

// Stop stops kube-controller-manager (SIGTERM, then SIGKILL after 5 s) and removes its temporary
// directory.
func (m *ControllerManager) Stop() error {
	if m.process != nil {
		m.stop()
	}
	return m.cleanup(nil)
}

func (m *ControllerManager) cleanup(err error) error {
	if m.tempDir {
		err = errors.Join(err, os.RemoveAll(m.dir))
	}
	return err
}
