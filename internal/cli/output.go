package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// Output formats (-o).
const (
	outputTable = "table"
	outputYAML  = "yaml"
	outputJSON  = "json"
)

// outputFlag is -o/--output, limited to the formats a command can print.
type outputFlag struct {
	value   string
	allowed []string
}

func addOutputFlag(cmd *cobra.Command, def string, allowed ...string) *outputFlag {
	o := &outputFlag{allowed: allowed}
	cmd.Flags().StringVarP(&o.value, "output", "o", def, "output format: "+strings.Join(allowed, ", "))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(allowed, cobra.ShellCompDirectiveNoFileComp))
	return o
}

func (o *outputFlag) check() error {
	if !slices.Contains(o.allowed, o.value) {
		return fmt.Errorf("--output must be one of %s, not %q", strings.Join(o.allowed, ", "), o.value)
	}
	return nil
}

// printData prints v as YAML or JSON (indented, with a final newline, as kubectl does).
func printData(w io.Writer, format string, v interface{}) error {
	var data []byte
	var err error
	if format == outputJSON {
		data, err = json.MarshalIndent(v, "", "    ")
		data = append(data, '\n')
	} else {
		data, err = yaml.Marshal(v)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}
