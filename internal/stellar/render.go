package stellar

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Default ports of stellar-core. Zero in a config struct means these, never
// "disabled": the operator's probes and Horizon/RPC talk to core over HTTP,
// so a config without it would be broken by construction.
const (
	DefaultHTTPPort = 11626
	DefaultPeerPort = 11625
)

// HistoryPublish is a writable archive, rendered as [HISTORY.<Name>]. The
// commands are stellar-core templates: core substitutes {0} and {1} with
// fmt::format, so any other literal brace must be doubled ({{ and }}).
type HistoryPublish struct {
	// Name is the archive's TOML key; it is restricted to letters, digits,
	// '-' and '_' so it can be written as a bare key.
	Name string
	// Get fetches remote {0} to local {1}; Put uploads local {0} to remote
	// {1}; Mkdir creates remote directory {0} and is optional because object
	// stores do not need it.
	Get, Put, Mkdir string
}

// CoreConfig is the input for a full (non-captive) stellar-core node.
type CoreConfig struct {
	NetworkPassphrase string
	// Database is sqlite3://..., postgresql://... or, off Mainnet, a
	// "$FILE:/path" reference core resolves itself (core >= 27 rejects those
	// on Mainnet).
	Database string
	// BucketDirPath is optional; core defaults to "buckets" relative to its
	// working directory.
	BucketDirPath string
	// HTTPPort and PeerPort default to 11626 and 11625 when zero.
	HTTPPort       int
	PeerPort       int
	PublicHTTPPort bool
	// NodeIsValidator makes core add itself to the quorum set under
	// NodeHomeDomain, so that domain needs a Quorum.HomeDomains entry and the
	// node's own key must not also appear in Quorum.Validators.
	NodeIsValidator bool
	NodeHomeDomain  string
	Quorum          QuorumSet
	CatchupComplete bool
	CatchupRecent   int
	Publish         *HistoryPublish
}

// CaptiveCoreConfig is the input for the captive core of Horizon or RPC.
// Ports must equal what the host process is told (CAPTIVE_CORE_HTTP_PORT /
// STELLAR_CAPTIVE_CORE_HTTP_PORT), which rejects a mismatch at start.
type CaptiveCoreConfig struct {
	NetworkPassphrase string
	HTTPPort          int
	PeerPort          int
	Quorum            QuorumSet
}

// CaptiveCoreAllowedKeys returns the top-level keys Horizon's and RPC's
// strict captive-core parser accepts (the fields of captiveCoreTomlValues plus
// the HISTORY and QUORUM_SET tables in go-stellar-sdk v0.7.3
// ingest/ledgerbackend/toml.go), for callers that let users add extra
// captive-core settings. DATABASE and BUCKET_DIR_PATH are left out although
// the parser knows them: strict mode refuses BUCKET_DIR_PATH, and the host
// process's storage path, not the file, must own both.
func CaptiveCoreAllowedKeys() []string {
	return []string{
		"ARTIFICIALLY_ACCELERATE_TIME_FOR_TESTING",
		"BACKFILL_RESTORE_META",
		"BACKFILL_STELLAR_ASSET_EVENTS",
		"BUCKETLIST_DB_INDEX_CUTOFF",
		"BUCKETLIST_DB_INDEX_PAGE_SIZE_EXPONENT",
		"BUCKETLIST_DB_MEMORY_FOR_CACHING",
		"CATCHUP_COMPLETE",
		"EMIT_CLASSIC_EVENTS",
		"EMIT_LEDGER_CLOSE_META_EXT_V1",
		"EMIT_SOROBAN_TRANSACTION_META_EXT_V1",
		"ENABLE_DIAGNOSTICS_FOR_TX_SUBMISSION",
		"ENABLE_SOROBAN_DIAGNOSTIC_EVENTS",
		"FAILURE_SAFETY",
		"HISTORY",
		"HOME_DOMAINS",
		"HTTP_PORT",
		"HTTP_QUERY_PORT",
		"LOG_FILE_PATH",
		"NETWORK_PASSPHRASE",
		"NODE_NAMES",
		"OVERRIDE_EVICTION_PARAMS_FOR_TESTING",
		"PEER_PORT",
		"PREFERRED_PEERS",
		"PREFERRED_PEERS_ONLY",
		"PREFERRED_PEER_KEYS",
		"PUBLIC_HTTP_PORT",
		"QUERY_SNAPSHOT_LEDGERS",
		"QUERY_THREAD_POOL_SIZE",
		"QUORUM_SET",
		"RUN_STANDALONE",
		"TESTING_MAX_ENTRIES_TO_ARCHIVE",
		"TESTING_MINIMUM_PERSISTENT_ENTRY_LIFETIME",
		"TESTING_SOROBAN_HIGH_LIMIT_OVERRIDE",
		"TESTING_STARTING_EVICTION_SCAN_LEVEL",
		"UNSAFE_QUORUM",
		"VALIDATORS",
	}
}

