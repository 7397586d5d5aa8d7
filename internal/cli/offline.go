package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/stellar-operator/stellar-operator/internal/render"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

func newRenderCommand(o *options) *cobra.Command {
	flags := &manifestFlags{}
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "render -f FILE",
		Short: "Print the objects the operator would create for each StellarNode",
		Long: `Print the objects the operator would create for each StellarNode of the manifests, in a cluster
where MetalLB is installed and holds nothing yet. A manifest the apiserver would refuse (an unknown
field, a schema or CEL rule) is not rendered: its errors go to stderr and the exit status is 1.`,
		Example: `  kubectl stellar render -f examples/horizon-anycast.yaml --operator-image ghcr.io/acme/stellar-operator:0.1.0
  kubectl stellar render -f examples/ -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mode, manifests, err := o.loadChecked(cmd.Context(), flags, output)
			if err != nil {
				return err
			}
			var objects []client.Object
			refused := false
			for _, m := range manifests {
				if len(m.refusals) > 0 {
					refused = true
					fmt.Fprintf(o.streams.ErrOut, "%s (%s) would be refused by the apiserver:\n", m.key, m.source)
					for _, p := range m.refusals {
						fmt.Fprintf(o.streams.ErrOut, "  %s %s: %s: %s\n", p.Severity, p.Reason, fieldOrRoot(p.Field), p.Message)
					}
					continue
				}
				if m.node == nil {
					continue
				}
				result := render.Desired(m.node, render.EmptyClusterFacts(m.node, flags.operatorImage, flags.metallbNamespace, mode))
				for _, obj := range result.Objects {
					if m.node.UID == "" {
						// The node gets its UID when created; an owner reference without one is
						// refused by the apiserver, so the printed objects stay applicable.
						obj.SetOwnerReferences(nil)
					}
					objects = append(objects, obj)
				}
			}
			if err := printObjects(o, output.value, objects); err != nil {
				return err
			}
			if refused {
				return errProblemsFound
			}
			return nil
		},
	}
	flags.add(cmd, true)
	output = addOutputFlag(cmd, outputYAML, outputYAML, outputJSON)
	return cmd
}

// printObjects prints YAML documents, or a JSON v1 List as kubectl does.
func printObjects(o *options, format string, objects []client.Object) error {
	if format == outputJSON {
		return printData(o.streams.Out, outputJSON, map[string]interface{}{"apiVersion": "v1", "kind": "List", "items": objects})
	}
	for _, obj := range objects {
		data, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(o.streams.Out, "---\n%s", data); err != nil {
			return err
		}
	}
	return nil
}

// lintFinding is one problem of one object, for -o yaml|json.
type lintFinding struct {
	Object   string            `json:"object"`
	Source   string            `json:"source"`
	Severity validate.Severity `json:"severity"`
	Reason   string            `json:"reason"`
	Field    string            `json:"field"`
	Message  string            `json:"message"`
}

func newLintCommand(o *options) *cobra.Command {
	flags := &manifestFlags{}
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "lint -f FILE",
		Short: "Print what the apiserver and the operator would object to; exit 1 on any error",
		Long: `Print, one per line, the problems of each object of the manifests: first what the apiserver
would refuse (unknown fields, the CRD's schema and CEL rules, with its field paths and messages),
then, for what it admits, the problems the operator would report (in a cluster where MetalLB is
installed and holds nothing yet). The exit status is 1 when any problem is an error.`,
		Example: `  kubectl stellar lint -f examples/horizon-anycast.yaml --metallb-bgp-mode native
  kubectl stellar lint -f examples/multi-region/ -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mode, manifests, err := o.loadChecked(cmd.Context(), flags, output)
			if err != nil {
				return err
			}
			var findings []lintFinding
			failed := false
			for _, m := range manifests {
				problems := m.refusals
				if len(problems) == 0 && m.node != nil {
					problems = render.Desired(m.node, render.EmptyClusterFacts(m.node, flags.operatorImage, flags.metallbNamespace, mode)).Problems
				}
				failed = failed || hasError(problems)
				key := m.key
				if m.kind != "StellarNode" {
					key = m.kind + "/" + m.key
				}
				for _, p := range problems {
					findings = append(findings, lintFinding{Object: key, Source: m.source, Severity: p.Severity, Reason: p.Reason, Field: p.Field, Message: p.Message})
					if output.value == outputTable {
						fmt.Fprintln(o.streams.Out, problemLine(key, p))
					}
				}
			}
			if output.value != outputTable {
				if findings == nil {
					findings = []lintFinding{}
				}
				if err := printData(o.streams.Out, output.value, map[string]interface{}{"problems": findings}); err != nil {
					return err
				}
			}
			if failed {
				return errProblemsFound
			}
			return nil
		},
	}
	flags.add(cmd, true)
	output = addOutputFlag(cmd, outputTable, outputTable, outputYAML, outputJSON)
	return cmd
}
