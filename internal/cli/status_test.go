package cli_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/cli"
	"github.com/stellar-operator/stellar-operator/internal/controlplane"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// cluster is the real kube-apiserver the status tests read from; its kubeconfig has a context
// per reader. Nil when the binaries are not built (the offline tests still run).
var cluster *statusCluster

type statusCluster struct {
	kubeconfig string
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	cp, err := controlplane.Start(controlplane.Options{})
	switch {
	case errors.Is(err, controlplane.ErrNoBinaries) && os.Getenv("CI") != "true":
		fmt.Fprintln(os.Stderr, "SKIP the status tests against a real apiserver:", err)
		return m.Run()
	case err != nil:
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "Started a real kube-apiserver at %s\n", cp.Config.Host)
	defer func() {
		if err := cp.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		}
	}()
	dir, err := os.MkdirTemp("", "kubectl-stellar-status")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if cluster, err = setUpStatusCluster(context.Background(), cp.Config, dir); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: setting up the status fixtures:", err)
		return 1
	}
	return m.Run()
}

// checkedAt is the fixtures' clock: every time in their status is this one.
var checkedAt = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

// setUpStatusCluster creates StellarNodes and writes their status as the operator would (the
// operator does not run here: the test is the status's only writer), and readers with the RBAC a
// user would have: get and list on stellarnodes in one namespace, or in all.
func setUpStatusCluster(ctx context.Context, cfg *rest.Config, dir string) (*statusCluster, error) {
	admin, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, err
	}
	if err := stellarv1.AddToScheme(admin.Scheme()); err != nil {
		return nil, err
	}
	for _, ns := range []string{"stellar-nodes", "team-b"} {
		if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return nil, err
		}
	}
	type fixture struct {
		example, namespace string
		status             func(*stellarv1.StellarNode)
	}
	for _, f := range []fixture{
		{"multi-region/horizon-us-east.yaml", "stellar-nodes", announcing},
		{"horizon-anycast.yaml", "stellar-nodes", catchingUp},
		{"validator-testnet.yaml", "stellar-nodes", nil}, // the operator has not seen it yet
		{"soroban-rpc-testnet.yaml", "team-b", synced},
	} {
		node := &stellarv1.StellarNode{}
		data, err := os.ReadFile(filepath.Join("..", "..", "examples", f.example))
		if err != nil {
			return nil, err
		}
		if err := yaml.UnmarshalStrict(firstDocument(data), node); err != nil {
			return nil, fmt.Errorf("%s: %w", f.example, err)
		}
		node.Namespace = f.namespace
		if err := admin.Create(ctx, node); err != nil {
			return nil, fmt.Errorf("creating %s: %w", f.example, err)
		}
		if f.status == nil {
			continue
		}
		f.status(node)
		if err := admin.Status().Update(ctx, node); err != nil {
			return nil, fmt.Errorf("writing the status of %s: %w", f.example, err)
		}
	}
	viewer, err := readerToken(ctx, admin, "stellar-nodes", "viewer", false)
	if err != nil {
		return nil, err
	}
	clusterViewer, err := readerToken(ctx, admin, "stellar-nodes", "cluster-viewer", true)
	if err != nil {
		return nil, err
	}
	kubeconfig := clientcmdapi.NewConfig()
	kubeconfig.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	// The current context points nowhere: a command that ignored --context would fail.
	kubeconfig.Clusters["nowhere"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
	kubeconfig.AuthInfos["viewer"] = &clientcmdapi.AuthInfo{Token: viewer}
	kubeconfig.AuthInfos["cluster-viewer"] = &clientcmdapi.AuthInfo{Token: clusterViewer}
	kubeconfig.Contexts["viewer"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "viewer", Namespace: "stellar-nodes"}
	kubeconfig.Contexts["cluster-viewer"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "cluster-viewer", Namespace: "stellar-nodes"}
	kubeconfig.Contexts["nowhere"] = &clientcmdapi.Context{Cluster: "nowhere", AuthInfo: "viewer"}
	kubeconfig.CurrentContext = "nowhere"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kubeconfig, path); err != nil {
		return nil, err
	}
	return &statusCluster{kubeconfig: path}, nil
}

func firstDocument(data []byte) []byte {
	doc, _, _ := strings.Cut(string(data), "\n---")
	return []byte(doc)
}

