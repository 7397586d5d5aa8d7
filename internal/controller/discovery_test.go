package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/health"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// The spec's globalDiscovery and externalDns blocks, and the health chain: the sidecar serves
// healthCheckPort, the main container's readiness uses it, and its verdict reaches status.
func TestGlobalDiscoveryAndTheHealthSidecarAreWiredAndSyncReachesStatus(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	t.Cleanup(func() { deleteAllNodes(t, ns) })

	// A stand-in for the pod's health sidecar's in-cluster port, on a loopback address of its own
	// (the Pod object below has it as its IP): 127.x.y.z:9101, as a pod's IP would be.
	var synced atomic.Bool
	synced.Store(true)
	podIP := fmt.Sprintf("127.%d.%d.%d", 1+mrand.IntN(250), 1+mrand.IntN(250), 1+mrand.IntN(250))
	listener, err := net.Listen("tcp", net.JoinHostPort(podIP, strconv.Itoa(stellarv1.PortHealthStatus)))
	if err != nil {
		t.Fatal(err)
	}
	sidecar := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status" {
			http.NotFound(w, r)
			return
		}
		res := health.Result{NodeType: "Horizon", State: health.StateSynced, Ready: true, LatestLedger: 3730795, Reason: "synced", CheckedAt: time.Now()}
		if !synced.Load() {
			res = health.Result{NodeType: "Horizon", State: health.StateCatchingUp, LatestLedger: 3730700, Reason: "ingestion lags 95 ledgers behind core", CheckedAt: time.Now()}
		}
		_ = json.NewEncoder(w).Encode(res)
	}))
	sidecar.Listener = listener
	sidecar.Start()
	defer sidecar.Close()
	const port = stellarv1.DefaultHealthCheckPort

	node := anycastNode(t, "horizon-us-east", "192.0.2.210")
	node.Spec.LoadBalancer.LoadBalancerIP = "192.0.2.170"
	node.Spec.GlobalDiscovery = &stellarv1.GlobalDiscoverySpec{
		Enabled: ptr.To(true), Region: "us-east", Zone: "us-east-1a", Priority: ptr.To[int32](100), TopologyAwareHints: true,
		ExternalDNS: &stellarv1.ExternalDNSSpec{Hostname: "horizon.stellar.example.com", TTL: ptr.To[int64](60), Provider: "route53",
			Annotations: map[string]string{"external-dns.alpha.kubernetes.io/aws-weight": "100"}},
	}
	create(t, ns, node)

	dep := waitFor(t, ns, node.Name, &appsv1.Deployment{})
	pod := dep.Spec.Template
	if pod.Labels["stellar.org/region"] != "us-east" || pod.Labels["stellar.org/zone"] != "us-east-1a" {
		t.Errorf("pod labels = %v", pod.Labels)
	}
	containers := pod.Spec.Containers
	if len(containers) != 2 || containers[1].Name != "health" || containers[1].Image != testOperatorImage {
		t.Fatalf("no health sidecar: %+v", containers)
	}
	if err := containsAll(strings.Join(containers[1].Args, " "), "health", "--node-type=Horizon", "--target=http://127.0.0.1:8000",
		fmt.Sprintf("--listen=:%d", port), "--network-passphrase=Public Global Stellar Network ; September 2015"); err != nil {
		t.Error(err)
	}
	probe := containers[0].ReadinessProbe
	if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != "/readyz" || probe.HTTPGet.Port.String() != "health" || containers[1].Ports[0].ContainerPort != int32(port) {
		t.Errorf("readiness does not follow the sidecar: %+v", probe)
	}

	lb := waitFor(t, ns, node.Name+"-lb", &corev1.Service{})
	for k, v := range map[string]string{
		"external-dns.alpha.kubernetes.io/hostname": "horizon.stellar.example.com", "external-dns.alpha.kubernetes.io/ttl": "60",
		"external-dns.alpha.kubernetes.io/set-identifier": "us-east", "external-dns.alpha.kubernetes.io/aws-weight": "100",
		"stellar.org/priority": "100",
	} {
		if lb.Annotations[k] != v {
			t.Errorf("LB annotation %s = %q, want %q", k, lb.Annotations[k], v)
		}
	}
	if lb.Labels["stellar.org/region"] != "us-east" {
		t.Errorf("LB labels = %v", lb.Labels)
	}
	// The apiserver is 1.37: the GA field, not the deprecated annotation.
	if lb.Spec.TrafficDistribution == nil || *lb.Spec.TrafficDistribution != corev1.ServiceTrafficDistributionPreferSameZone {
		t.Errorf("trafficDistribution = %v", lb.Spec.TrafficDistribution)
	}
	if p := lb.Spec.Ports[len(lb.Spec.Ports)-1]; p.Name != "health" || p.Port != int32(port) {
		t.Errorf("the LB Service does not expose the health port: %+v", lb.Spec.Ports)
	}
	for _, p := range lb.Spec.Ports {
		if p.Port == stellarv1.PortHealthStatus || p.TargetPort.String() == render.PortNameHealthStatus {
			t.Errorf("the LB Service exposes the sidecar's status port: %+v", p)
		}
	}

	// A pod of the node (no kubelet: the test writes its IP), whose sidecar is the fake above.
	if err := env.k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: node.Name + "-0", Namespace: ns, Labels: pod.Labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "horizon", Image: "stellar/stellar-horizon:21.0.0"}}}}
	if err := env.k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.Status.PodIP, p.Status.Phase = podIP, corev1.PodRunning
	if err := env.k8s.Status().Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	nudge(t, ns, node.Name)
	waitForSync(t, ns, node.Name, stellarv1.SyncSynced, 3730795)
	got := &stellarv1.StellarNode{}
	if err := get(ctx, ns, node.Name, got); err != nil {
		t.Fatal(err)
	}
	if d := got.Status.Discovery; d == nil || d.Region != "us-east" || d.Zone != "us-east-1a" || d.Priority != 100 || d.DNSName != "horizon.stellar.example.com" {
		t.Errorf("status.discovery = %+v", got.Status.Discovery)
	}

	synced.Store(false)
	nudge(t, ns, node.Name)
	waitForSync(t, ns, node.Name, stellarv1.SyncCatchingUp, 3730700)
}

func waitForSync(t *testing.T, ns, name string, state stellarv1.SyncState, ledger int64) {
	t.Helper()
	eventually(t, 20*time.Second, "status.sync "+string(state), func() error {
		n := &stellarv1.StellarNode{}
		if err := get(context.Background(), ns, name, n); err != nil {
			return err
		}
		if s := n.Status.Sync; s == nil || s.State != state || s.LatestLedger != ledger || s.Reason == "" {
			return fmt.Errorf("status.sync = %+v", n.Status.Sync)
		}
		return nil
	})
}
