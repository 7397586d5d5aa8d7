package controller_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/stellar"
)

func create(t *testing.T, ns string, node *stellarv1.StellarNode) *stellarv1.StellarNode {
	t.Helper()
	node.Namespace = ns
	if err := env.k8s.Create(context.Background(), node); err != nil {
		t.Fatalf("creating %s: %v", node.Name, err)
	}
	return node
}

// A converged node re-reconciled sends no write request at all.
func assertNoWrites(t *testing.T, ns, name string) {
	t.Helper()
	waitQuiet(t)
	before := env.reconcilerWrites.Load()
	for range 3 {
		if _, err := env.reconciler.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}}); err != nil {
			t.Fatalf("reconcile: %v", err)
		}
	}
	if n := env.reconcilerWrites.Load() - before; n != 0 {
		t.Fatalf("re-reconciling a converged node sent %d write requests; want 0", n)
	}
}

func TestValidatorGetsAWorkingStatefulSetConfigAndGeneratedSeed(t *testing.T) {
	ns := newNamespace(t)
	node := create(t, ns, readExample(t, "validator-testnet.yaml"))

	sts := waitFor(t, ns, node.Name, &appsv1.StatefulSet{})
	pod := sts.Spec.Template.Spec
	if got := pod.Containers[0].Image; got != "stellar/stellar-core:27.1.0" {
		t.Errorf("image = %s", got)
	}
	if *sts.Spec.Replicas != 1 || sts.Spec.ServiceName != node.Name+"-headless" {
		t.Errorf("replicas %d serviceName %s", *sts.Spec.Replicas, sts.Spec.ServiceName)
	}
	if got := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String(); got != "100Gi" {
		t.Errorf("volume size = %s", got)
	}
	if sts.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("claims are not retained")
	}
	ports := map[string]int32{}
	for _, p := range pod.Containers[0].Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["peer"] != 11625 || ports["http"] != 11626 {
		t.Errorf("ports = %v", ports)
	}
	init := pod.InitContainers[0].Command[2]
	if err := containsAll(init, "new-db", "upgrade-db", ".db-initialized", "NODE_SEED"); err != nil {
		t.Errorf("init script: %v", err)
	}

	cm := waitFor(t, ns, node.Name+"-config", &corev1.ConfigMap{})
	cfg := cm.Data["stellar-core.cfg"]
	if err := containsAll(cfg, `NETWORK_PASSPHRASE="Test SDF Network ; September 2015"`, "NODE_IS_VALIDATOR=true",
		`NODE_HOME_DOMAIN="validator.example.com"`, "[[VALIDATORS]]", "[[HOME_DOMAINS]]",
		"GDKXE2OZMJIPOSLNA6N6F2BVCI3O777I2OOC4BV7VOYUEHYX7RTRYA7Y", "CATCHUP_RECENT=1024", "sqlite3:///var/lib/stellar/stellar.db"); err != nil {
		t.Error(err)
	}
	if strings.Contains(cfg, "NODE_SEED") {
		t.Error("the ConfigMap holds NODE_SEED")
	}

	seed := waitFor(t, ns, node.Name+"-seed", &corev1.Secret{})
	address, err := stellar.AddressFromSeed(string(seed.Data["seed"]))
	if err != nil {
		t.Fatalf("generated seed is not a seed: %v", err)
	}
	if len(seed.OwnerReferences) != 0 {
		t.Error("a retained seed Secret must not be owned by the node")
	}
	for _, svc := range []string{node.Name, node.Name + "-headless"} {
		s := waitFor(t, ns, svc, &corev1.Service{})
		if s.Spec.Ports[0].Port != 11625 {
			t.Errorf("%s port = %d", svc, s.Spec.Ports[0].Port)
		}
	}

	got := waitForCondition(t, ns, node.Name, stellarv1.ConditionReady, metav1.ConditionFalse, stellarv1.ReasonPodsNotReady)
	if got.Status.PublicKey != address {
		t.Errorf("status.publicKey = %q, want %q", got.Status.PublicKey, address)
	}
	if got.Status.Image != "stellar/stellar-core:27.1.0" {
		t.Errorf("status.image = %q", got.Status.Image)
	}
	assertNoWrites(t, ns, node.Name)

	// A pod becoming ready (the StatefulSet controller's job; envtest has none) makes the node Ready.
	mutate(t, sts, true, func(s *appsv1.StatefulSet) {
		s.Status.Replicas, s.Status.ReadyReplicas, s.Status.AvailableReplicas = 1, 1, 1
	})
	waitForCondition(t, ns, node.Name, stellarv1.ConditionReady, metav1.ConditionTrue, stellarv1.ReasonPodsReady)
	assertNoWrites(t, ns, node.Name)
}