// readerToken makes a ServiceAccount that may only get and list StellarNodes (in its namespace,
// or everywhere) and returns a token for it.
func readerToken(ctx context.Context, admin client.Client, namespace, name string, everywhere bool) (string, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	rules := []rbacv1.PolicyRule{{APIGroups: []string{stellarv1.GroupVersion.Group}, Resources: []string{"stellarnodes"}, Verbs: []string{"get", "list"}}}
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}}
	objects := []client.Object{sa}
	if everywhere {
		objects = append(objects,
			&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules},
			&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subject,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}})
	} else {
		objects = append(objects,
			&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Rules: rules},
			&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Subjects: subject,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}})
	}
	for _, obj := range objects {
		if err := admin.Create(ctx, obj); err != nil {
			return "", err
		}
	}
	request := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}
	if err := admin.SubResource("token").Create(ctx, sa, request); err != nil {
		return "", err
	}
	return request.Status.Token, nil
}

// intended is the status the operator derives from the spec (render's), as it writes it.
func intended(node *stellarv1.StellarNode) {
	facts := render.EmptyClusterFacts(node, "stellar-operator:test", "metallb-system", render.BGPModeFRRK8s)
	st := render.Desired(node, facts).Status
	node.Status.Image, node.Status.Selector = st.Image, st.Selector
	node.Status.LoadBalancer, node.Status.Discovery = st.LoadBalancer, st.Discovery
	node.Status.ObservedGeneration = node.Generation
	node.Status.Replicas = node.EffectiveReplicas()
}

func condition(t string, status metav1.ConditionStatus, reason, message string) metav1.Condition {
	return metav1.Condition{Type: t, Status: status, Reason: reason, Message: message, LastTransitionTime: checkedAt, ObservedGeneration: 1}
}

// announcing: synced, the address assigned, two Kubernetes nodes announcing to the router.
func announcing(node *stellarv1.StellarNode) {
	intended(node)
	node.Status.ReadyReplicas = 1
	node.Status.ExternalIP = "192.0.2.100"
	node.Status.Sync = &stellarv1.SyncStatus{State: stellarv1.SyncSynced, LatestLedger: 52000123, CheckedAt: &checkedAt}
	for i := range node.Status.LoadBalancer.Peers {
		node.Status.LoadBalancer.Peers[i].SessionState = "Announcing"
		node.Status.LoadBalancer.Peers[i].Nodes = []string{"worker-1", "worker-2"}
	}
	node.Status.Conditions = []metav1.Condition{
		condition(stellarv1.ConditionReady, metav1.ConditionTrue, stellarv1.ReasonPodsReady, "1/1 pods ready"),
		condition(stellarv1.ConditionProgressing, metav1.ConditionFalse, stellarv1.ReasonReconciled, ""),
		condition(stellarv1.ConditionDegraded, metav1.ConditionFalse, stellarv1.ReasonAsExpected, ""),
		condition(stellarv1.ConditionMetalLBSupported, metav1.ConditionTrue, stellarv1.ReasonAsExpected, ""),
		condition(stellarv1.ConditionLoadBalancerReady, metav1.ConditionTrue, stellarv1.ReasonAddressAssigned, "192.0.2.100 assigned from IPAddressPool stellar-192-0-2-100"),
	}
}

// catchingUp: not synced, so not ready and announced by no node; a warning about eBGP.
func catchingUp(node *stellarv1.StellarNode) {
	intended(node)
	node.Status.ExternalIP = "192.0.2.100"
	node.Status.Sync = &stellarv1.SyncStatus{State: stellarv1.SyncCatchingUp, LatestLedger: 51999000,
		Reason: "ingestion trails core by 1123 ledgers (max 10)", CheckedAt: &checkedAt}
	for i := range node.Status.LoadBalancer.Peers {
		node.Status.LoadBalancer.Peers[i].SessionState = "Established"
	}
	node.Status.Conditions = []metav1.Condition{
		condition(stellarv1.ConditionReady, metav1.ConditionFalse, stellarv1.ReasonPodsNotReady, "0/1 pods ready"),
		condition(stellarv1.ConditionProgressing, metav1.ConditionTrue, stellarv1.ReasonRollingOut, "0/1 pods ready"),
		condition(stellarv1.ConditionDegraded, metav1.ConditionTrue, stellarv1.ReasonLocalPrefOverEBGP,
			"spec.loadBalancer.bgp.advertisement.localPref: LOCAL_PREF is not sent to eBGP peers (192.168.1.1: asn differs from localASN 64512)"),
		condition(stellarv1.ConditionMetalLBSupported, metav1.ConditionTrue, stellarv1.ReasonAsExpected, ""),
		condition(stellarv1.ConditionLoadBalancerReady, metav1.ConditionTrue, stellarv1.ReasonAddressAssigned, "192.0.2.100 assigned from IPAddressPool stellar-anycast-pool"),
	}
}

