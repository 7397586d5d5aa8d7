package cli

import (
	"github.com/spf13/cobra"

	"github.com/stellar-operator/stellar-operator/internal/plan"
	"github.com/stellar-operator/stellar-operator/internal/render"
)

func newPlanCommand(o *options) *cobra.Command {
	flags := &manifestFlags{}
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "plan -f FILE...",
		Short: "Explain the anycast topology and failover order of region manifests",
		Long: `Explain the anycast topology of StellarNode manifests, each taken as its own cluster (anycast
siblings announce one address from different clusters): per address, who announces it to which
router over iBGP or eBGP, with which LOCAL_PREF, communities and priority; the failover order (who
takes the traffic when the preferred region withdraws) and why; and the problems the apiserver and
the operator would report for each manifest. LOCAL_PREF orders the regions only when all of them
peer over iBGP inside one AS: it never crosses an AS boundary. The exit status is 1 when any
problem is an error.`,
		Example: `  kubectl stellar plan -f examples/multi-region/
  kubectl stellar plan -f us-east.yaml -f eu-west.yaml -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mode, manifests, err := o.loadChecked(cmd.Context(), flags, output)
			if err != nil {
				return err
			}
			var inputs []plan.Input
			failed := false
			for _, m := range manifests {
				if m.kind != "StellarNode" {
					continue
				}
				in := plan.Input{Source: m.source, Key: m.key, Node: m.node, Refused: len(m.refusals) > 0, Problems: m.refusals}
				if !in.Refused {
					// Alone in its cluster: a sibling in another file is in another cluster.
					in.Problems = render.Desired(m.node, render.EmptyClusterFacts(m.node, defaultOperatorImage(), flags.metallbNamespace, mode)).Problems
				}
				failed = failed || hasError(in.Problems)
				inputs = append(inputs, in)
			}
			p := plan.Build(inputs, mode)
			if output.value == outputTable {
				err = plan.WriteText(o.streams.Out, p)
			} else {
				err = printData(o.streams.Out, output.value, p)
			}
			if err != nil {
				return err
			}
			if failed {
				return errProblemsFound
			}
			return nil
		},
	}
	flags.add(cmd, false)
	output = addOutputFlag(cmd, outputTable, outputTable, outputYAML, outputJSON)
	return cmd
}