func TestHorizonWithoutDatabaseGetsAManagedPostgres(t *testing.T) {
	ns := newNamespace(t)
	node := create(t, ns, readExample(t, "horizon-testnet.yaml"))

	dep := waitFor(t, ns, node.Name, &appsv1.Deployment{})
	c := dep.Spec.Template.Spec.Containers[0]
	if c.Image != "stellar/stellar-horizon:27.0.1" {
		t.Errorf("image = %s", c.Image)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if ref := env["DATABASE_URL"].ValueFrom; ref == nil || ref.SecretKeyRef.Name != node.Name+"-postgres" || ref.SecretKeyRef.Key != "DATABASE_URL" {
		t.Errorf("DATABASE_URL = %+v", env["DATABASE_URL"])
	}
	for name, want := range map[string]string{
		"NETWORK_PASSPHRASE": "Test SDF Network ; September 2015", "INGEST": "true", "APPLY_MIGRATIONS": "true",
		"CAPTIVE_CORE_CONFIG_PATH": "/etc/stellar-operator/captive-core.cfg", "CAPTIVE_CORE_STORAGE_PATH": "/var/lib/stellar/captive-core",
		"PORT": "8000", "HISTORY_RETENTION_COUNT": "120960",
	} {
		if env[name].Value != want {
			t.Errorf("%s = %q, want %q", name, env[name].Value, want)
		}
	}
	if !strings.Contains(env["HISTORY_ARCHIVE_URLS"].Value, "history.stellar.org/prd/core-testnet/core_testnet_001") {
		t.Errorf("HISTORY_ARCHIVE_URLS = %q", env["HISTORY_ARCHIVE_URLS"].Value)
	}
	if dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("one pod with a ReadWriteOnce claim needs Recreate, got %s", dep.Spec.Strategy.Type)
	}
	cm := waitFor(t, ns, node.Name+"-config", &corev1.ConfigMap{})
	captive := cm.Data["captive-core.cfg"]
	for _, forbidden := range []string{"NODE_SEED", "NODE_IS_VALIDATOR", "KNOWN_PEERS", "DATABASE", "BUCKET_DIR_PATH"} {
		if strings.Contains(captive, forbidden) {
			t.Errorf("captive-core config contains %s, which Horizon refuses", forbidden)
		}
	}
	if err := containsAll(captive, "HTTP_PORT=11626", "[[VALIDATORS]]"); err != nil {
		t.Error(err)
	}

	pg := waitFor(t, ns, node.Name+"-postgres", &appsv1.StatefulSet{})
	if pg.Spec.Template.Spec.Containers[0].Image != "postgres:17" {
		t.Errorf("postgres image = %s", pg.Spec.Template.Spec.Containers[0].Image)
	}
	if pg.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
		t.Error("retentionPolicy Delete must reach the database claims")
	}
	waitFor(t, ns, node.Name+"-postgres", &corev1.Service{})
	secret := waitFor(t, ns, node.Name+"-postgres", &corev1.Secret{})
	if !strings.HasPrefix(string(secret.Data["DATABASE_URL"]), "postgres://horizon:") || len(secret.Data["password"]) < 32 {
		t.Error("the managed database Secret lacks a URL or a strong password")
	}
	claim := waitFor(t, ns, node.Name+"-data", &corev1.PersistentVolumeClaim{})
	if claim.Spec.Resources.Requests.Storage().String() != "50Gi" {
		t.Errorf("data claim size = %s", claim.Spec.Resources.Requests.Storage())
	}
	waitForCondition(t, ns, node.Name, stellarv1.ConditionReady, metav1.ConditionFalse, stellarv1.ReasonPodsNotReady)
	assertNoWrites(t, ns, node.Name)
}

