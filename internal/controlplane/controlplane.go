// Package controlplane starts a real kube-apiserver and etcd (built from Go modules by
// hack/k8s-binaries.sh) with the operator's CRDs: for the envtest suites and for `stellar-operator
// local`, the embedded cluster of the README's quick start.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/stellar-operator/stellar-operator/config"
)

// ErrNoBinaries means kube-apiserver and etcd have not been built yet.
var ErrNoBinaries = errors.New("kube-apiserver and etcd are not built: run `make k8s-binaries` (or hack/k8s-binaries.sh) and set KUBEBUILDER_ASSETS to the directory it prints")

// AssetsDir is the directory holding kube-apiserver and etcd: KUBEBUILDER_ASSETS when set.
func AssetsDir() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		return "", ErrNoBinaries
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return "", fmt.Errorf("%w (%s missing in %s)", ErrNoBinaries, bin, dir)
		}
	}
	return dir, nil
}

// BuildBinaries makes sure kube-apiserver and etcd exist for a local run: KUBEBUILDER_ASSETS when
// set, else the project's build script (hack/k8s-binaries.sh, run from the repository root), which
// reuses its cache and shows its progress on progress — the first build takes 10–20 minutes.
func BuildBinaries(progress io.Writer) error {
	if os.Getenv("KUBEBUILDER_ASSETS") != "" {
		return nil
	}
	script := filepath.Join("hack", "k8s-binaries.sh")
	if _, err := os.Stat(script); err != nil {
		return fmt.Errorf("%w (and %s is not here: run from the repository root)", ErrNoBinaries, script)
	}
	fmt.Fprintln(progress, "Building kube-apiserver and etcd from Go modules (cached after the first time)...")
	cmd := exec.Command("bash", script)
	cmd.Stderr = progress
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("building the control plane binaries: %w", err)
	}
	return os.Setenv("KUBEBUILDER_ASSETS", strings.TrimSpace(string(out)))
}

// MetalLBCRDs reads MetalLB's own CRDs from the go.universe.tf/metallb module in the module cache
// (the version go.mod requires), so tests and the local cluster use exactly MetalLB's schemas.
func MetalLBCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "go.universe.tf/metallb").Output()
	if err != nil {
		return nil, fmt.Errorf("locating the MetalLB module (is Go installed and the module downloaded?): %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return nil, errors.New("the MetalLB module is not in the module cache: run `go mod download go.universe.tf/metallb`")
	}
	return config.ReadCRDs(os.DirFS(dir), "config/crd/bases")
}

// ControlPlane is a running apiserver + etcd.
type ControlPlane struct {
	env    *envtest.Environment
	Config *rest.Config
}

// Options tune Start.
type Options struct {
	// ExtraCRDs are installed next to the operator's own (MetalLB's, for instance).
	ExtraCRDs []*apiextensionsv1.CustomResourceDefinition
	// WithoutOperatorCRDs leaves the operator's own CRDs out, for tests that install them as a
	// user would (the Helm chart, dist/install.yaml).
	WithoutOperatorCRDs bool
}

// Start runs the control plane and installs the CRDs.
func Start(opts Options) (*ControlPlane, error) {
	dir, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	crds, err := config.CRDs()
	if err != nil {
		return nil, fmt.Errorf("reading the operator's CRDs: %w", err)
	}
	if opts.WithoutOperatorCRDs {
		crds = nil
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: dir,
		CRDs:                  append(crds, opts.ExtraCRDs...),
		ErrorIfCRDPathMissing: true,
	}
	// Room for many Services: the default /24 fills after ~126 of them.
	env.ControlPlane.GetAPIServer().Configure().
		Set("service-cluster-ip-range", "10.96.0.0/16").
		Set("service-node-port-range", "30000-50000")
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	return &ControlPlane{env: env, Config: cfg}, nil
}

// KubeConfig is an admin kubeconfig for the control plane.
func (c *ControlPlane) KubeConfig() ([]byte, error) {
	user, err := c.env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	return user.KubeConfig()
}

// Stop stops apiserver and etcd and removes their data.
func (c *ControlPlane) Stop() error { return c.env.Stop() }

// RunTests is a TestMain body: one control plane shared by every test of the package. Without
// the binaries it skips the package locally, and fails it in CI (CI=true), where a skipped
// envtest suite would hide that nothing was tested.
func RunTests(m *testing.M, opts Options, start func(*ControlPlane) (stop func(), err error)) int {
	cp, err := Start(opts)
	if err != nil {
		if errors.Is(err, ErrNoBinaries) && os.Getenv("CI") != "true" {
			fmt.Fprintln(os.Stderr, "SKIP envtest suite:", err)
			return 0
		}
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "Started a real kube-apiserver at %s\n", cp.Config.Host)
	defer func() {
		if err := cp.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		}
	}()
	stop := func() {}
	if start != nil {
		if stop, err = start(cp); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			return 1
		}
	}
	defer stop()
	return m.Run()
}

// Identity of the operator as the shipped manifests deploy it (config/rbac).
const (
	OperatorNamespace      = "stellar-system"
	OperatorServiceAccount = "stellar-operator"
)

// OperatorConfig installs the RBAC the operator ships (config/rbac: its ServiceAccount, ClusterRole
// and bindings) and returns a rest.Config that authenticates as that ServiceAccount with a token
// from the TokenRequest API, as the operator's Pod would. Whatever the operator does with it is
// judged by exactly the shipped rules: a missing verb fails the way it fails in a real cluster.
func (c *ControlPlane) OperatorConfig(ctx context.Context) (*rest.Config, error) {
	admin, err := client.New(c.Config, client.Options{})
	if err != nil {
		return nil, err
	}
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(OperatorNamespace)
	objects, err := config.RBAC()
	if err != nil {
		return nil, fmt.Errorf("reading the shipped RBAC: %w", err)
	}
	for _, obj := range append([]*unstructured.Unstructured{ns}, objects...) {
		if err := admin.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: OperatorNamespace, Name: OperatorServiceAccount}}
	request := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](48 * 3600)}}
	if err := admin.SubResource("token").Create(ctx, sa, request); err != nil {
		return nil, fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", OperatorNamespace, OperatorServiceAccount, err)
	}
	cfg := rest.AnonymousClientConfig(c.Config)
	cfg.BearerToken = request.Status.Token
	return cfg, nil
}

// ForbiddenLines are the lines of an operator log that report a request its RBAC refused (not an
// admission policy's refusal, which is a test's doing).
func ForbiddenLines(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `forbidden: User \"`) && strings.Contains(line, ` cannot `) ||
			strings.Contains(line, `forbidden: User "`) && strings.Contains(line, ` cannot `) {
			out = append(out, line)
		}
	}
	return out
}
