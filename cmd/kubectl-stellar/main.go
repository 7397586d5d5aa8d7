// Command kubectl-stellar shows what the operator would create for a StellarNode manifest
// (`render`) and what is wrong with it (`lint`), using the operator's own render package, so the
// CLI and the controller always agree. Install it on PATH to use it as `kubectl stellar`.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

const usage = `Usage: kubectl-stellar render|lint -f FILE [--operator-image IMAGE]

  render   print the objects the operator would create for each StellarNode in FILE
  lint     print the problems the operator would report; exit status 1 if any is an error
`

func main() {
	code, err := run(os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
	}
	os.Exit(code)
}

func run(args []string, stdout io.Writer) (int, error) {
	if len(args) == 0 || (args[0] != "render" && args[0] != "lint") {
		fmt.Fprint(stdout, usage)
		return 2, errors.New("a command is required: render or lint")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	file := fs.String("f", "", "manifest file (- for stdin)")
	image := fs.String("operator-image", "ghcr.io/stellar-operator/stellar-operator:latest", "image of the health sidecar")
	mode := fs.String("metallb-bgp-mode", string(render.BGPModeFRRK8s), "MetalLB's BGP implementation: native, frr or frr-k8s")
	metallbNamespace := fs.String("metallb-namespace", "metallb-system", "namespace MetalLB watches")
	if err := fs.Parse(args[1:]); err != nil {
		return 2, err
	}
	nodes, err := readNodes(*file)
	if err != nil {
		return 2, err
	}
	code := 0
	for _, node := range nodes {
		// Offline: what the operator would create in a cluster with an empty MetalLB.
		result := render.Desired(node, render.EmptyClusterFacts(node, *image, *metallbNamespace, render.BGPMode(*mode)))
		if args[0] == "lint" {
			for _, p := range result.Problems {
				fmt.Fprintf(stdout, "%s/%s: %s %s: %s: %s\n", node.Namespace, node.Name, p.Severity, p.Reason, p.Field, p.Message)
			}
			if validate.HasErrors(result.Problems) {
				code = 1
			}
			continue
		}
		for _, obj := range result.Objects {
			data, err := yaml.Marshal(obj)
			if err != nil {
				return 2, err
			}
			fmt.Fprintf(stdout, "---\n%s", data)
		}
	}
	return code, nil
}

func readNodes(file string) ([]*stellarv1.StellarNode, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else if file != "" {
		data, err = os.ReadFile(file)
	} else {
		return nil, errors.New("-f FILE is required")
	}
	if err != nil {
		return nil, err
	}
	var nodes []*stellarv1.StellarNode
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		node := &stellarv1.StellarNode{}
		if err := decoder.Decode(node); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
		if node.Kind != "StellarNode" {
			continue
		}
		if node.Namespace == "" {
			node.Namespace = "default"
		}
		nodes = append(nodes, node)
	}
	return nodes, nil
}