func TestSorobanRPCGetsAStatefulSetWithItsOwnDatabase(t *testing.T) {
	ns := newNamespace(t)
	node := create(t, ns, readExample(t, "soroban-rpc-testnet.yaml"))
	sts := waitFor(t, ns, node.Name, &appsv1.StatefulSet{})
	c := sts.Spec.Template.Spec.Containers[0]
	if c.Image != "stellar/stellar-rpc:27.1.1" {
		t.Errorf("image = %s", c.Image)
	}
	got := map[string]string{}
	for _, e := range c.Env {
		got[e.Name] = e.Value
	}
	for name, want := range map[string]string{
		"ENDPOINT": "0.0.0.0:8000", "DB_PATH": "/var/lib/stellar/soroban_rpc.sqlite", "HISTORY_RETENTION_WINDOW": "120960",
		"NETWORK_PASSPHRASE": "Test SDF Network ; September 2015", "STELLAR_CAPTIVE_CORE_HTTP_PORT": "11626",
	} {
		if got[name] != want {
			t.Errorf("%s = %q, want %q", name, got[name], want)
		}
	}
	if sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String() != "350Gi" {
		t.Error("RPC volume is not 350Gi")
	}
	svc := waitFor(t, ns, node.Name, &corev1.Service{})
	if svc.Spec.Ports[0].Port != 8000 {
		t.Errorf("service port = %d", svc.Spec.Ports[0].Port)
	}
	assertNoWrites(t, ns, node.Name)
}

// A missing Secret is the user's to fix: a condition and an Event, nothing applied, no error storm.
func TestMissingSeedSecretBecomesAConditionAndAnEvent(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	node := readExample(t, "validator-testnet.yaml")
	node.Spec.Validator.SeedSecretRef = &stellarv1.SecretKeyRef{Name: "my-seed"}
	create(t, ns, node)
	got := waitForCondition(t, ns, node.Name, stellarv1.ConditionReady, metav1.ConditionFalse, stellarv1.ReasonSecretMissing)
	if !strings.Contains(conditionMessage(got, stellarv1.ConditionDegraded), "my-seed") {
		t.Errorf("Degraded does not name the Secret: %+v", got.Status.Conditions)
	}
	if err := notFound(ctx, ns, node.Name, &appsv1.StatefulSet{}); err != nil {
		t.Errorf("the workload was applied without its seed: %v", err)
	}
	eventually(t, 10*time.Second, "a SecretMissing event", func() error {
		return hasEvent(ctx, ns, node.Name, stellarv1.ReasonSecretMissing)
	})

	// Creating the Secret heals the node at the next retry.
	seed, _, err := stellar.NewSeed()
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "my-seed", Namespace: ns}, StringData: map[string]string{"seed": seed}}
	if err := env.k8s.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	// No nudge: the operator watches Secrets' metadata and wakes the node that names it (the
	// 30 s retry would exceed waitFor's deadline).
	waitFor(t, ns, node.Name, &appsv1.StatefulSet{})
	if err := notFound(ctx, ns, node.Name+"-seed", &corev1.Secret{}); err != nil {
		t.Errorf("a seed was generated although the user named one: %v", err)
	}
}

func TestAnInvalidSeedIsReportedWithoutRevealingIt(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	const bogus = "SNOTAREALSEEDBUTLONGENOUGHTOLOOKLIKEONEXXXXXXXXXXXXXXXXXX"
	if err := env.k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bad-seed", Namespace: ns}, StringData: map[string]string{"seed": bogus}}); err != nil {
		t.Fatal(err)
	}
	node := readExample(t, "validator-testnet.yaml")
	node.Spec.Validator.SeedSecretRef = &stellarv1.SecretKeyRef{Name: "bad-seed"}
	create(t, ns, node)
	got := waitForCondition(t, ns, node.Name, stellarv1.ConditionReady, metav1.ConditionFalse, stellarv1.ReasonInvalidSeed)
	assertNoSecretIn(t, ns, got, bogus)
}

