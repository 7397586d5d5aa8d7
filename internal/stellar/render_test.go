package stellar

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	toml "github.com/pelletier/go-toml/v2"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func watcherConfig(n Network) CoreConfig {
	return CoreConfig{
		NetworkPassphrase: n.Passphrase,
		Database:          "sqlite3:///var/lib/stellar/stellar.db",
		BucketDirPath:     "/var/lib/stellar/buckets",
		HTTPPort:          11626,
		PeerPort:          11625,
		PublicHTTPPort:    true,
		Quorum:            n.Quorum,
		CatchupRecent:     100,
	}
}

// validatorConfig joins a known network as a new, single-node MEDIUM
// organisation: HIGH would need three nodes of our own.
func validatorConfig(n Network) CoreConfig {
	c := watcherConfig(n)
	c.Database = "postgresql://dbname=core host=postgres user=stellar"
	c.NodeIsValidator = true
	c.NodeHomeDomain = "validators.example.com"
	c.CatchupRecent = 0
	c.Quorum.HomeDomains = append(c.Quorum.HomeDomains, HomeDomain{Domain: c.NodeHomeDomain, Quality: QualityMedium})
	return c
}

// customConfig is one node of a private three-validator HIGH organisation
// that publishes its own archive; the passphrase exercises escaping.
func customConfig() CoreConfig {
	const domain = "validators.example.org"
	return CoreConfig{
		NetworkPassphrase: `Example "Private" Network ; C:\stellar ; 2026`,
		Database:          "$FILE:/etc/stellar/secrets/database-url",
		HTTPPort:          21626,
		PeerPort:          21625,
		NodeIsValidator:   true,
		NodeHomeDomain:    domain,
		CatchupComplete:   true,
		Quorum: QuorumSet{
			HomeDomains: []HomeDomain{{Domain: domain, Quality: QualityHigh}},
			Validators: []Validator{
				{Name: "node-1", HomeDomain: domain, PublicKey: testKey(1), Address: "node-1.validators.example.org:21625", History: "https://history.example.org/node-1/"},
				{Name: "node-2", HomeDomain: domain, PublicKey: testKey(2), Address: "node-2.validators.example.org:21625", History: "https://history.example.org/node-2"},
			},
			UnsafeQuorum:  true,
			FailureSafety: intPtr(0),
		},
		Publish: &HistoryPublish{
			Name:  "local",
			Get:   "curl -sf https://history.example.org/node-0/{0} -o {1}",
			Put:   "aws s3 cp --cache-control no-cache {0} s3://example-history/node-0/{1}",
			Mkdir: "true {0}",
		},
	}
}

func captiveConfig(n Network) CaptiveCoreConfig {
	return CaptiveCoreConfig{NetworkPassphrase: n.Passphrase, HTTPPort: 11626, PeerPort: 11625, Quorum: n.Quorum}
}

type rendered struct {
	file    string
	out     []byte
	captive bool
	// expectations
	passphrase         string
	httpPort, peerPort int64
	validators         int
	homeDomains        int
	isValidator        bool
}

func renderAll(t *testing.T) []rendered {
	t.Helper()
	var all []rendered
	add := func(file string, captive bool, passphrase string, httpPort, peerPort int64, q QuorumSet, isValidator bool, out []byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		all = append(all, rendered{file: file, out: out, captive: captive, passphrase: passphrase, httpPort: httpPort, peerPort: peerPort,
			validators: len(q.Validators), homeDomains: len(q.HomeDomains), isValidator: isValidator})
	}
	for _, n := range KnownNetworks() {
		name := strings.ToLower(n.Name)
		w := watcherConfig(n)
		out, err := RenderCoreConfig(w)
		add("core-"+name+"-watcher.cfg", false, n.Passphrase, 11626, 11625, w.Quorum, false, out, err)
		v := validatorConfig(n)
		out, err = RenderCoreConfig(v)
		add("core-"+name+"-validator.cfg", false, n.Passphrase, 11626, 11625, v.Quorum, true, out, err)
		c := captiveConfig(n)
		out, err = RenderCaptiveCoreConfig(c)
		add("captive-"+name+".cfg", true, n.Passphrase, 11626, 11625, c.Quorum, false, out, err)
	}
	c := customConfig()
	out, err := RenderCoreConfig(c)
	add("core-custom-publish.cfg", false, c.NetworkPassphrase, 21626, 21625, c.Quorum, true, out, err)
	return all
}

