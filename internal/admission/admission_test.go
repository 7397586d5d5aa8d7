package admission_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/stellar-operator/stellar-operator/config"
	"github.com/stellar-operator/stellar-operator/internal/admission"
	"github.com/stellar-operator/stellar-operator/internal/admission/admissiontest"
)

func newAdmitter(t testing.TB) *admission.Admitter {
	t.Helper()
	crds, err := config.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	a, err := admission.New(crds)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// admitOne decodes a one-document manifest and admits it in namespace ns.
func admitOne(t *testing.T, a *admission.Admitter, doc, ns string) admission.Result {
	t.Helper()
	docs, err := admission.DecodeManifest([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 || docs[0].Object == nil {
		t.Fatalf("want one document, got %d", len(docs))
	}
	obj := docs[0].Object
	if meta, ok := obj["metadata"].(map[string]interface{}); ok && meta["namespace"] == nil {
		meta["namespace"] = ns
	}
	result, err := a.Admit(context.Background(), obj)
	if err != nil {
		t.Fatal(err)
	}
	return result
}

// Every invalid spec of the admission suite is refused offline, naming the field the apiserver names.
func TestEveryInvalidSpecOfTheAdmissionSuiteIsRefusedOfflineNamingTheField(t *testing.T) {
	a := newAdmitter(t)
	cases := admissiontest.InvalidStellarNodes()
	if len(cases) < 60 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			result := admitOne(t, a, tc.Doc, "default")
			if !result.Refused() {
				t.Fatalf("admitted offline: %s", tc.Name)
			}
			if !strings.Contains(result.Errors.ToAggregate().Error(), tc.Field) {
				t.Fatalf("no error names %s: %v", tc.Field, result.Errors)
			}
		})
	}
}

// The shipped examples are admitted, and what is admitted carries the CRD's defaults.
func TestExamplesAreAdmittedWithTheCRDsDefaults(t *testing.T) {
	a := newAdmitter(t)
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	regional, err := filepath.Glob("../../examples/multi-region/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, regional...)
	if len(files) < 8 {
		t.Fatalf("only %d examples", len(files))
	}
	admitted := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := admission.DecodeManifest(data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, doc := range docs {
			u := doc.Object
			if u == nil {
				continue
			}
			gvk := schema.FromAPIVersionAndKind(u["apiVersion"].(string), u["kind"].(string))
			if !a.Handles(gvk.GroupKind()) {
				continue
			}
			meta := u["metadata"].(map[string]interface{})
			if meta["namespace"] == nil {
				meta["namespace"] = "default"
			}
			result, err := a.Admit(context.Background(), u)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if result.Refused() {
				t.Errorf("%s document %d refused: unknown %v, errors %v", file, doc.Index, result.UnknownFields, result.Errors)
				continue
			}
			admitted++
			if got := result.Object.Object["spec"].(map[string]interface{})["replicas"]; got != int64(1) {
				t.Errorf("%s: spec.replicas after defaulting is %v, want the CRD's default 1", file, got)
			}
		}
	}
	if admitted < 8 {
		t.Fatalf("only %d StellarNodes admitted", admitted)
	}
}

// A typo is an unknown field, named with its path, as `kubectl apply` (strict field validation)
// refuses it; the object is still checked against the schema as if the field were absent.
func TestATypoIsAnUnknownFieldNamedByItsPath(t *testing.T) {
	a := newAdmitter(t)
	doc := strings.Replace(admissiontest.ValidBGP, "loadBalancerIP:", "loadBalancerIp:", 1)
	result := admitOne(t, a, doc, "default")
	if len(result.UnknownFields) != 1 || result.UnknownFields[0] != "spec.loadBalancer.loadBalancerIp" {
		t.Fatalf("unknown fields %v, want [spec.loadBalancer.loadBalancerIp]", result.UnknownFields)
	}
	// Without loadBalancerIP the load balancer names neither address nor pool: CEL says so.
	if !strings.Contains(result.Errors.ToAggregate().Error(), "loadBalancer needs loadBalancerIP or addressPool") {
		t.Fatalf("errors %v", result.Errors)
	}
}

func TestUnknownFieldsInMetadataAndListsAreNamed(t *testing.T) {
	a := newAdmitter(t)
	doc := strings.Replace(admissiontest.ValidBGP, "name: invalid", "name: invalid\n  labelz: {a: b}", 1)
	doc = strings.Replace(doc, "asn: 64513", "asn: 64513\n          holdtime: 30", 1)
	result := admitOne(t, a, doc, "default")
	want := []string{"metadata.labelz", "spec.loadBalancer.bgp.peers[0].holdtime"}
	if strings.Join(result.UnknownFields, ",") != strings.Join(want, ",") {
		t.Fatalf("unknown fields %v, want %v", result.UnknownFields, want)
	}
}

func TestADuplicateKeyFailsTheManifestNamingTheDocument(t *testing.T) {
	_, err := admission.DecodeManifest([]byte("a: 1\n---\nkind: StellarNode\nkind: StellarNode\n"))
	if err == nil || !strings.Contains(err.Error(), "document 2") || !strings.Contains(err.Error(), `"kind"`) {
		t.Fatalf("want an error naming document 2 and the key, got %v", err)
	}
}

func TestAnUnservedVersionIsAnErrorNamingTheServedOnes(t *testing.T) {
	a := newAdmitter(t)
	doc := strings.Replace(admissiontest.ValidHorizon, "stellar.org/v1alpha1", "stellar.org/v1", 1)
	docs, err := admission.DecodeManifest([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Admit(context.Background(), docs[0].Object)
	if err == nil || !strings.Contains(err.Error(), "stellar.org/v1alpha1") {
		t.Fatalf("want an error naming stellar.org/v1alpha1, got %v", err)
	}
}

// Admit leaves the caller's object as it was: the CLI reports on what the user wrote.
func TestAdmitDoesNotChangeItsInput(t *testing.T) {
	a := newAdmitter(t)
	docs, err := admission.DecodeManifest([]byte(strings.Replace(admissiontest.ValidBGP, "name: invalid", "name: invalid\n  namespace: default", 1) + "  typo: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Admit(context.Background(), docs[0].Object); err != nil {
		t.Fatal(err)
	}
	spec := docs[0].Object["spec"].(map[string]interface{})
	if _, ok := spec["typo"]; !ok {
		t.Fatal("Admit pruned the caller's object")
	}
	if _, ok := spec["replicas"]; ok {
		t.Fatal("Admit defaulted the caller's object")
	}
}
