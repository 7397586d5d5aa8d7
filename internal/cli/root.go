// Package cli is `kubectl stellar`: offline commands that show what the operator would make of
// StellarNode manifests (render, lint, plan), judged first by the CRD's own schema and CEL rules as
// the apiserver would, and `status`, which reads StellarNodes from a cluster with kubectl's
// connection flags. Everything it decides comes from the operator's own packages (render,
// validate, the API's accessors), so the CLI and the controller always agree.
package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/stellar-operator/stellar-operator/internal/buildinfo"
)

// Exit statuses of Main.
const (
	ExitOK = 0
	// ExitProblems: the command ran and found errors (lint, plan, render of a refused manifest).
	ExitProblems = 1
	// ExitFailed: the command could not run (bad usage, unreadable file, unreachable cluster).
	ExitFailed = 2
)

// errProblemsFound ends a command that printed the errors it found.
var errProblemsFound = errors.New("errors found")

// Main runs the command line args and returns the process's exit status.
func Main(args []string, streams genericiooptions.IOStreams) int {
	root := NewRootCommand(streams)
	root.SetArgs(args)
	err := root.Execute()
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errProblemsFound):
		return ExitProblems
	default:
		fmt.Fprintf(streams.ErrOut, "Error: %v\n", err)
		if cmd, _, findErr := root.Find(args); findErr == nil && isUsageError(err) {
			fmt.Fprintf(streams.ErrOut, "See '%s -h' for help.\n", cmd.CommandPath())
		}
		return ExitFailed
	}
}

// isUsageError tells cobra's and pflag's complaints about the command line from failures.
func isUsageError(err error) bool {
	msg := err.Error()
	for _, s := range []string{"unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "unknown command", "accepts ", "requires ", "--output must be one of"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// options are what every command shares.
type options struct {
	streams genericiooptions.IOStreams
	// kube are kubectl's connection flags: --kubeconfig, --context, -n/--namespace, --server, ...
	kube *genericclioptions.ConfigFlags
}

// NewRootCommand is `kubectl stellar` with its subcommands.
func NewRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &options{streams: streams, kube: genericclioptions.NewConfigFlags(true)}
	root := &cobra.Command{
		Use:   "kubectl-stellar",
		Short: "Inspect StellarNodes: their status in a cluster, and what the operator makes of manifests",
		Long: `kubectl stellar shows what the stellar-operator makes of StellarNodes.

In a cluster (kubectl's --kubeconfig, --context and -n apply):
  status [NAME]     sync, ledger, external IP, BGP peers and announcing nodes, conditions

Offline, on manifests (-f FILE, a directory, or - for stdin), each judged first by the CRD's own
schema and CEL rules exactly as the apiserver would:
  render            the objects the operator would create
  lint              the problems the apiserver and the operator would report
  plan              the anycast topology across region manifests and its failover order`,
		Version:       buildinfo.Get().Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// A plugin is run by kubectl: its help names it the way the user typed it.
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl stellar"},
		Args:        cobra.NoArgs,
		RunE:        func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	o.kube.AddFlags(root.PersistentFlags())
	root.AddCommand(newStatusCommand(o), newRenderCommand(o), newLintCommand(o), newPlanCommand(o))
	return root
}
