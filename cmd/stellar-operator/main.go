// Command stellar-operator runs the StellarNode operator (`run`), its embedded local cluster
// (`local`), and the health sidecar it adds to Stellar pods (`health`).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/stellar-operator/stellar-operator/internal/health"
	"github.com/stellar-operator/stellar-operator/internal/operator"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

const usage = `Usage: stellar-operator <command> [flags]

Commands:
  run      run the operator against the cluster of the current kubeconfig; with no cluster
           configured, start an embedded local control plane instead (as 'local')
  local    start an embedded kube-apiserver + etcd with the CRDs, run the operator, apply
           examples, print what was created, and keep serving (kubeconfig in .local/)
  health   the health sidecar: serve /healthz, /readyz and /status for a Stellar process
`

// defaultOperatorImage runs the health sidecar unless --operator-image says otherwise.
const defaultOperatorImage = "ghcr.io/stellar-operator/stellar-operator:latest"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "run":
		return runOperator(ctx, args[1:], stdout)
	case "local":
		return runLocal(ctx, args[1:], stdout)
	case "health":
		return health.Command(klog.NewContext(ctx, klog.Background()), args[1:], stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// operatorFlags are shared by run and local.
type operatorFlags struct {
	cfg        operator.Config
	kubeconfig string
	zap        zap.Options
}

func (f *operatorFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "path to a kubeconfig (default: $KUBECONFIG, in-cluster, or ~/.kube/config)")
	fs.StringVar(&f.cfg.Controller.OperatorImage, "operator-image", defaultOperatorImage, "image of this binary, used for the health sidecar")
	fs.StringVar(&f.cfg.MetricsAddr, "metrics-bind-address", ":8080", "address of the metrics endpoint (0 disables it)")
	fs.StringVar(&f.cfg.ProbeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz (0 disables them)")
	fs.BoolVar(&f.cfg.LeaderElection, "leader-elect", false, "elect a leader so several replicas can run")
	fs.StringVar(&f.cfg.LeaderElectionNS, "leader-election-namespace", "", "namespace of the leader election lease")
	fs.StringVar(&f.cfg.Controller.Discovery.ExternalDNSPrefix, "external-dns-prefix", render.DefaultExternalDNSPrefix,
		"annotation prefix your external-dns reads (v0.22+ also reads external-dns.kubernetes.io/)")
	fs.StringVar(&f.cfg.Controller.MetalLBNamespace, "metallb-namespace", "metallb-system", "namespace MetalLB watches; its objects are written there")
	fs.StringVar(&f.cfg.Controller.FRRK8sNamespace, "frr-k8s-namespace", "frr-k8s-system", "namespace of frr-k8s, whose BGPSessionStates give the BGP session state (frr-k8s mode)")
	fs.Func("metallb-bgp-mode", "MetalLB's BGP implementation: native, frr or frr-k8s (default frr-k8s, the Helm chart's); fields a mode cannot take are left out and reported", func(v string) error {
		switch render.BGPMode(v) {
		case render.BGPModeNative, render.BGPModeFRR, render.BGPModeFRRK8s:
			f.cfg.Controller.BGPMode = render.BGPMode(v)
			return nil
		}
		return fmt.Errorf("unknown BGP mode %q: want native, frr or frr-k8s", v)
	})
	f.zap.BindFlags(fs)
}

func (f *operatorFlags) setLogger() {
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&f.zap)))
}

func runOperator(ctx context.Context, args []string, stdout io.Writer) error {
	f := &operatorFlags{}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	f.bind(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	f.setLogger()
	restConfig, err := clusterConfig(f.kubeconfig)
	if err != nil {
		fmt.Fprintf(stdout, "No cluster configured (%v): starting an embedded local control plane.\n", err)
		return serveLocal(ctx, f, localFlags{examples: "examples", kubeconfigOut: ".local/kubeconfig"}, stdout)
	}
	return startManager(ctx, restConfig, f.cfg)
}

// clusterConfig loads the kubeconfig named by the flag, or controller-runtime's usual chain.
func clusterConfig(path string) (*rest.Config, error) {
	if path != "" {
		return clientcmd.BuildConfigFromFlags("", path)
	}
	return ctrl.GetConfig()
}

func startManager(ctx context.Context, restConfig *rest.Config, cfg operator.Config) error {
	mgr, err := operator.NewManager(restConfig, cfg)
	if err != nil {
		return err
	}
	ctrl.Log.Info("Starting the StellarNode operator", "host", restConfig.Host)
	return mgr.Start(ctx)
}
