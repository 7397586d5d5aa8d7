// Command stellar-operator runs the StellarNode operator (`run`), its embedded local cluster
// (`local`), and the health sidecar it adds to Stellar pods (`health`); `version` says which build
// it is.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/stellar-operator/stellar-operator/internal/buildinfo"
	"github.com/stellar-operator/stellar-operator/internal/controller"
	"github.com/stellar-operator/stellar-operator/internal/health"
	"github.com/stellar-operator/stellar-operator/internal/operator"
	"github.com/stellar-operator/stellar-operator/internal/render"
	"github.com/stellar-operator/stellar-operator/internal/selfimage"
)

const usage = `Usage: stellar-operator <command> [flags]

Commands:
  run      run the operator against the cluster of the current kubeconfig; with no cluster
           configured, start an embedded local control plane instead (as 'local')
  local    start an embedded kube-apiserver + etcd with the CRDs, run the operator, apply
           examples, print what was created, and keep serving (kubeconfig in .local/)
  health   the health sidecar: serve /healthz, /readyz and /status for a Stellar process
  version  print version, commit and image of this build
`

// localOperatorImage decorates the health sidecars of the embedded local cluster, where no pod
// ever runs, when neither the flag nor the build names an image.
const localOperatorImage = "stellar-operator:dev"

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
	case "version":
		fmt.Fprint(stdout, buildinfo.Get())
		return nil
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
	fs.StringVar(&f.cfg.Controller.OperatorImage, "operator-image", "",
		"image of the health sidecar (default: the image of the operator's own Pod, pinned to its digest, else $OPERATOR_IMAGE)")
	fs.StringVar(&f.cfg.MetricsAddr, "metrics-bind-address", ":8080", "address of the metrics endpoint (0 disables it)")
	fs.StringVar(&f.cfg.ProbeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz (0 disables them)")
	fs.StringVar(&f.cfg.PprofAddr, "pprof-bind-address", "", "address of Go's /debug/pprof/ profiles (empty or 0: off; keep it on 127.0.0.1)")
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
	fs.IntVar(&f.cfg.Controller.Workers, "workers", 0, fmt.Sprintf("StellarNodes reconciled at once (0: %d on this machine, 4 per CPU up to 16)", controller.DefaultWorkers()))
	fs.Func("kube-api-qps", fmt.Sprintf("client-side limit of requests per second to the apiserver (default %d)", operator.DefaultQPS), func(v string) error {
		q, err := strconv.ParseFloat(v, 32)
		if err != nil || q <= 0 {
			return fmt.Errorf("want a positive number, got %q", v)
		}
		f.cfg.QPS = float32(q)
		return nil
	})
	fs.IntVar(&f.cfg.Burst, "kube-api-burst", 0, fmt.Sprintf("client-side request burst (0: %d)", operator.DefaultBurst))
	f.zap.BindFlags(fs)
}

func (f *operatorFlags) setLogger() {
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&f.zap)))
}

func runOperator(ctx context.Context, args []string, stdout io.Writer) error {
	f := &operatorFlags{}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stdout)
	f.bind(fs)
	if err := fs.Parse(args); err != nil {
		return helpIsNoError(err)
	}
	f.setLogger()
	restConfig, err := clusterConfig(f.kubeconfig, os.Getenv)
	if errors.Is(err, errNoCluster) {
		fmt.Fprintln(stdout, "No cluster configured (no kubeconfig, not running in a cluster): starting an embedded local control plane.")
		return serveLocal(ctx, f, localFlags{examples: "examples", kubeconfigOut: ".local/kubeconfig"}, stdout)
	}
	if err != nil {
		return err
	}
	if f.cfg.Controller.OperatorImage, err = operatorImage(ctx, restConfig, f.cfg.Controller.OperatorImage); err != nil {
		return err
	}
	return startManager(ctx, restConfig, f.cfg)
}

// operatorImage is the health sidecar's image in a real cluster: the flag, the operator's own Pod,
// or $OPERATOR_IMAGE (internal/selfimage).
func operatorImage(ctx context.Context, restConfig *rest.Config, flag string) (string, error) {
	scheme, err := operator.NewScheme()
	if err != nil {
		return "", err
	}
	// The manager's cached client cannot serve reads before it starts: read the Pod directly.
	c, err := client.New(restConfig, client.Options{Scheme: scheme})
	if err != nil {
		return "", err
	}
	image, source, err := selfimage.Lookup(ctx, c, os.Getenv, flag)
	if err != nil {
		return "", err
	}
	ctrl.Log.Info("Health sidecar image", "image", image, "from", string(source))
	return image, nil
}

// errNoCluster means neither a kubeconfig nor an in-cluster environment names a cluster.
var errNoCluster = errors.New("no cluster configured")

// clusterConfig loads the kubeconfig named by the flag; else the in-cluster configuration when the
// process runs in a Pod; else $KUBECONFIG or ~/.kube/config (kubectl's rules).
func clusterConfig(path string, getenv func(string) string) (*rest.Config, error) {
	if path != "" {
		return clientcmd.BuildConfigFromFlags("", path)
	}
	if getenv("KUBERNETES_SERVICE_HOST") != "" && getenv("KUBERNETES_SERVICE_PORT") != "" {
		return rest.InClusterConfig()
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if clientcmd.IsEmptyConfig(err) {
		return nil, errNoCluster
	}
	return cfg, err
}

// helpIsNoError makes `-h` a successful answer, not a failure.
func helpIsNoError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func startManager(ctx context.Context, restConfig *rest.Config, cfg operator.Config) error {
	mgr, err := operator.NewManager(restConfig, cfg)
	if err != nil {
		return err
	}
	ctrl.Log.Info("Starting the StellarNode operator", "host", restConfig.Host)
	return mgr.Start(ctx)
}
