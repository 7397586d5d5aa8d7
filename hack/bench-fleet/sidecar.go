package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/health"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// sidecarStatusPort is where the operator asks a pod's health sidecar for /status: the sidecar's
// in-cluster port. Every fake pod has IP 127.0.0.1, so one server on this port answers for all.
const sidecarStatusPort = stellarv1.PortHealthStatus

// ledgerClose is how often the stand-in network closes a ledger (Stellar: about every 5 s).
const ledgerClose = 5 * time.Second

// movingLedger stands in for a synced Stellar process whose ledger advances with the clock. It is
// the Checker of a real health sidecar server (internal/health), so /status is the sidecar's own.
type movingLedger struct {
	start time.Time
	first int64
}

func (m movingLedger) Check(context.Context) health.Result {
	return health.Result{
		NodeType:     health.NodeTypeHorizon,
		State:        health.StateSynced,
		Ready:        true,
		LatestLedger: m.first + int64(time.Since(m.start)/ledgerClose),
		Reason:       "synced (stand-in Stellar process of the fleet benchmark)",
	}
}

// sidecar is the real health server with the moving ledger, listening on 127.0.0.1.
type sidecar struct {
	server   *http.Server
	requests atomic.Int64
	cancel   context.CancelFunc
	done     chan struct{}
}

func startSidecar(ctx context.Context) (*sidecar, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(sidecarStatusPort)))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("the moving-ledger phase serves the sidecar's /status on %s, which is taken (--moving 0 skips the phase): %w", addr, err)
	}
	srv := health.NewServer(health.Config{NodeType: health.NodeTypeHorizon, Period: ledgerClose},
		movingLedger{start: time.Now(), first: 50_000_000}, nil, logr.Discard())
	ctx, cancel := context.WithCancel(ctx)
	s := &sidecar{cancel: cancel, done: make(chan struct{})}
	handler := srv.Handler()
	s.server = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/status" {
				s.requests.Add(1)
			}
			handler.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.Run(ctx)
	go func() {
		defer close(s.done)
		if err := s.server.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("sidecar stand-in:", err)
		}
	}()
	return s, nil
}

func (s *sidecar) stop() {
	s.cancel()
	_ = s.server.Close()
	<-s.done
}

// createPods gives each node one running pod (there is no kubelet: the harness writes its IP and
// phase through the status subresource, as a kubelet would), labelled as the pod template of the
// workload the operator wrote, so the operator finds it as it would find the real pod and asks its
// sidecar for /status.
func (c *cluster) createPods(ctx context.Context, nodes []*stellarv1.StellarNode) error {
	accounts := map[string]bool{}
	for _, node := range nodes {
		if accounts[node.Namespace] {
			continue
		}
		accounts[node.Namespace] = true
		// Pods need their ServiceAccount; no controller-manager creates "default" here.
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: node.Namespace}}
		if err := c.admin.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return forEach(ctx, len(nodes), 8, func(i int) error {
		node := nodes[i]
		template, err := c.podTemplateLabels(ctx, node)
		if err != nil {
			return err
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: node.Name + "-bench-0", Namespace: node.Namespace, Labels: template},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: render.Component(node.Spec.NodeType), Image: render.Image(node)}}},
		}
		if err := c.admin.Create(ctx, pod); err != nil {
			return fmt.Errorf("creating pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		pod.Status.Phase = corev1.PodRunning
		pod.Status.PodIP = "127.0.0.1"
		pod.Status.PodIPs = []corev1.PodIP{{IP: "127.0.0.1"}}
		if err := c.admin.Status().Update(ctx, pod); err != nil {
			return fmt.Errorf("writing the status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		return nil
	})
}

// podTemplateLabels are the pod labels of the node's workload as the operator wrote it (a Deployment
// or, for validators, a StatefulSet): a pod a ReplicaSet or StatefulSet controller would create.
func (c *cluster) podTemplateLabels(ctx context.Context, node *stellarv1.StellarNode) (map[string]string, error) {
	selector := client.MatchingLabels(render.SelectorLabels(node))
	deployments := &appsv1.DeploymentList{}
	if err := c.admin.List(ctx, deployments, client.InNamespace(node.Namespace), selector); err != nil {
		return nil, err
	}
	if len(deployments.Items) > 0 {
		return deployments.Items[0].Spec.Template.Labels, nil
	}
	sets := &appsv1.StatefulSetList{}
	if err := c.admin.List(ctx, sets, client.InNamespace(node.Namespace), selector); err != nil {
		return nil, err
	}
	if len(sets.Items) > 0 {
		return sets.Items[0].Spec.Template.Labels, nil
	}
	return nil, fmt.Errorf("no workload of %s/%s to take pod labels from", node.Namespace, node.Name)
}