// retentionPolicy Delete removes data claims and generated Secrets with the node; Retain keeps them.
func TestDeletionHonoursRetentionPolicy(t *testing.T) {
	ctx := context.Background()
	for _, policy := range []stellarv1.RetentionPolicy{stellarv1.RetentionDelete, stellarv1.RetentionRetain} {
		t.Run(string(policy), func(t *testing.T) {
			ns := newNamespace(t)
			node := readExample(t, "horizon-testnet.yaml")
			node.Spec.Storage.RetentionPolicy = policy
			create(t, ns, node)
			waitFor(t, ns, node.Name, &appsv1.Deployment{})
			waitFor(t, ns, node.Name+"-data", &corev1.PersistentVolumeClaim{})
			waitFor(t, ns, node.Name+"-postgres", &corev1.Secret{})
			// Someone else's claim in the same namespace must survive whatever happens.
			foreign := &corev1.PersistentVolumeClaim{
				ObjectMeta: metav1.ObjectMeta{Name: "foreign", Namespace: ns, Labels: map[string]string{"app.kubernetes.io/instance": node.Name}},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
			}
			if err := env.k8s.Create(ctx, foreign); err != nil {
				t.Fatal(err)
			}
			if err := env.k8s.Delete(ctx, node); err != nil {
				t.Fatal(err)
			}
			eventually(t, 20*time.Second, "the node to go", func() error { return notFound(ctx, ns, node.Name, &stellarv1.StellarNode{}) })
			dataGone := deletedOrTerminating(ctx, ns, node.Name+"-data", &corev1.PersistentVolumeClaim{})
			secretGone := notFound(ctx, ns, node.Name+"-postgres", &corev1.Secret{}) == nil
			if wantGone := policy == stellarv1.RetentionDelete; dataGone != wantGone || secretGone != wantGone {
				t.Errorf("retentionPolicy %s: data claim gone=%v, secret gone=%v", policy, dataGone, secretGone)
			}
			if err := get(ctx, ns, "foreign", &corev1.PersistentVolumeClaim{}); err != nil {
				t.Errorf("a claim the operator did not create was touched: %v", err)
			}
		})
	}
}

// Switching Horizon to the user's database prunes the managed one, but keeps its data and password.
func TestPruneRemovesOnlyWhatTheNodeNoLongerWants(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	node := create(t, ns, readExample(t, "horizon-testnet.yaml"))
	waitFor(t, ns, node.Name+"-postgres", &appsv1.StatefulSet{})
	if err := env.k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "my-db", Namespace: ns},
		StringData: map[string]string{"DATABASE_URL": "postgres://u:p@db.example.com/horizon"}}); err != nil {
		t.Fatal(err)
	}
	mutate(t, node, false, func(n *stellarv1.StellarNode) {
		n.Spec.Horizon.DatabaseSecretRef = &stellarv1.SecretKeyRef{Name: "my-db"}
	})
	eventually(t, 20*time.Second, "the managed database to be pruned", func() error {
		if err := notFound(ctx, ns, node.Name+"-postgres", &appsv1.StatefulSet{}); err != nil {
			return err
		}
		return notFound(ctx, ns, node.Name+"-postgres", &corev1.Service{})
	})
	if err := get(ctx, ns, node.Name+"-postgres", &corev1.Secret{}); err != nil {
		t.Errorf("the managed database's password went with it: %v", err)
	}
	dep := &appsv1.Deployment{}
	eventually(t, 20*time.Second, "DATABASE_URL from my-db", func() error {
		if err := get(ctx, ns, node.Name, dep); err != nil {
			return err
		}
		for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "DATABASE_URL" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef.Name == "my-db" {
				return nil
			}
		}
		return fmt.Errorf("DATABASE_URL does not come from my-db")
	})
	assertNoWrites(t, ns, node.Name)
	assertNoSecretIn(t, ns, nil, "postgres://u:p@db.example.com/horizon")
}

// No seed or database URL in any ConfigMap, Event, status or log line.
func TestSecretsNeverLeak(t *testing.T) {
	ns := newNamespace(t)
	v := create(t, ns, readExample(t, "validator-testnet.yaml"))
	h := create(t, ns, readExample(t, "horizon-testnet.yaml"))
	seed := waitFor(t, ns, v.Name+"-seed", &corev1.Secret{})
	db := waitFor(t, ns, h.Name+"-postgres", &corev1.Secret{})
	waitFor(t, ns, v.Name, &appsv1.StatefulSet{})
	waitFor(t, ns, h.Name, &appsv1.Deployment{})
	waitForCondition(t, ns, h.Name, stellarv1.ConditionReady, metav1.ConditionFalse, stellarv1.ReasonPodsNotReady)
	for _, secret := range []string{string(seed.Data["seed"]), string(db.Data["password"]), string(db.Data["DATABASE_URL"])} {
		assertNoSecretIn(t, ns, nil, secret)
	}
}

