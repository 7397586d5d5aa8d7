package cli_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/stellar-operator/stellar-operator/internal/admission/admissiontest"
	"github.com/stellar-operator/stellar-operator/internal/cli"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden/")

// result is one run of the command line.
type result struct {
	stdout, stderr string
	code           int
}

// run runs `kubectl stellar args...` from the repository root, so paths read as a user types
// them, with no kubeconfig of the machine in the way.
func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runWithKubeconfig(t, filepath.Join(t.TempDir(), "absent"), stdin, args...)
}

func runWithKubeconfig(t *testing.T, kubeconfig, stdin string, args ...string) result {
	t.Helper()
	t.Setenv("KUBECONFIG", kubeconfig)
	var out, errOut bytes.Buffer
	code := cli.Main(args, genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// transcript is what a golden file holds: the command, its output, and how it ended.
func (r result) transcript(args []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ kubectl stellar %s\n%s", strings.Join(args, " "), r.stdout)
	if r.stderr != "" {
		fmt.Fprintf(&b, "[stderr]\n%s", r.stderr)
	}
	fmt.Fprintf(&b, "[exit status %d]\n", r.code)
	return b.String()
}

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("internal", "cli", "testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -update)", err)
	}
	if string(want) != got {
		t.Errorf("output differs from %s; run `go test ./internal/cli -update` and review the diff:\n%s", path, got)
	}
}

func TestOfflineCommandsMatchTheirGoldenFiles(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	cases := []struct {
		golden string
		args   []string
		code   int
	}{
		{"plan-multi-region.txt", []string{"plan", "-f", "examples/multi-region/"}, 0},
		{"plan-multi-region.yaml", []string{"plan", "-f", "examples/multi-region/", "-o", "yaml"}, 0},
		{"plan-spec-blocks.txt", []string{"plan", "-f", "internal/cli/testdata/spec-blocks/", "-n", "stellar-nodes"}, 1},
		{"plan-horizon-anycast.txt", []string{"plan", "-f", "examples/horizon-anycast.yaml", "-n", "stellar"}, 0},
		{"plan-one-as.txt", []string{"plan", "-f", "internal/cli/testdata/one-as/horizon-primary.yaml"}, 0},
		{"lint-examples.txt", []string{"lint", "-f", "examples/", "-f", "examples/multi-region/", "-n", "stellar"}, 0},
		{"lint-native.txt", []string{"lint", "-f", "examples/horizon-anycast.yaml", "--metallb-bgp-mode", "native", "-n", "stellar"}, 0},
		{"lint-typos.txt", []string{"lint", "-f", "internal/cli/testdata/invalid/typos.yaml"}, 1},
		{"lint-typos.json", []string{"lint", "-f", "internal/cli/testdata/invalid/typos.yaml", "-o", "json"}, 1},
		{"render-refused.txt", []string{"render", "-f", "internal/cli/testdata/invalid/typos.yaml"}, 1},
		{"render-us-east.yaml", []string{"render", "-f", "examples/multi-region/horizon-us-east.yaml", "--operator-image", "stellar-operator:test"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			r := run(t, "", tc.args...)
			if r.code != tc.code {
				t.Errorf("exit status %d, want %d; stderr: %s", r.code, tc.code, r.stderr)
			}
			compareGolden(t, tc.golden, r.transcript(tc.args))
		})
	}
}

// render prints exactly what the render package's golden files hold for the examples: the CLI
// renders the object the apiserver would store (defaults set) and gets the operator's objects.
func TestRenderPrintsTheRenderPackagesGoldenObjects(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	files, err := filepath.Glob("examples/*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("examples: %v %v", files, err)
	}
	// The owner references of an object's metadata in rendered YAML.
	ownerReferences := regexp.MustCompile(`(?m)^  ownerReferences:\n(?:  [- ] .*\n)+`)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			r := run(t, "", "render", "-f", file, "-n", "stellar", "--operator-image", "stellar-operator:test")
			if r.code != 0 {
				t.Fatalf("exit status %d: %s", r.code, r.stderr)
			}
			golden, err := os.ReadFile(filepath.Join("internal", "render", "testdata", filepath.Base(file)))
			if err != nil {
				t.Fatal(err)
			}
			// The render tests give their nodes a UID; a manifest has none until it is created, so
			// render leaves out the owner references the apiserver would refuse without one.
			want := ownerReferences.ReplaceAllString(string(golden), "")
			if r.stdout != want {
				t.Errorf("render -f %s differs from internal/render/testdata/%s", file, filepath.Base(file))
			}
		})
	}
}

