package controller_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/controller"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

// An operator upgrade (a new image for the health sidecar) changes no pod template of the nodes it
// finds running: anycast siblings are not all restarted by it at once.
func TestAnOperatorUpgradeAloneRestartsNoPod(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	t.Cleanup(func() { deleteAllNodes(t, ns) })
	var names []string
	for i, region := range []string{"us-east", "eu-west"} {
		n := anycastNode(t, "horizon-"+region, "192.0.2.240")
		n.Spec.LoadBalancer.LoadBalancerIP = fmt.Sprintf("192.0.2.%d", 190+i)
		names = append(names, create(t, ns, n).Name)
	}
	templates := map[string]string{}
	for _, name := range names {
		d := waitFor(t, ns, name, &appsv1.Deployment{})
		templates[name] = d.Spec.Template.Annotations[render.AnnotationTemplateHash]
		if img := containerImage(d.Spec.Template.Spec.Containers, render.ContainerHealth); img != testOperatorImage {
			t.Fatalf("%s runs sidecar %s", name, img)
		}
	}
	waitQuiet(t)

	// The upgraded operator: same cluster, same cache, a new image of its own.
	options := env.reconciler.Options
	options.OperatorImage = "example.org/stellar-operator:next"
	upgraded := &controller.Reconciler{Client: env.reconciler.Client, APIReader: env.reconciler.APIReader,
		Scheme: env.reconciler.Scheme, Recorder: env.reconciler.Recorder, Options: options}
	upgraded.WatchMetalLB(true)
	before := env.reconcilerWrites.Load()
	for _, name := range names {
		if _, err := upgraded.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	if writes := env.reconcilerWrites.Load() - before; writes != 0 {
		t.Fatalf("the upgraded operator wrote %d times to nodes whose spec did not change", writes)
	}
	for _, name := range names {
		d := &appsv1.Deployment{}
		if err := get(ctx, ns, name, d); err != nil {
			t.Fatal(err)
		}
		if img := containerImage(d.Spec.Template.Spec.Containers, render.ContainerHealth); img != testOperatorImage ||
			d.Spec.Template.Annotations[render.AnnotationTemplateHash] != templates[name] {
			t.Errorf("%s's pods would restart: sidecar %s", name, img)
		}
	}
}

// A configuration change (here a validator's quality, which is in its core configuration)
// restarts its pods, and an Event says why.
func TestAConfigurationChangeRollsOutWithAnEvent(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	t.Cleanup(func() { deleteAllNodes(t, ns) })
	node := create(t, ns, readExample(t, "validator-testnet.yaml"))
	sts := waitFor(t, ns, node.Name, &appsv1.StatefulSet{})
	hash := sts.Spec.Template.Annotations[render.AnnotationConfigHash]
	mutate(t, node, false, func(n *stellarv1.StellarNode) { n.Spec.Validator.Quality = "MEDIUM" })
	eventually(t, 20*time.Second, "the pod template to carry the new configuration", func() error {
		if err := get(ctx, ns, node.Name, sts); err != nil {
			return err
		}
		if sts.Spec.Template.Annotations[render.AnnotationConfigHash] == hash {
			return fmt.Errorf("config hash unchanged")
		}
		return nil
	})
	eventually(t, 10*time.Second, "a RolloutStarted Event naming the configuration", func() error {
		events := &eventsv1.EventList{}
		if err := env.k8s.List(ctx, events, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.Reason == stellarv1.ReasonRolloutStarted && strings.Contains(e.Note, "configuration") {
				return nil
			}
		}
		return fmt.Errorf("no such Event among %d", len(events.Items))
	})
}

func containerImage(containers []corev1.Container, name string) string {
	for _, c := range containers {
		if c.Name == name {
			return c.Image
		}
	}
	return ""
}