func assertNoSecretIn(t *testing.T, ns string, node *stellarv1.StellarNode, secret string) {
	t.Helper()
	ctx := context.Background()
	var haystack strings.Builder
	cms := &corev1.ConfigMapList{}
	if err := env.k8s.List(ctx, cms, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		for _, v := range cm.Data {
			haystack.WriteString(v)
		}
	}
	events := &eventsv1.EventList{}
	if err := env.k8s.List(ctx, events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		haystack.WriteString(e.Note + e.Reason)
	}
	nodes := &stellarv1.StellarNodeList{}
	if err := env.k8s.List(ctx, nodes, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		haystack.WriteString(fmt.Sprintf("%+v", n.Status))
	}
	if node != nil {
		haystack.WriteString(fmt.Sprintf("%+v", node.Status))
	}
	haystack.WriteString(env.logs.String())
	if strings.Contains(haystack.String(), secret) {
		t.Fatalf("a secret value appears in a ConfigMap, Event, status or log line")
	}
}

func conditionMessage(node *stellarv1.StellarNode, condType string) string {
	for _, c := range node.Status.Conditions {
		if c.Type == condType {
			return c.Message
		}
	}
	return ""
}

func hasEvent(ctx context.Context, ns, name, reason string) error {
	events := &eventsv1.EventList{}
	if err := env.k8s.List(ctx, events, client.InNamespace(ns)); err != nil {
		return err
	}
	for _, e := range events.Items {
		if e.Regarding.Name == name && e.Reason == reason {
			return nil
		}
	}
	return fmt.Errorf("no %s event for %s among %d events", reason, name, len(events.Items))
}

// deletedOrTerminating: envtest runs no PVC-protection controller, so a deleted claim keeps its
// kubernetes.io/pvc-protection finalizer and only gets a deletionTimestamp.
func deletedOrTerminating(ctx context.Context, ns, name string, obj client.Object) bool {
	err := get(ctx, ns, name, obj)
	return apierrors.IsNotFound(err) || (err == nil && !obj.GetDeletionTimestamp().IsZero())
}

// The spec's failover drill scales a node to zero. The operator owns the workload's replicas, so
// the node is what gets scaled: `kubectl scale stellarnode` goes through the scale subresource.
func TestScalingTheNodeScalesItsWorkload(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	node := create(t, ns, readExample(t, "horizon-testnet.yaml"))
	waitFor(t, ns, node.Name, &appsv1.Deployment{})
	scale := &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: 0}}
	if err := env.k8s.SubResource("scale").Update(ctx, node, client.WithSubResourceBody(scale)); err != nil {
		t.Fatalf("scaling the StellarNode: %v", err)
	}
	eventually(t, 20*time.Second, "the Deployment at 0 replicas", func() error {
		d := &appsv1.Deployment{}
		if err := get(ctx, ns, node.Name, d); err != nil {
			return err
		}
		if *d.Spec.Replicas != 0 {
			return fmt.Errorf("replicas = %d", *d.Spec.Replicas)
		}
		return nil
	})
	got := waitForCondition(t, ns, node.Name, stellarv1.ConditionReady, metav1.ConditionFalse, stellarv1.ReasonScaledToZero)
	if got.Status.Selector == "" {
		t.Error("status.selector is empty: the scale subresource cannot report pods")
	}
	// A Validator can be stopped (0) but never doubled.
	v := create(t, ns, readExample(t, "validator-testnet.yaml"))
	err := env.k8s.SubResource("scale").Update(ctx, v, client.WithSubResourceBody(&autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: 2}}))
	if err == nil || !strings.Contains(err.Error(), "spec.replicas") {
		t.Fatalf("scaling a validator to 2 = %v", err)
	}
}
