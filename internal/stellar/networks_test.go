package stellar

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stellar/go-stellar-sdk/network"
)

func TestLookupNetworkIsExact(t *testing.T) {
	for _, name := range []string{"Mainnet", "Testnet", "Futurenet"} {
		n, ok := LookupNetwork(name)
		if !ok || n.Name != name {
			t.Errorf("LookupNetwork(%q) = %q, %v", name, n.Name, ok)
		}
	}
	for _, name := range []string{"mainnet", "pubnet", "TESTNET", "", "Standalone"} {
		if _, ok := LookupNetwork(name); ok {
			t.Errorf("LookupNetwork(%q) unexpectedly found a network", name)
		}
	}
}

func TestKnownNetworksMatchTheSDK(t *testing.T) {
	want := map[string]struct {
		passphrase string
		archives   []string
		sdk        string
		validators int
		scheme     string
	}{
		"Mainnet":   {network.PublicNetworkPassphrase, network.PublicNetworkhistoryArchiveURLs, "pubnet", 21, "https://"},
		"Testnet":   {network.TestNetworkPassphrase, network.TestNetworkhistoryArchiveURLs, "testnet", 3, "https://"},
		"Futurenet": {network.FutureNetworkPassphrase, network.FutureNetworkhistoryArchiveURLs, "futurenet", 3, "http://"},
	}
	nets := KnownNetworks()
	if len(nets) != len(want) {
		t.Fatalf("KnownNetworks returned %d networks, want %d", len(nets), len(want))
	}
	for _, n := range nets {
		w, ok := want[n.Name]
		if !ok {
			t.Errorf("unexpected network %q", n.Name)
			continue
		}
		if n.Passphrase != w.passphrase {
			t.Errorf("%s passphrase = %q, want %q", n.Name, n.Passphrase, w.passphrase)
		}
		if n.SDKName != w.sdk {
			t.Errorf("%s SDKName = %q, want %q", n.Name, n.SDKName, w.sdk)
		}
		// The SDK is inconsistent about trailing slashes; compare without.
		trim := func(urls []string) []string {
			out := make([]string, len(urls))
			for i, u := range urls {
				out[i] = strings.TrimSuffix(u, "/")
			}
			return out
		}
		if diff := cmp.Diff(trim(w.archives), trim(n.HistoryArchiveURLs)); diff != "" {
			t.Errorf("%s archives differ from the SDK (-sdk +ours):\n%s", n.Name, diff)
		}
		for _, u := range n.HistoryArchiveURLs {
			if !strings.HasPrefix(u, w.scheme) {
				t.Errorf("%s archive %q does not use %s", n.Name, u, w.scheme)
			}
		}
		if len(n.Quorum.Validators) != w.validators {
			t.Errorf("%s has %d validators, want %d", n.Name, len(n.Quorum.Validators), w.validators)
		}
	}
}

func TestDefaultQuorumSetsAreValid(t *testing.T) {
	for _, n := range KnownNetworks() {
		t.Run(n.Name, func(t *testing.T) {
			for i, v := range n.Quorum.Validators {
				if !IsValidAddress(v.PublicKey) {
					t.Errorf("validators[%d] %q: %q fails the strkey checksum", i, v.Name, v.PublicKey)
				}
				if v.History == "" {
					t.Errorf("validators[%d] %q has no history archive", i, v.Name)
				}
				if v.Address == "" {
					t.Errorf("validators[%d] %q has no address", i, v.Name)
				}
			}
			if errs := ValidateQuorum(n.Quorum); len(errs) > 0 {
				t.Errorf("ValidateQuorum(%s default) = %v", n.Name, errs)
			}
		})
	}
}

func TestKnownNetworksReturnsFreshCopies(t *testing.T) {
	a := KnownNetworks()
	a[0].Quorum.Validators[0].Name = "mutated"
	a[0].HistoryArchiveURLs[0] = "mutated"
	*a[1].Quorum.FailureSafety = 42
	a[2].Quorum.HomeDomains[0].Quality = QualityLow

	b := KnownNetworks()
	if b[0].Quorum.Validators[0].Name == "mutated" || b[0].HistoryArchiveURLs[0] == "mutated" {
		t.Error("mutating one KnownNetworks result changed Mainnet in the next")
	}
	if *b[1].Quorum.FailureSafety == 42 {
		t.Error("mutating one KnownNetworks result changed Testnet's FailureSafety in the next")
	}
	c, _ := LookupNetwork("Futurenet")
	if c.Quorum.HomeDomains[0].Quality != QualityMedium {
		t.Error("mutating a KnownNetworks result changed what LookupNetwork returns")
	}
}

func TestSingleOrganisationNetworksAreMarkedUnsafe(t *testing.T) {
	for _, name := range []string{"Testnet", "Futurenet"} {
		n, _ := LookupNetwork(name)
		if !n.Quorum.UnsafeQuorum || n.Quorum.FailureSafety == nil {
			t.Errorf("%s: UnsafeQuorum=%v FailureSafety=%v, want quickstart's explicit values", name, n.Quorum.UnsafeQuorum, n.Quorum.FailureSafety)
		}
	}
	m, _ := LookupNetwork("Mainnet")
	if m.Quorum.UnsafeQuorum || m.Quorum.FailureSafety != nil {
		t.Error("Mainnet's seven organisations must not need UNSAFE_QUORUM or an explicit FAILURE_SAFETY")
	}
}