func TestGoldenFiles(t *testing.T) {
	for _, r := range renderAll(t) {
		t.Run(r.file, func(t *testing.T) {
			path := filepath.Join("testdata", r.file)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, r.out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/stellar -update)", err)
			}
			if diff := cmp.Diff(string(want), string(r.out)); diff != "" {
				t.Errorf("%s differs from golden (-want +got):\n%s", path, diff)
			}
		})
	}
}

// walkKeys calls f with every key path in a decoded TOML document, so a key
// hidden in a nested table is found too.
func walkKeys(prefix string, v any, f func(path, key string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			f(prefix+k, k)
			walkKeys(prefix+k+".", child, f)
		}
	case []any:
		for _, child := range v {
			walkKeys(prefix, child, f)
		}
	case []map[string]any:
		for _, child := range v {
			walkKeys(prefix, child, f)
		}
	}
}

func tables(t *testing.T, doc map[string]any, key string) []map[string]any {
	t.Helper()
	raw, ok := doc[key]
	if !ok {
		return nil
	}
	var out []map[string]any
	switch raw := raw.(type) {
	case []any:
		for _, e := range raw {
			m, ok := e.(map[string]any)
			if !ok {
				t.Fatalf("%s entry is %T", key, e)
			}
			out = append(out, m)
		}
	case []map[string]any:
		out = raw
	default:
		t.Fatalf("%s is %T, want an array of tables", key, raw)
	}
	return out
}

func TestRenderedFilesParseAndRoundTrip(t *testing.T) {
	allowed := CaptiveCoreAllowedKeys()
	for _, r := range renderAll(t) {
		t.Run(r.file, func(t *testing.T) {
			var doc map[string]any
			if err := toml.Unmarshal(r.out, &doc); err != nil {
				t.Fatalf("output is not valid TOML: %v\n%s", err, r.out)
			}
			if got := doc["NETWORK_PASSPHRASE"]; got != r.passphrase {
				t.Errorf("NETWORK_PASSPHRASE = %#v, want %q", got, r.passphrase)
			}
			if got := doc["HTTP_PORT"]; got != r.httpPort {
				t.Errorf("HTTP_PORT = %#v, want %d", got, r.httpPort)
			}
			if got := doc["PEER_PORT"]; got != r.peerPort {
				t.Errorf("PEER_PORT = %#v, want %d", got, r.peerPort)
			}
			vals := tables(t, doc, "VALIDATORS")
			if len(vals) != r.validators {
				t.Errorf("%d VALIDATORS, want %d", len(vals), r.validators)
			}
			if got := len(tables(t, doc, "HOME_DOMAINS")); got != r.homeDomains {
				t.Errorf("%d HOME_DOMAINS, want %d", got, r.homeDomains)
			}
			for i, v := range vals {
				if !IsValidAddress(v["PUBLIC_KEY"].(string)) {
					t.Errorf("VALIDATORS[%d].PUBLIC_KEY %v is invalid", i, v["PUBLIC_KEY"])
				}
				h, _ := v["HISTORY"].(string)
				if !strings.HasPrefix(h, "curl -sf http") || !strings.HasSuffix(h, "/{0} -o {1}") || strings.Contains(h, "//{0}") {
					t.Errorf("VALIDATORS[%d].HISTORY = %q, want curl -sf <url>/{0} -o {1}", i, h)
				}
			}

			walkKeys("", doc, func(path, key string) {
				if key == "NODE_SEED" {
					t.Errorf("rendered file contains a NODE_SEED key at %s", path)
				}
			})
			if bytes.Contains(r.out, []byte("NODE_SEED")) {
				t.Error("rendered file mentions NODE_SEED")
			}

			if r.captive {
				for key := range doc {
					if !slices.Contains(allowed, key) {
						t.Errorf("captive config has key %s, which Horizon/RPC strict mode rejects", key)
					}
				}
				for _, forbidden := range []string{"NODE_SEED", "NODE_IS_VALIDATOR", "KNOWN_PEERS", "DATABASE", "BUCKET_DIR_PATH"} {
					if _, ok := doc[forbidden]; ok {
						t.Errorf("captive config has forbidden key %s", forbidden)
					}
				}
				return
			}
			if got := doc["NODE_IS_VALIDATOR"]; got != r.isValidator {
				t.Errorf("NODE_IS_VALIDATOR = %#v, want %v", got, r.isValidator)
			}
			if r.isValidator && doc["NODE_HOME_DOMAIN"] == nil {
				t.Error("validator config has no NODE_HOME_DOMAIN")
			}
			if _, ok := doc["DATABASE"].(string); !ok {
				t.Error("core config has no DATABASE")
			}
		})
	}
}

