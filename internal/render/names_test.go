package render_test

import (
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/stellar-operator/stellar-operator/internal/render"
)

// At the longest name admission allows, every derived name and label is still valid: Services are
// DNS labels, label values hold 63, and a StatefulSet's revision label adds 11 to its name.
func TestTheLongestAllowedNameDerivesValidObjects(t *testing.T) {
	for _, file := range []string{"validator-testnet.yaml", "horizon-testnet.yaml", "soroban-rpc-testnet.yaml", "horizon-anycast.yaml"} {
		t.Run(file, func(t *testing.T) {
			node := readExample(t, filepath.Join("../../examples", file))
			node.Name = "n" + strings.Repeat("x", node.MaxNameLength()-1)
			result := render.Desired(node, testFacts(node, render.BGPModeFRRK8s))
			if len(result.Objects) == 0 {
				t.Fatalf("nothing rendered: %v", result.Problems)
			}
			for _, obj := range result.Objects {
				if errs := validation.IsDNS1123Subdomain(obj.GetName()); len(errs) > 0 {
					t.Errorf("%T %s: %v", obj, obj.GetName(), errs)
				}
				if obj.GetObjectKind().GroupVersionKind().Kind == "Service" {
					if errs := validation.IsDNS1035Label(obj.GetName()); len(errs) > 0 {
						t.Errorf("Service %s: %v", obj.GetName(), errs)
					}
				}
				for k, v := range obj.GetLabels() {
					if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
						t.Errorf("%s label %s=%s: %v", obj.GetName(), k, v, errs)
					}
				}
				if sts, ok := obj.(*appsv1.StatefulSet); ok && len(sts.Name)+11 > 63 {
					t.Errorf("StatefulSet %s leaves no room for its revision label", sts.Name)
				}
			}
			node.Name += "x"
			if len(node.Name) <= node.MaxNameLength() {
				t.Fatal("the limit did not move")
			}
		})
	}
}