// synced: a node without a load balancer, in sync.
func synced(node *stellarv1.StellarNode) {
	intended(node)
	node.Status.ReadyReplicas = 1
	node.Status.Sync = &stellarv1.SyncStatus{State: stellarv1.SyncSynced, LatestLedger: 1204711, CheckedAt: &checkedAt}
	node.Status.Conditions = []metav1.Condition{
		condition(stellarv1.ConditionReady, metav1.ConditionTrue, stellarv1.ReasonPodsReady, "1/1 pods ready"),
		condition(stellarv1.ConditionProgressing, metav1.ConditionFalse, stellarv1.ReasonReconciled, ""),
		condition(stellarv1.ConditionDegraded, metav1.ConditionFalse, stellarv1.ReasonAsExpected, ""),
	}
}

// runAgainst runs `kubectl stellar args...` with the status cluster's kubeconfig as $KUBECONFIG.
func runAgainst(t *testing.T, args ...string) result {
	t.Helper()
	if cluster == nil {
		t.Skip("no kube-apiserver binaries: run `make k8s-binaries` and set KUBEBUILDER_ASSETS")
	}
	return runWithKubeconfig(t, cluster.kubeconfig, "", args...)
}

// Status, read as a user who may only get and list StellarNodes, matches its golden files.
func TestStatusMatchesItsGoldenFiles(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	cases := []struct {
		golden string
		args   []string
	}{
		{"status-namespace.txt", []string{"status", "--context", "viewer"}},
		{"status-one.txt", []string{"status", "horizon-us-east", "--context", "viewer"}},
		{"status-one.yaml", []string{"status", "horizon-us-east", "--context", "viewer", "-o", "yaml"}},
		{"status-not-reconciled.txt", []string{"status", "validator-testnet", "--context", "viewer"}},
		{"status-all-namespaces.txt", []string{"status", "-A", "--context", "cluster-viewer"}},
		{"status-all-namespaces.json", []string{"status", "--all-namespaces", "--context", "cluster-viewer", "-o", "json"}},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			r := runAgainst(t, tc.args...)
			if r.code != 0 {
				t.Fatalf("exit status %d: %s", r.code, r.stderr)
			}
			compareGolden(t, tc.golden, r.transcript(tc.args))
		})
	}
}

func TestStatusExplainsWhatItCannotRead(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"a node that does not exist", []string{"status", "nope", "--context", "viewer"}, []string{`StellarNode "nope" in namespace "stellar-nodes" not found`}},
		{"a namespace the user may not read", []string{"status", "-n", "team-b", "--context", "viewer"}, []string{"forbidden", "needs get and list on stellarnodes.stellar.org"}},
		{"every namespace without a ClusterRole", []string{"status", "-A", "--context", "viewer"}, []string{"at the cluster scope", "needs get and list"}},
		{"a cluster that does not answer", []string{"status"}, []string{"127.0.0.1:1"}},
		{"a context that does not exist", []string{"status", "--context", "mars"}, []string{`context "mars" does not exist`}},
		{"a name with -A", []string{"status", "x", "-A", "--context", "viewer"}, []string{"cannot be combined"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runAgainst(t, append(tc.args, "--request-timeout", "5s")...)
			t.Logf("stderr: %s", r.stderr)
			if r.code != cli.ExitFailed {
				t.Fatalf("exit status %d, want 2: %s%s", r.code, r.stdout, r.stderr)
			}
			for _, want := range tc.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
				}
			}
		})
	}
}

// --kubeconfig and -n work as in kubectl, and an empty namespace says so.
func TestStatusTakesKubectlsFlags(t *testing.T) {
	if cluster == nil {
		t.Skip("no kube-apiserver binaries")
	}
	r := runWithKubeconfig(t, filepath.Join(t.TempDir(), "absent"), "", "status", "--kubeconfig", cluster.kubeconfig, "--context", "cluster-viewer", "-n", "team-b")
	if r.code != 0 || !strings.Contains(r.stdout, "soroban-rpc-testnet") || strings.Contains(r.stdout, "horizon-us-east") {
		t.Fatalf("exit status %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = runAgainst(t, "status", "--context", "cluster-viewer", "-n", "default")
	if r.code != 0 || r.stdout != "" || r.stderr != "No StellarNodes found in namespace default.\n" {
		t.Fatalf("exit status %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// The shell completes node names from the cluster, with the user's own RBAC.
func TestStatusCompletesNodeNames(t *testing.T) {
	r := runAgainst(t, "__complete", "--context", "viewer", "status", "")
	for _, want := range []string{"horizon-anycast\n", "horizon-us-east\n", "validator-testnet\n", ":4\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("completion lacks %q:\n%s", want, r.stdout)
		}
	}
}