func TestTopLevelKeysComeBeforeTables(t *testing.T) {
	for _, r := range renderAll(t) {
		seenTable := false
		for _, line := range strings.Split(string(r.out), "\n") {
			switch {
			case strings.HasPrefix(line, "["):
				seenTable = true
			case seenTable:
			case line != "" && !strings.HasPrefix(line, "#") && !strings.Contains(line, "="):
				t.Errorf("%s: unexpected line %q", r.file, line)
			}
		}
		// Prepending the seed must keep the file valid and put it at the top
		// level, which is how the pod start script injects it.
		withSeed := append([]byte("NODE_SEED=\""+testSeed(1)+" self\"\n"), r.out...)
		var doc map[string]any
		if err := toml.Unmarshal(withSeed, &doc); err != nil {
			t.Errorf("%s: prepending NODE_SEED breaks the file: %v", r.file, err)
		} else if _, ok := doc["NODE_SEED"].(string); !ok {
			t.Errorf("%s: a prepended NODE_SEED is not a top-level key", r.file)
		}
	}
}

func TestPublishTableRoundTrips(t *testing.T) {
	c := customConfig()
	out, err := RenderCoreConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		History map[string]struct {
			Get, Put, Mkdir string
		} `toml:"HISTORY"`
		CatchupComplete bool   `toml:"CATCHUP_COMPLETE"`
		Database        string `toml:"DATABASE"`
	}
	if err := toml.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	got := doc.History["local"]
	if got.Get != c.Publish.Get || got.Put != c.Publish.Put || got.Mkdir != c.Publish.Mkdir {
		t.Errorf("HISTORY.local = %+v, want %+v", got, *c.Publish)
	}
	if !doc.CatchupComplete || doc.Database != c.Database {
		t.Errorf("CATCHUP_COMPLETE=%v DATABASE=%q", doc.CatchupComplete, doc.Database)
	}
}

func TestStringsAreEscaped(t *testing.T) {
	tricky := "quote\" backslash\\ newline\n tab\t cr\r nul\x00 bell\x07 del\x7f unicode Boötes 🚀 \"\"\" '''"
	c := watcherConfig(mustNetwork(t, "Testnet"))
	c.NetworkPassphrase = tricky
	c.BucketDirPath = tricky
	c.NodeHomeDomain = tricky
	c.Quorum.Validators[0].Name = tricky
	out, err := RenderCoreConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := toml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("not valid TOML: %v\n%s", err, out)
	}
	for _, key := range []string{"NETWORK_PASSPHRASE", "BUCKET_DIR_PATH", "NODE_HOME_DOMAIN"} {
		if doc[key] != tricky {
			t.Errorf("%s = %q, want %q", key, doc[key], tricky)
		}
	}
	if name := tables(t, doc, "VALIDATORS")[0]["NAME"]; name != tricky {
		t.Errorf("VALIDATORS[0].NAME = %q", name)
	}
	if bytes.ContainsAny(out, "\x00\x07\x7f\r") {
		t.Error("raw control characters leaked into the output")
	}
}

func TestZeroPortsMeanCoreDefaults(t *testing.T) {
	c := watcherConfig(mustNetwork(t, "Mainnet"))
	c.HTTPPort, c.PeerPort = 0, 0
	out, err := RenderCoreConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("\nHTTP_PORT=11626\n")) || !bytes.Contains(out, []byte("\nPEER_PORT=11625\n")) {
		t.Errorf("zero ports did not render as the defaults:\n%s", out)
	}
	cc := captiveConfig(mustNetwork(t, "Mainnet"))
	cc.HTTPPort, cc.PeerPort = 0, 0
	out, err = RenderCaptiveCoreConfig(cc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("\nHTTP_PORT=11626\n")) {
		t.Errorf("zero captive HTTP port did not render as the default:\n%s", out)
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	a, b := renderAll(t), renderAll(t)
	for i := range a {
		if !bytes.Equal(a[i].out, b[i].out) {
			t.Errorf("%s rendered differently on a second run", a[i].file)
		}
	}
}

