package admission_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stellar-operator/stellar-operator/internal/admission"
	"github.com/stellar-operator/stellar-operator/internal/admission/admissiontest"
	"github.com/stellar-operator/stellar-operator/internal/controlplane"
)

// apiserver is a client of the real kube-apiserver this package's agreement test compares with;
// nil when the binaries are not built (the pure tests still run).
var apiserver client.Client

func TestMain(m *testing.M) {
	cp, err := controlplane.Start(controlplane.Options{})
	switch {
	case errors.Is(err, controlplane.ErrNoBinaries) && os.Getenv("CI") != "true":
		fmt.Fprintln(os.Stderr, "SKIP the apiserver agreement test:", err)
		os.Exit(m.Run())
	case err != nil:
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "Started a real kube-apiserver at %s\n", cp.Config.Host)
	apiserver, err = client.New(cp.Config, client.Options{})
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
	} else {
		code = m.Run()
	}
	if err := cp.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
	}
	os.Exit(code)
}

// What the apiserver answers a create of the admission suite's invalid specs — and of typos,
// examples and edge cases — is what the offline admission answers: the same verdict, and for a
// refusal the same message, field by field (kubectl apply validates fields strictly).
func TestOfflineAdmissionGivesTheAPIServersAnswer(t *testing.T) {
	if apiserver == nil {
		t.Skip("no kube-apiserver binaries: run `make k8s-binaries` and set KUBEBUILDER_ASSETS")
	}
	ctx := context.Background()
	const ns = "agreement"
	if err := apiserver.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	cases := admissiontest.InvalidStellarNodes()
	for _, extra := range []admissiontest.Case{
		{Name: "a valid Horizon", Doc: admissiontest.ValidHorizon},
		{Name: "a valid BGP Horizon", Doc: admissiontest.ValidBGP},
		{Name: "a typo in loadBalancerIP", Doc: strings.Replace(admissiontest.ValidBGP, "loadBalancerIP:", "loadBalancerIp:", 1)},
		{Name: "two unknown fields", Doc: strings.Replace(admissiontest.ValidBGP, "asn: 64513", "asn: 64513\n          holdtime: 3\n          pasword: x", 1)},
		{Name: "a string where an integer belongs", Doc: strings.Replace(admissiontest.ValidBGP, "localASN: 64512", `localASN: "64512"`, 1)},
		{Name: "a Validator with two replicas and no homeDomain", Doc: strings.Replace(admissiontest.ValidHorizon, "nodeType: Horizon", "nodeType: Validator\n  replicas: 2", 1)},
		{Name: "a LoadBalancerPolicy", Doc: "apiVersion: stellar.org/v1alpha1\nkind: LoadBalancerPolicy\nmetadata: {name: p}\nspec: {}\n"},
	} {
		cases = append(cases, extra)
	}
	a := newAdmitter(t)
	for i, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			docs, err := admission.DecodeManifest([]byte(tc.Doc))
			if err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{Object: docs[0].Object}
			// A fresh name per case, when the case is not about the name.
			if u.GetName() == "invalid" || u.GetName() == "p" {
				u.SetName(fmt.Sprintf("case-%d", i))
			}
			if a.Handles(u.GroupVersionKind().GroupKind()) && u.GetKind() == "StellarNode" {
				u.SetNamespace(ns)
			}
			offline, err := a.Admit(ctx, u.Object)
			if err != nil {
				t.Fatal(err)
			}
			online := apiserver.Create(ctx, u.DeepCopy(), client.FieldValidation(metav1.FieldValidationStrict))
			want := offlineAnswer(u, offline)
			t.Logf("both answered: %s", want)
			if errorString(online) != want {
				t.Fatalf("the apiserver answered\n  %s\noffline admission answered\n  %s", errorString(online), want)
			}
			if online != nil {
				if !apierrors.IsInvalid(online) && !apierrors.IsBadRequest(online) {
					t.Fatalf("want Invalid or BadRequest, got %v", online)
				}
				return
			}
			// Admitted: the apiserver stored what offline admission made of it (defaults included).
			stored := &unstructured.Unstructured{}
			stored.SetGroupVersionKind(u.GroupVersionKind())
			if err := apiserver.Get(ctx, client.ObjectKeyFromObject(u), stored); err != nil {
				t.Fatal(err)
			}
			if got, want := fmt.Sprint(stored.Object["spec"]), fmt.Sprint(offline.Object.Object["spec"]); got != want {
				t.Fatalf("the apiserver stored spec\n  %s\noffline admission made\n  %s", got, want)
			}
		})
	}
}

// offlineAnswer is the error message the apiserver sends for what offline admission found.
func offlineAnswer(u *unstructured.Unstructured, r admission.Result) string {
	gvk := u.GroupVersionKind()
	if len(r.UnknownFields) > 0 {
		unknown := make([]string, len(r.UnknownFields))
		for i, f := range r.UnknownFields {
			unknown[i] = fmt.Sprintf("unknown field %q", f)
		}
		sort.Strings(unknown)
		return fmt.Sprintf("%s in version %q cannot be handled as a %s: strict decoding error: %s", gvk.Kind, gvk.Version, gvk.Kind, strings.Join(unknown, ", "))
	}
	if len(r.Errors) > 0 {
		return apierrors.NewInvalid(gvk.GroupKind(), u.GetName(), r.Errors).Error()
	}
	return "<nil>"
}

func errorString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
