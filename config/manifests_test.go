package config_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/stellar-operator/stellar-operator/config"
)

// Every kustomize base names files that exist, and every manifest is a Kubernetes object.
func TestKustomizeBasesAreComplete(t *testing.T) {
	for _, dir := range []string{"default", "crd", "rbac", "manager", "prometheus"} {
		data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var k struct {
			Resources []string `json:"resources"`
		}
		if err := yaml.UnmarshalStrict(data, &k); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, r := range k.Resources {
			path := filepath.Join(dir, r)
			info, err := os.Stat(path)
			if err != nil {
				t.Fatalf("%s names %s: %v", dir, r, err)
			}
			if info.IsDir() {
				continue
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
			for {
				u := &unstructured.Unstructured{}
				if err := decoder.Decode(&u.Object); err != nil {
					if errors.Is(err, io.EOF) {
						break
					}
					t.Fatalf("%s: %v", path, err)
				}
				if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
					t.Errorf("%s holds an object without kind, apiVersion or name", path)
				}
			}
		}
	}
}

func TestEmbeddedCRDsParse(t *testing.T) {
	crds, err := config.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, crd := range crds {
		kinds[crd.Spec.Names.Kind] = true
	}
	if len(crds) != 2 || !kinds["StellarNode"] || !kinds["LoadBalancerPolicy"] {
		t.Fatalf("CRD kinds = %v", kinds)
	}
}

// Every generated CRD is installed by kustomize too.
func TestKustomizeInstallsEveryCRD(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("crd", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bases, err := filepath.Glob(filepath.Join("crd", "bases", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bases {
		if !bytes.Contains(data, []byte("bases/"+filepath.Base(b))) {
			t.Errorf("config/crd/kustomization.yaml does not list %s", b)
		}
	}
}