func mustNetwork(t *testing.T, name string) Network {
	t.Helper()
	n, ok := LookupNetwork(name)
	if !ok {
		t.Fatalf("no network %q", name)
	}
	return n
}

func TestRenderCoreConfigRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(*CoreConfig)
		want []string
	}{
		{
			name: "a config without a passphrase is rejected",
			edit: func(c *CoreConfig) { c.NetworkPassphrase = "" },
			want: []string{"networkPassphrase: is required"},
		},
		{
			name: "a passphrase that is not UTF-8 is rejected",
			edit: func(c *CoreConfig) { c.NetworkPassphrase = "bad \xff" },
			want: []string{"networkPassphrase: is not valid UTF-8"},
		},
		{
			name: "a config without a database is rejected",
			edit: func(c *CoreConfig) { c.Database = "" },
			want: []string{"database: is required"},
		},
		{
			name: "in-memory SQLite is rejected",
			edit: func(c *CoreConfig) { c.Database = "sqlite3://:memory:" },
			want: []string{"database: in-memory SQLite"},
		},
		{
			name: "an unknown database scheme is rejected without echoing it",
			edit: func(c *CoreConfig) { c.Database = "mysql://root:hunter2@db" },
			want: []string{"database: must start with sqlite3:// or postgresql://"},
		},
		{
			name: "a $FILE database reference is rejected on Mainnet",
			edit: func(c *CoreConfig) {
				c.NetworkPassphrase = MainnetPassphrase
				c.Database = "$FILE:/secrets/db"
			},
			want: []string{"database: $FILE: references are rejected by stellar-core on Mainnet"},
		},
		{
			name: "a relative $FILE database reference is rejected",
			edit: func(c *CoreConfig) { c.Database = "$FILE:secrets/db" },
			want: []string{"database: $FILE: reference must be an absolute path"},
		},
		{
			name: "identical HTTP and peer ports are rejected",
			edit: func(c *CoreConfig) { c.HTTPPort, c.PeerPort = 11625, 11625 },
			want: []string{"peerPort: 11625 is also the HTTP port"},
		},
		{
			name: "an out-of-range port is rejected",
			edit: func(c *CoreConfig) { c.HTTPPort = 70000 },
			want: []string{"httpPort: 70000 is outside 1..65535"},
		},
		{
			name: "complete catchup together with recent catchup is rejected",
			edit: func(c *CoreConfig) { c.CatchupComplete, c.CatchupRecent = true, 100 },
			want: []string{"catchupRecent: must be 0 when catchupComplete is true"},
		},
		{
			name: "a negative catchupRecent is rejected",
			edit: func(c *CoreConfig) { c.CatchupRecent = -1 },
			want: []string{"catchupRecent: -1 is outside"},
		},
		{
			name: "a validator without a home domain is rejected",
			edit: func(c *CoreConfig) { c.NodeIsValidator, c.NodeHomeDomain = true, "" },
			want: []string{"nodeHomeDomain: is required for a validator"},
		},
		{
			name: "a validator whose home domain has no homeDomains entry is rejected",
			edit: func(c *CoreConfig) { c.NodeIsValidator, c.NodeHomeDomain = true, "nowhere.example" },
			want: []string{`nodeHomeDomain: "nowhere.example" needs a quorum.homeDomains entry`},
		},
		{
			name: "a validator alone in a HIGH organisation is rejected",
			edit: func(c *CoreConfig) {
				c.NodeIsValidator, c.NodeHomeDomain = true, "solo.example"
				c.Quorum.HomeDomains = append(c.Quorum.HomeDomains, HomeDomain{Domain: "solo.example", Quality: QualityHigh})
			},
			want: []string{`quorum.homeDomains[1]: HIGH organisation "solo.example" has 1 validator(s)`},
		},
		{
			name: "a validator that trusts only LOW validators is rejected",
			edit: func(c *CoreConfig) {
				c.NodeIsValidator, c.NodeHomeDomain = true, "low.example"
				c.Quorum = QuorumSet{
					HomeDomains:  []HomeDomain{{Domain: "low.example", Quality: QualityLow}, {Domain: "other.example", Quality: QualityLow}},
					Validators:   []Validator{{Name: "o", HomeDomain: "other.example", PublicKey: testKey(5)}},
					UnsafeQuorum: true,
				}
			},
			want: []string{"quorum.validators: a validator node needs at least one validator"},
		},
		{
			name: "quorum problems are reported under quorum",
			edit: func(c *CoreConfig) { c.Quorum.Validators[1].PublicKey = "GABC" },
			want: []string{`quorum.validators[1].publicKey: "GABC" is not a valid Stellar public key`},
		},
		{
			name: "a publish archive named like a validator archive is rejected",
			edit: func(c *CoreConfig) {
				c.Publish = &HistoryPublish{Name: "sdf_testnet_1", Get: "cp /a/{0} {1}", Put: "cp {0} /a/{1}"}
			},
			want: []string{`publish.name: "sdf_testnet_1" is also the name of a validator with a history archive`},
		},
		{
			name: "a publish archive name that is not a bare TOML key is rejected",
			edit: func(c *CoreConfig) {
				c.Publish = &HistoryPublish{Name: "my archive]", Get: "cp /a/{0} {1}", Put: "cp {0} /a/{1}"}
			},
			want: []string{`publish.name: "my archive]" must be non-empty`},
		},
		{
			name: "a publish command with a stray brace is rejected",
			edit: func(c *CoreConfig) {
				c.Publish = &HistoryPublish{Name: "local", Get: "cp /a/{0} {1}", Put: "sh -c 'f() { cp {0} /a/{1}; }; f'"}
			},
			want: []string{"publish.put:", "may only use the placeholders {0} and {1}"},
		},
		{
			name: "a publish command that ignores the remote path is rejected",
			edit: func(c *CoreConfig) {
				c.Publish = &HistoryPublish{Name: "local", Get: "cp /a/{0} /tmp/x", Put: "cp {0} /a/{1}"}
			},
			want: []string{"publish.get:", "does not use {1}"},
		},
		{
			name: "a publish archive without put is rejected",
			edit: func(c *CoreConfig) {
				c.Publish = &HistoryPublish{Name: "local", Get: "cp /a/{0} {1}"}
			},
			want: []string{"publish.put: is required"},
		},
		{
			name: "a mkdir command with a second placeholder is rejected",
			edit: func(c *CoreConfig) {
				c.Publish = &HistoryPublish{Name: "local", Get: "cp /a/{0} {1}", Put: "cp {0} /a/{1}", Mkdir: "mkdir -p /a/{0}/{1}"}
			},
			want: []string{"publish.mkdir:", "may only use the placeholders {0}"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := watcherConfig(mustNetwork(t, "Testnet"))
			tt.edit(&c)
			out, err := RenderCoreConfig(c)
			if err == nil {
				t.Fatalf("expected an error, got:\n%s", out)
			}
			if out != nil {
				t.Error("output returned together with an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Error("error echoes a database password")
			}
		})
	}
}

func TestAValidatorCountsItselfTowardsItsOrganisation(t *testing.T) {
	c := customConfig()
	if _, err := RenderCoreConfig(c); err != nil {
		t.Fatalf("two peers plus the node itself should make three: %v", err)
	}
	c.NodeIsValidator = false
	if _, err := RenderCoreConfig(c); err == nil || !strings.Contains(err.Error(), "has 2 validator(s)") {
		t.Fatalf("a watcher does not count, so two validators must be too few; got %v", err)
	}
}

func TestRenderCaptiveCoreConfigRejects(t *testing.T) {
	c := captiveConfig(mustNetwork(t, "Mainnet"))
	c.NetworkPassphrase = ""
	c.HTTPPort = -1
	c.Quorum.Validators[0].History = ""
	_, err := RenderCaptiveCoreConfig(c)
	if err == nil {
		t.Fatal("expected an error")
	}
	for _, w := range []string{"networkPassphrase: is required", "httpPort: -1", "quorum.validators[0].history: is required"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
}
