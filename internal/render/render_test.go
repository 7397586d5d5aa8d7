package render_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func readExample(t *testing.T, path string) *stellarv1.StellarNode {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	node := &stellarv1.StellarNode{}
	if err := yaml.UnmarshalStrict(data, node); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if node.Namespace == "" {
		node.Namespace = "stellar"
	}
	node.UID = "00000000-0000-0000-0000-000000000001"
	return node
}

func testFacts(node *stellarv1.StellarNode, mode render.BGPMode) render.Facts {
	return render.EmptyClusterFacts(node, "stellar-operator:test", "metallb-system", mode)
}

// Every example renders without an error problem, and its rendered objects match the golden file.
func TestExamplesRenderToGoldenObjects(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			node := readExample(t, file)
			result := render.Desired(node, testFacts(node, render.BGPModeFRRK8s))
			if validate.HasErrors(result.Problems) {
				t.Fatalf("problems: %v", result.Problems)
			}
			compareGolden(t, filepath.Join("testdata", filepath.Base(file)), result.Objects)
		})
	}
}

func compareGolden(t *testing.T, golden string, objects []client.Object) {
	t.Helper()
	var out []byte
	for _, obj := range objects {
		data, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		out = append(append(out, "---\n"...), data...)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/render -update)", err)
	}
	if string(want) != string(out) {
		t.Errorf("rendered objects differ from %s; run `go test ./internal/render -update` and review the diff", golden)
	}
}
