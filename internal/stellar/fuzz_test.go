package stellar

import (
	"strings"
	"testing"
	"unicode/utf8"

	toml "github.com/pelletier/go-toml/v2"
)

func FuzzRenderCoreConfig(f *testing.F) {
	f.Add(TestnetPassphrase, "validators.example.com")
	f.Add(`quote" and backslash\`, `"""`)
	f.Add("line\nNODE_SEED=\"SXXXX\"\n[HISTORY.x]", "a\r\nb")
	f.Add("nul\x00del\x7fesc\x1b", "\t")
	f.Add("Boötes 🚀", "'''")
	f.Add("", "x")
	f.Add("x", "")
	f.Add("bad\xff", "testnet.stellar.org")

	f.Fuzz(func(t *testing.T, passphrase, homeDomain string) {
		base, _ := LookupNetwork(NetworkTestnet)
		c := watcherConfig(base)
		c.NetworkPassphrase = passphrase
		c.NodeIsValidator = true
		c.NodeHomeDomain = homeDomain
		c.Quorum.HomeDomains = append(c.Quorum.HomeDomains, HomeDomain{Domain: homeDomain, Quality: QualityMedium})

		out, err := RenderCoreConfig(c)
		if err != nil {
			expected := passphrase == "" || !utf8.ValidString(passphrase) ||
				homeDomain == "" || !utf8.ValidString(homeDomain) ||
				homeDomain == "testnet.stellar.org" // duplicate homeDomains entry
			if !expected {
				t.Fatalf("unexpected error for passphrase %q, home domain %q: %v", passphrase, homeDomain, err)
			}
			return
		}

		var doc map[string]any
		if err := toml.Unmarshal(out, &doc); err != nil {
			t.Fatalf("output is not valid TOML: %v\n%s", err, out)
		}
		if doc["NETWORK_PASSPHRASE"] != passphrase {
			t.Fatalf("NETWORK_PASSPHRASE = %q, want %q", doc["NETWORK_PASSPHRASE"], passphrase)
		}
		if doc["NODE_HOME_DOMAIN"] != homeDomain {
			t.Fatalf("NODE_HOME_DOMAIN = %q, want %q", doc["NODE_HOME_DOMAIN"], homeDomain)
		}
		walkKeys("", doc, func(path, key string) {
			if key == "NODE_SEED" || strings.HasPrefix(path, "HISTORY") {
				t.Fatalf("user input created key %s", path)
			}
		})
	})
}
