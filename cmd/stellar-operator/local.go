package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/buildinfo"
	"github.com/stellar-operator/stellar-operator/internal/controlplane"
	"github.com/stellar-operator/stellar-operator/internal/operator"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// localFieldOwner applies the examples, standing in for a user's kubectl.
const localFieldOwner = "stellar-operator-local"

type localFlags struct {
	examples      string
	kubeconfigOut string
	once          bool
	settle        time.Duration
}

func runLocal(ctx context.Context, args []string, stdout io.Writer) error {
	f := &operatorFlags{}
	l := localFlags{}
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	f.bind(fs)
	fs.StringVar(&l.examples, "examples", "examples", "directory of manifests to apply once the operator runs (empty: none)")
	fs.StringVar(&l.kubeconfigOut, "kubeconfig-out", ".local/kubeconfig", "where to write the admin kubeconfig of the local cluster")
	fs.BoolVar(&l.once, "once", false, "exit after printing the summary instead of serving until interrupted")
	fs.DurationVar(&l.settle, "settle", 30*time.Second, "how long to wait for the examples to be reconciled")
	fs.SetOutput(stdout)
	if err := fs.Parse(args); err != nil {
		return helpIsNoError(err)
	}
	f.setLogger()
	return serveLocal(ctx, f, l, stdout)
}

// serveLocal is the quick start: a real control plane, the operator, the examples, a summary.
func serveLocal(ctx context.Context, f *operatorFlags, l localFlags, stdout io.Writer) error {
	if l.settle == 0 {
		l.settle = 30 * time.Second
	}
	// Nothing listens on the default ports in a local run unless asked: they may be taken.
	if f.cfg.MetricsAddr == ":8080" {
		f.cfg.MetricsAddr = "0"
	}
	if f.cfg.ProbeAddr == ":8081" {
		f.cfg.ProbeAddr = "0"
	}
	if f.cfg.Controller.OperatorImage == "" {
		f.cfg.Controller.OperatorImage = localOperatorImage
		if built := buildinfo.Get().Image; built != "" {
			f.cfg.Controller.OperatorImage = built
		}
	}
	if err := controlplane.BuildBinaries(os.Stderr); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "Starting kube-apiserver and etcd...")
	opts := controlplane.Options{}
	if crds, err := controlplane.MetalLBCRDs(); err != nil {
		fmt.Fprintf(stdout, "MetalLB's CRDs are not installed (%v): load balancers will report MetalLBNotInstalled.\n", err)
	} else {
		opts.ExtraCRDs = crds
	}
	cp, err := controlplane.Start(opts)
	if err != nil {
		return err
	}
	defer func() {
		if err := cp.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "Stopping the control plane:", err)
		}
	}()
	kubeconfig, err := cp.KubeConfig()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(l.kubeconfigOut), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(l.kubeconfigOut, kubeconfig, 0o600); err != nil {
		return err
	}
	scheme, err := operator.NewScheme()
	if err != nil {
		return err
	}
	c, err := client.New(cp.Config, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	// MetalLB's namespace, as its Helm chart would have made it.
	if err := ensureNamespace(ctx, c, f.cfg.Controller.MetalLBNamespace); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Control plane up at %s; kubeconfig written to %s\n", cp.Config.Host, l.kubeconfigOut)

	// The operator runs as the ServiceAccount of config/rbac, as it is deployed, not as the admin.
	operatorConfig, err := cp.OperatorConfig(ctx)
	if err != nil {
		return err
	}
	mgr, err := operator.NewManager(operatorConfig, f.cfg)
	if err != nil {
		return err
	}
	mgrCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()

	var nodes []client.ObjectKey
	if l.examples != "" {
		if nodes, err = applyManifests(ctx, c, l.examples, stdout); err != nil {
			return err
		}
	}
	waitReconciled(ctx, c, nodes, l.settle)
	if err := printSummary(ctx, c, nodes, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nTry: kubectl --kubeconfig %s get stellarnodes -A\n", l.kubeconfigOut)
	if l.once {
		cancel()
		return ignoreCanceled(<-done)
	}
	fmt.Fprintln(stdout, "The operator keeps running; press Ctrl-C to stop the local cluster.")
	select {
	case <-ctx.Done():
		cancel()
		return ignoreCanceled(<-done)
	case err := <-done:
		return err
	}
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// applyManifests applies every YAML document under dir (recursively), creating namespaces as
// needed, and returns the StellarNodes among them.
func applyManifests(ctx context.Context, c client.Client, dir string, stdout io.Writer) ([]client.ObjectKey, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var nodes []client.ObjectKey
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := decoder.Decode(&u.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if len(u.Object) == 0 {
				continue
			}
			if u.GetNamespace() == "" {
				u.SetNamespace("default")
			}
			if err := ensureNamespace(ctx, c, u.GetNamespace()); err != nil {
				return nil, err
			}
			if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(localFieldOwner), client.ForceOwnership); err != nil {
				return nil, fmt.Errorf("applying %s from %s: %w", u.GetName(), file, err)
			}
			fmt.Fprintf(stdout, "Applied %s %s/%s (%s)\n", u.GetKind(), u.GetNamespace(), u.GetName(), file)
			if u.GetKind() == "StellarNode" {
				nodes = append(nodes, client.ObjectKey{Namespace: u.GetNamespace(), Name: u.GetName()})
			}
		}
	}
	return nodes, nil
}

