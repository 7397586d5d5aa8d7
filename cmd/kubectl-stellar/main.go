// Command kubectl-stellar is `kubectl stellar` (install it on PATH as a kubectl plugin): the
// status of StellarNodes in a cluster, and what the operator makes of StellarNode manifests
// (render, lint, plan). See docs/kubectl-stellar.md.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/stellar-operator/stellar-operator/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
}