// RenderCoreConfig validates c and renders a complete stellar-core.cfg.
// It never writes NODE_SEED: the seed lives in a Secret and is prepended when
// the pod starts. The output depends only on c, so it can be hashed.
func RenderCoreConfig(c CoreConfig) ([]byte, error) {
	httpPort, peerPort := portOrDefault(c.HTTPPort, DefaultHTTPPort), portOrDefault(c.PeerPort, DefaultPeerPort)

	var errs []error
	errs = append(errs, checkPassphrase(c.NetworkPassphrase)...)
	errs = append(errs, checkDatabase(c.Database, c.NetworkPassphrase)...)
	if !utf8.ValidString(c.BucketDirPath) {
		errs = append(errs, fieldErr("bucketDirPath", "is not valid UTF-8"))
	}
	errs = append(errs, checkPorts(httpPort, peerPort)...)
	if c.CatchupRecent < 0 || c.CatchupRecent > math.MaxUint32-1 {
		errs = append(errs, fieldErr("catchupRecent", "%d is outside 0..%d", c.CatchupRecent, uint64(math.MaxUint32-1)))
	}
	if c.CatchupComplete && c.CatchupRecent > 0 {
		// Core silently ignores CATCHUP_RECENT then; refusing makes the
		// user pick, instead of discovering weeks of replay later.
		errs = append(errs, fieldErr("catchupRecent", "must be 0 when catchupComplete is true"))
	}

	var self *selfNode
	switch {
	case !utf8.ValidString(c.NodeHomeDomain):
		errs = append(errs, fieldErr("nodeHomeDomain", "is not valid UTF-8"))
	case c.NodeIsValidator && c.NodeHomeDomain == "":
		errs = append(errs, fieldErr("nodeHomeDomain", "is required for a validator"))
	case c.NodeIsValidator:
		if !hasHomeDomain(c.Quorum, c.NodeHomeDomain) {
			errs = append(errs, fieldErr("nodeHomeDomain", "%q needs a quorum.homeDomains entry: core takes a validator's own quality from it", c.NodeHomeDomain))
		}
		self = &selfNode{homeDomain: c.NodeHomeDomain}
	}
	errs = append(errs, prefixErrors("quorum", validateQuorum(c.Quorum, self))...)
	if c.Publish != nil {
		errs = append(errs, checkPublish(*c.Publish, c.Quorum)...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	var w cfgWriter
	w.comment("stellar-core configuration rendered by stellar-operator; do not edit.")
	w.comment("The node seed is deliberately absent: it is prepended from a Secret at start.")
	w.str("NETWORK_PASSPHRASE", c.NetworkPassphrase)
	w.str("DATABASE", c.Database)
	if c.BucketDirPath != "" {
		w.str("BUCKET_DIR_PATH", c.BucketDirPath)
	}
	w.int("HTTP_PORT", httpPort)
	w.bool("PUBLIC_HTTP_PORT", c.PublicHTTPPort)
	w.int("PEER_PORT", peerPort)
	w.bool("NODE_IS_VALIDATOR", c.NodeIsValidator)
	if c.NodeHomeDomain != "" {
		// Also useful on watchers: core turns same-domain validator
		// addresses into PREFERRED_PEERS.
		w.str("NODE_HOME_DOMAIN", c.NodeHomeDomain)
	}
	w.bool("CATCHUP_COMPLETE", c.CatchupComplete)
	w.int("CATCHUP_RECENT", c.CatchupRecent)
	w.quorum(c.Quorum)
	if p := c.Publish; p != nil {
		w.blank()
		w.line("[HISTORY." + p.Name + "]")
		w.str("get", p.Get)
		w.str("put", p.Put)
		if p.Mkdir != "" {
			w.str("mkdir", p.Mkdir)
		}
	}
	return []byte(w.b.String()), nil
}

// RenderCaptiveCoreConfig renders the file given to Horizon or RPC as
// CAPTIVE_CORE_CONFIG_PATH. Their strict parser rejects unknown keys and the
// host process owns the node identity, database and buckets, so only the
// passphrase, ports, safety settings and quorum tables are written.
func RenderCaptiveCoreConfig(c CaptiveCoreConfig) ([]byte, error) {
	httpPort, peerPort := portOrDefault(c.HTTPPort, DefaultHTTPPort), portOrDefault(c.PeerPort, DefaultPeerPort)

	var errs []error
	errs = append(errs, checkPassphrase(c.NetworkPassphrase)...)
	errs = append(errs, checkPorts(httpPort, peerPort)...)
	errs = append(errs, prefixErrors("quorum", ValidateQuorum(c.Quorum))...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	var w cfgWriter
	w.comment("Captive stellar-core configuration rendered by stellar-operator; do not edit.")
	w.str("NETWORK_PASSPHRASE", c.NetworkPassphrase)
	w.int("HTTP_PORT", httpPort)
	w.int("PEER_PORT", peerPort)
	w.quorum(c.Quorum)
	return []byte(w.b.String()), nil
}

func portOrDefault(p, def int) int {
	if p == 0 {
		return def
	}
	return p
}

func checkPorts(httpPort, peerPort int) []error {
	var errs []error
	if httpPort < 1 || httpPort > 65535 {
		errs = append(errs, fieldErr("httpPort", "%d is outside 1..65535", httpPort))
	}
	if peerPort < 1 || peerPort > 65535 {
		errs = append(errs, fieldErr("peerPort", "%d is outside 1..65535", peerPort))
	}
	if httpPort == peerPort {
		errs = append(errs, fieldErr("peerPort", "%d is also the HTTP port", peerPort))
	}
	return errs
}

func checkPassphrase(p string) []error {
	switch {
	case p == "":
		return []error{fieldErr("networkPassphrase", "is required")}
	case !utf8.ValidString(p):
		// TOML files must be UTF-8; there is no escape for raw bytes.
		return []error{fieldErr("networkPassphrase", "is not valid UTF-8")}
	}
	return nil
}

// fileSecretPrefix is core's external secret reference syntax (core >= 27).
const fileSecretPrefix = "$FILE:"

func checkDatabase(db, passphrase string) []error {
	switch {
	case db == "":
		// Core's default is in-memory SQLite, which core 23+ no longer runs.
		return []error{fieldErr("database", "is required")}
	case !utf8.ValidString(db):
		return []error{fieldErr("database", "is not valid UTF-8")}
	case strings.HasPrefix(db, fileSecretPrefix):
		if passphrase == MainnetPassphrase {
			return []error{fieldErr("database", "%s references are rejected by stellar-core on Mainnet; render the connection string into the config Secret instead", fileSecretPrefix)}
		}
		if !strings.HasPrefix(db, fileSecretPrefix+"/") {
			return []error{fieldErr("database", "%s reference must be an absolute path", fileSecretPrefix)}
		}
	case db == "sqlite3://:memory:":
		return []error{fieldErr("database", "in-memory SQLite is not supported by current stellar-core")}
	case strings.HasPrefix(db, "sqlite3://"), strings.HasPrefix(db, "postgresql://"):
	default:
		// Not echoed: a connection string may carry a password.
		return []error{fieldErr("database", "must start with sqlite3:// or postgresql://")}
	}
	return nil
}

func hasHomeDomain(q QuorumSet, domain string) bool {
	for _, hd := range q.HomeDomains {
		if hd.Domain == domain {
			return true
		}
	}
	return false
}

func checkPublish(p HistoryPublish, q QuorumSet) []error {
	var errs []error
	if p.Name == "" || strings.ContainsFunc(p.Name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) {
		errs = append(errs, fieldErr("publish.name", "%q must be non-empty and use only letters, digits, '-' and '_'", p.Name))
	}
	for _, v := range q.Validators {
		// Core registers each validator HISTORY as an archive named after
		// the validator and fails on "Conflicting archive name".
		if v.History != "" && v.Name == p.Name {
			errs = append(errs, fieldErr("publish.name", "%q is also the name of a validator with a history archive", p.Name))
		}
	}
	if p.Get == "" {
		errs = append(errs, fieldErr("publish.get", "is required"))
	} else if err := checkCommandTemplate(p.Get, 2); err != nil {
		errs = append(errs, fieldErr("publish.get", "%s", err))
	}
	if p.Put == "" {
		errs = append(errs, fieldErr("publish.put", "is required"))
	} else if err := checkCommandTemplate(p.Put, 2); err != nil {
		errs = append(errs, fieldErr("publish.put", "%s", err))
	}
	if p.Mkdir != "" {
		if err := checkCommandTemplate(p.Mkdir, 1); err != nil {
			errs = append(errs, fieldErr("publish.mkdir", "%s", err))
		}
	}
	return errs
}

// checkCommandTemplate makes sure core's fmt::format call will succeed and
// use every argument: only {0}..{args-1} and the escapes {{ }} are allowed.
func checkCommandTemplate(s string, args int) error {
	if !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	used := make([]bool, args)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			if i+1 < len(s) && s[i+1] == '{' {
				i++
				continue
			}
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return fmt.Errorf("%q has an unclosed '{' (write {{ for a literal brace)", s)
			}
			switch inner := s[i+1 : i+end]; {
			case inner == "0":
				used[0] = true
			case inner == "1" && args == 2:
				used[1] = true
			default:
				return fmt.Errorf("%q may only use the placeholders %s (write {{ and }} for literal braces)", s, placeholders(args))
			}
			i += end
		case '}':
			if i+1 < len(s) && s[i+1] == '}' {
				i++
				continue
			}
			return fmt.Errorf("%q has an unmatched '}' (write }} for a literal brace)", s)
		}
	}
	for n, ok := range used {
		if !ok {
			return fmt.Errorf("%q does not use {%d}", s, n)
		}
	}
	return nil
}

