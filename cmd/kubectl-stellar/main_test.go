package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenderPrintsTheWorkloadOfAnExample(t *testing.T) {
	var out bytes.Buffer
	code, err := run([]string{"render", "-f", "../../examples/validator-testnet.yaml"}, &out)
	if err != nil || code != 0 {
		t.Fatalf("code %d err %v", code, err)
	}
	for _, want := range []string{"kind: StatefulSet", "image: stellar/stellar-core:27.1.0", "kind: ConfigMap"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("render output lacks %q", want)
		}
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
	file := filepath.Join(t.TempDir(), "v.yaml")
	if err := os.WriteFile(file, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code, err := run([]string{"lint", "-f", file}, &out)
	if err != nil || code != 1 {
		t.Fatalf("want exit 1 for a HIGH organisation of one validator without history, got %d (%v): %s", code, err, out.String())
	}
	if !strings.Contains(out.String(), "InvalidQuorumSet") {
		t.Errorf("lint output does not name the reason: %s", out.String())
	}
}

func TestLintNamesWhatNativeMetalLBCannotDoWithTheSpecBlock(t *testing.T) {
	var out bytes.Buffer
	code, err := run([]string{"lint", "-f", "../../examples/horizon-anycast.yaml", "--metallb-bgp-mode", "native"}, &out)
	if err != nil || code != 0 {
		t.Fatalf("warnings only, want exit 0: %d %v", code, err)
	}
	for _, want := range []string{"UnsupportedByMetalLBMode: spec.loadBalancer.bgp.peers[0].keepaliveTime", "spec.loadBalancer.bgp.bfdEnabled", "LocalPrefOverEBGP"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lint output lacks %q:\n%s", want, out.String())
		}
	}
}