func TestRenderPrintsTheWorkloadOfAnExample(t *testing.T) {
	r := run(t, "", "render", "-f", "../../examples/validator-testnet.yaml")
	if r.code != 0 {
		t.Fatalf("exit status %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"kind: StatefulSet", "image: stellar/stellar-core:27.1.0", "kind: ConfigMap"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("render output lacks %q", want)
		}
	}
}

// Without --operator-image, a binary built outside an image renders the health sidecar with an
// image that can never be pulled, never an unpublished tag.
func TestTheSidecarImageDefaultsToAPlaceholderThatCannotBePulled(t *testing.T) {
	r := run(t, "", "render", "-f", "../../examples/horizon-l2.yaml")
	if want := "image: " + cli.PlaceholderImageRepository + ":dev\n"; r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("exit status %d, want %q in:\n%s", r.code, want, r.stdout)
	}
	if !strings.HasSuffix(strings.Split(cli.PlaceholderImageRepository, "/")[0], ".invalid") {
		t.Fatalf("%s is not in the reserved .invalid domain", cli.PlaceholderImageRepository)
	}
}

func TestRenderJSONIsAListOfTheObjects(t *testing.T) {
	r := run(t, "", "render", "-f", "../../examples/horizon-l2.yaml", "-o", "json")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "{\n    \"apiVersion\": \"v1\",\n    \"items\": [") || !strings.Contains(r.stdout, `"kind": "L2Advertisement"`) {
		t.Fatalf("exit status %d, output:\n%s", r.code, r.stdout)
	}
}

func TestLintFailsOnAQuorumSetCoreWouldRefuse(t *testing.T) {
	manifest := `apiVersion: stellar.org/v1alpha1
kind: StellarNode
metadata: {name: v}
spec:
  nodeType: Validator
  network: Testnet
  version: "27.1.0"
  validator:
    homeDomain: example.com
    quorumSet:
      homeDomains: [{homeDomain: a.example.com, quality: HIGH}]
      validators:
        - {name: a1, homeDomain: a.example.com, publicKey: GDKXE2OZMJIPOSLNA6N6F2BVCI3O777I2OOC4BV7VOYUEHYX7RTRYA7Y}
`
	r := run(t, manifest, "lint", "-f", "-")
	if r.code != cli.ExitProblems {
		t.Fatalf("want exit 1 for a HIGH organisation of one validator without history, got %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "default/v: Error InvalidQuorumSet") {
		t.Errorf("lint output does not name the node and reason: %s", r.stdout)
	}
}

// Whatever the apiserver refuses, lint refuses, naming the field the apiserver names.
func TestLintRefusesEveryInvalidSpecOfTheAdmissionSuite(t *testing.T) {
	for _, tc := range admissiontest.InvalidStellarNodes() {
		t.Run(tc.Name, func(t *testing.T) {
			r := run(t, tc.Doc, "lint", "-f", "-")
			if r.code != cli.ExitProblems {
				t.Fatalf("exit status %d, want 1: %s%s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, tc.Field) {
				t.Fatalf("lint does not name %s:\n%s", tc.Field, r.stdout)
			}
		})
	}
}

func TestATypoIsAnErrorNamingTheField(t *testing.T) {
	doc := strings.Replace(admissiontest.ValidBGP, "loadBalancerIP:", "loadBalancerIp:", 1)
	r := run(t, doc, "lint", "-f", "-", "-n", "team-a")
	want := `team-a/invalid: Error UnknownField: spec.loadBalancer.loadBalancerIp: unknown field "spec.loadBalancer.loadBalancerIp"`
	if r.code != cli.ExitProblems || !strings.Contains(r.stdout, want) {
		t.Fatalf("exit status %d, want 1 and %q in:\n%s", r.code, want, r.stdout)
	}
}

func TestOfflineCommandsRefuseWhatTheyCannotRead(t *testing.T) {
	cases := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no file", "", []string{"lint"}, "-f FILE is required"},
		{"a missing file", "", []string{"lint", "-f", "no-such-file.yaml"}, "no such file"},
		{"a document that is not YAML", "kind: [", []string{"lint", "-f", "-"}, "document 1"},
		{"a duplicate key", "kind: StellarNode\nkind: StellarNode\n", []string{"plan", "-f", "-"}, `"kind"`},
		{"a document without kind", "apiVersion: v1\nmetadata: {name: x}\n", []string{"render", "-f", "-"}, "apiVersion and kind are required"},
		{"a kind of the group that does not exist", "apiVersion: stellar.org/v1alpha1\nkind: StellarNodes\nmetadata: {name: x}\n", []string{"lint", "-f", "-"}, `stellar.org has no kind "StellarNodes"`},
		{"an API version that is not served", "apiVersion: stellar.org/v1\nkind: StellarNode\nmetadata: {name: x}\n", []string{"lint", "-f", "-"}, "stellar.org/v1alpha1"},
		{"an unknown MetalLB mode", "", []string{"lint", "-f", "-", "--metallb-bgp-mode", "bird"}, "must be native, frr or frr-k8s"},
		{"an unknown output format", "", []string{"plan", "-f", "-", "-o", "wide"}, "--output must be one of table, yaml, json"},
		{"an unknown flag", "", []string{"status", "--watch"}, "unknown flag: --watch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.stdin, tc.args...)
			if r.code != cli.ExitFailed {
				t.Fatalf("exit status %d, want 2: %s", r.code, r.stderr)
			}
			if !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("stderr does not say %q:\n%s", tc.want, r.stderr)
			}
			if r.stdout != "" {
				t.Fatalf("printed output although it failed:\n%s", r.stdout)
			}
		})
	}
}

