package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/controlplane"
	"github.com/stellar-operator/stellar-operator/internal/operator"
)

// cluster is one embedded control plane prepared as a user's cluster would be: the operator's
// CRDs and RBAC, MetalLB's CRDs and namespace.
type cluster struct {
	cp *controlplane.ControlPlane
	// admin is the harness's own client (creates the fleet, reads progress).
	admin     client.Client
	adminREST rest.Interface
	// operatorConfig authenticates as the operator's ServiceAccount, under the shipped RBAC.
	operatorConfig *rest.Config
	// kubeconfig is a file holding operatorConfig, for the operator process.
	kubeconfig string
	scheme     *runtime.Scheme
}

// unthrottled removes client-go's default client-side limit (5 requests/s) from the harness's
// own clients, which would otherwise measure themselves.
func unthrottled(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0
	return cfg
}

func startCluster(ctx context.Context, dir string, metallbCRDs []*apiextensionsv1.CustomResourceDefinition, metallbNamespace string) (*cluster, error) {
	cp, err := controlplane.Start(controlplane.Options{ExtraCRDs: metallbCRDs})
	if err != nil {
		return nil, err
	}
	c := &cluster{cp: cp}
	if err := c.prepare(ctx, dir, metallbNamespace); err != nil {
		return nil, errors.Join(err, c.stop())
	}
	return c, nil
}

func (c *cluster) prepare(ctx context.Context, dir, metallbNamespace string) error {
	var err error
	if c.scheme, err = operator.NewScheme(); err != nil {
		return err
	}
	adminConfig := unthrottled(c.cp.Config)
	if c.admin, err = client.New(adminConfig, client.Options{Scheme: c.scheme}); err != nil {
		return err
	}
	clientset, err := kubernetes.NewForConfig(adminConfig)
	if err != nil {
		return err
	}
	c.adminREST = clientset.RESTClient()
	// MetalLB's namespace, as its Helm chart makes it.
	if err := c.ensureNamespace(ctx, metallbNamespace); err != nil {
		return err
	}
	if c.operatorConfig, err = c.cp.OperatorConfig(ctx); err != nil {
		return err
	}
	c.kubeconfig = filepath.Join(dir, "operator.kubeconfig")
	return writeKubeconfig(c.kubeconfig, c.operatorConfig)
}

// writeKubeconfig writes cfg (a bearer token and the cluster's CA) as a kubeconfig file.
func writeKubeconfig(path string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["bench"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["stellar-operator"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["bench"] = &clientcmdapi.Context{Cluster: "bench", AuthInfo: "stellar-operator"}
	kc.CurrentContext = "bench"
	return clientcmd.WriteToFile(*kc, path)
}

func (c *cluster) stop() error {
	if c.cp == nil {
		return nil
	}
	err := c.cp.Stop()
	c.cp = nil
	return err
}

func (c *cluster) ensureNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.admin.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// createFleet creates the fleet's namespaces and nodes (concurrently: this is setup, not measured)
// and returns the nodes as the apiserver stored them (with their UIDs and creation times).
func (c *cluster) createFleet(ctx context.Context, nodes []*stellarv1.StellarNode) ([]*stellarv1.StellarNode, error) {
	for _, ns := range fleetNamespaces(nodes) {
		if err := c.ensureNamespace(ctx, ns); err != nil {
			return nil, err
		}
	}
	err := forEach(ctx, len(nodes), 8, func(i int) error {
		node := nodes[i].DeepCopy()
		if err := c.admin.Create(ctx, node); err != nil {
			return fmt.Errorf("creating StellarNode %s/%s: %w", node.Namespace, node.Name, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	list := &stellarv1.StellarNodeList{}
	if err := c.admin.List(ctx, list); err != nil {
		return nil, err
	}
	byKey := map[client.ObjectKey]*stellarv1.StellarNode{}
	for i := range list.Items {
		byKey[client.ObjectKeyFromObject(&list.Items[i])] = &list.Items[i]
	}
	stored := make([]*stellarv1.StellarNode, 0, len(nodes))
	for _, n := range nodes {
		s, ok := byKey[client.ObjectKeyFromObject(n)]
		if !ok {
			return nil, fmt.Errorf("StellarNode %s/%s was created but is not listed", n.Namespace, n.Name)
		}
		stored = append(stored, s)
	}
	return stored, nil
}

// forEach runs do(0..n-1) on workers goroutines and returns the first error (the rest are
// skipped once one failed).
func forEach(ctx context.Context, n, workers int, do func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := do(i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// apiserverMetrics scrapes the apiserver's own /metrics as the admin.
func (c *cluster) apiserverMetrics(ctx context.Context) (metricFamilies, error) {
	raw, err := c.adminREST.Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the apiserver's metrics: %w", err)
	}
	return parseMetrics(bytes.NewReader(raw))
}

// writes are the apiserver's write requests so far, without its own lease renewals.
func (c *cluster) writes(ctx context.Context, skip map[string]bool) (writeCounts, error) {
	f, err := c.apiserverMetrics(ctx)
	if err != nil {
		return nil, err
	}
	return apiserverWrites(f, skip), nil
}