func ensureNamespace(ctx context.Context, c client.Client, name string) error {
	err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// waitReconciled waits until every node's status reflects its current generation.
func waitReconciled(ctx context.Context, c client.Client, nodes []client.ObjectKey, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		pending := 0
		for _, key := range nodes {
			n := &stellarv1.StellarNode{}
			if err := c.Get(ctx, key, n); err != nil || n.Status.ObservedGeneration != n.Generation {
				pending++
			}
		}
		if pending == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// summaryKinds are the kinds listed per node in the summary.
func summaryKinds() map[string]client.ObjectList {
	return map[string]client.ObjectList{
		"StatefulSet": &appsv1.StatefulSetList{}, "Deployment": &appsv1.DeploymentList{},
		"Service": &corev1.ServiceList{}, "ConfigMap": &corev1.ConfigMapList{},
		"Secret": &corev1.SecretList{}, "PersistentVolumeClaim": &corev1.PersistentVolumeClaimList{},
	}
}

// printSummary prints each node's state and the objects the operator made for it.
func printSummary(ctx context.Context, c client.Client, nodes []client.ObjectKey, stdout io.Writer) error {
	fmt.Fprintln(stdout, "\nStellarNodes:")
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tTYPE\tNETWORK\tIMAGE\tREADY\tREASON\tOBJECTS")
	for _, key := range nodes {
		n := &stellarv1.StellarNode{}
		if err := c.Get(ctx, key, n); err != nil {
			return err
		}
		ready := meta.FindStatusCondition(n.Status.Conditions, stellarv1.ConditionReady)
		status, reason := "Unknown", ""
		if ready != nil {
			status, reason = string(ready.Status), ready.Reason
		}
		objects, err := objectsOf(ctx, c, n)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Namespace, n.Name, n.Spec.NodeType, n.Spec.Network,
			n.Status.Image, status, reason, strings.Join(objects, ", "))
	}
	return tw.Flush()
}

func objectsOf(ctx context.Context, c client.Client, n *stellarv1.StellarNode) ([]string, error) {
	var out []string
	for kind, list := range summaryKinds() {
		if err := c.List(ctx, list, client.InNamespace(n.Namespace), client.MatchingLabels{render.LabelNode: n.Name}); err != nil {
			return nil, err
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return nil, err
		}
		for _, item := range items {
			if obj, ok := item.(client.Object); ok {
				out = append(out, kind+"/"+obj.GetName())
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