func placeholders(args int) string {
	if args == 1 {
		return "{0}"
	}
	return "{0} and {1}"
}

// cfgWriter emits the small TOML subset stellar-core needs. It exists rather
// than a TOML library because core's table ordering and key spelling must be
// exact and the output must be byte-for-byte stable.
type cfgWriter struct {
	b strings.Builder
}

func (w *cfgWriter) line(s string) {
	w.b.WriteString(s)
	w.b.WriteByte('\n')
}

func (w *cfgWriter) blank()                  { w.b.WriteByte('\n') }
func (w *cfgWriter) comment(s string)        { w.line("# " + s) }
func (w *cfgWriter) str(key, value string)   { w.line(key + "=" + tomlString(value)) }
func (w *cfgWriter) int(key string, v int)   { w.line(key + "=" + strconv.Itoa(v)) }
func (w *cfgWriter) bool(key string, v bool) { w.line(key + "=" + strconv.FormatBool(v)) }
func (w *cfgWriter) optStr(key, value string) {
	if value != "" {
		w.str(key, value)
	}
}

// quorum writes the safety keys (still top-level, so before any table) and
// then the quorum tables.
func (w *cfgWriter) quorum(q QuorumSet) {
	if q.UnsafeQuorum {
		w.bool("UNSAFE_QUORUM", true)
	}
	if q.FailureSafety != nil {
		w.int("FAILURE_SAFETY", *q.FailureSafety)
	}
	for _, hd := range q.HomeDomains {
		w.blank()
		w.line("[[HOME_DOMAINS]]")
		w.str("HOME_DOMAIN", hd.Domain)
		w.str("QUALITY", string(hd.Quality))
	}
	for _, v := range q.Validators {
		w.blank()
		w.line("[[VALIDATORS]]")
		w.str("NAME", v.Name)
		w.str("HOME_DOMAIN", v.HomeDomain)
		w.str("PUBLIC_KEY", v.PublicKey)
		w.optStr("QUALITY", string(v.Quality))
		w.optStr("ADDRESS", v.Address)
		if v.History != "" {
			w.str("HISTORY", historyGetCommand(v.History))
		}
	}
}

// historyGetCommand is the read-only archive command core uses for another
// validator's archive; -f makes curl fail on HTTP errors so core retries
// another archive instead of storing an error page as a bucket.
func historyGetCommand(baseURL string) string {
	return "curl -sf " + strings.TrimRight(baseURL, "/") + "/{0} -o {1}"
}

// tomlString quotes s as a TOML basic string. Control characters are
// escaped because TOML forbids them raw; everything else, including
// non-ASCII text such as "Boötes", is valid as is. Callers have already
// rejected invalid UTF-8, which TOML cannot represent at all.
func tomlString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