// -h on every command, and the completion scripts, exit 0 with their text on stdout.
func TestEveryCommandHasHelpAndTheShellsHaveCompletion(t *testing.T) {
	var paths [][]string
	var walk func(cmd *cobra.Command, path []string)
	walk = func(cmd *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range cmd.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	root := cli.NewRootCommand(genericiooptions.NewTestIOStreamsDiscard())
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	walk(root, nil)
	if len(paths) < 10 {
		t.Fatalf("only %d commands: %v", len(paths), paths)
	}
	for _, path := range paths {
		t.Run("help "+strings.Join(path, " "), func(t *testing.T) {
			r := run(t, "", append(append([]string(nil), path...), "-h")...)
			if r.code != 0 || !strings.Contains(r.stdout, "Usage:") || !strings.Contains(r.stdout, "kubectl stellar") {
				t.Fatalf("exit status %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
		})
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		t.Run("completion "+shell, func(t *testing.T) {
			r := run(t, "", "completion", shell)
			if r.code != 0 || !strings.Contains(r.stdout, "kubectl-stellar") {
				t.Fatalf("exit status %d, %d bytes of script", r.code, len(r.stdout))
			}
		})
	}
	r := run(t, "")
	if r.code != 0 || !strings.Contains(r.stdout, "Available Commands:") {
		t.Fatalf("no command: exit status %d, stdout:\n%s", r.code, r.stdout)
	}
}

// The kubectl flags a user expects are there, on every command.
func TestKubectlsConnectionFlagsAreAccepted(t *testing.T) {
	root := cli.NewRootCommand(genericiooptions.NewTestIOStreamsDiscard())
	for _, name := range []string{"kubeconfig", "context", "namespace", "cluster", "user", "server", "request-timeout"} {
		if root.PersistentFlags().Lookup(name) == nil {
			t.Errorf("no --%s", name)
		}
	}
	status, _, err := root.Find([]string{"status"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"all-namespaces", "output"} {
		if status.Flags().Lookup(name) == nil {
			t.Errorf("status has no --%s", name)
		}
	}
	if f := status.Flags().ShorthandLookup("A"); f == nil || f.Name != "all-namespaces" {
		t.Error("status has no -A")
	}
}
