package stellar

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Quality is a validator or organisation quality as stellar-core understands
// it. Core builds its quorum set from these: organisations of the highest
// quality form the top level and each lower quality is nested one level
// deeper, so quality decides how much a validator can block the local node.
type Quality string

const (
	QualityCritical Quality = "CRITICAL"
	QualityHigh     Quality = "HIGH"
	QualityMedium   Quality = "MEDIUM"
	QualityLow      Quality = "LOW"
)

// rank orders qualities the way core does (LOW < MEDIUM < HIGH < CRITICAL);
// -1 means the name is not one core accepts.
func (q Quality) rank() int {
	switch q {
	case QualityLow:
		return 0
	case QualityMedium:
		return 1
	case QualityHigh:
		return 2
	case QualityCritical:
		return 3
	}
	return -1
}

// needsArchiveAndRedundancy is core's rule that the qualities it leans on
// most must be able to serve history and survive the loss of one node.
func (q Quality) needsArchiveAndRedundancy() bool {
	return q == QualityHigh || q == QualityCritical
}

// HomeDomain assigns one quality to every validator of an organisation.
type HomeDomain struct {
	Domain  string
	Quality Quality
}

// Validator is one [[VALIDATORS]] entry. History is an archive base URL
// (not a command): the renderer turns it into
// HISTORY="curl -sf <url>/{0} -o {1}" so that users cannot smuggle arbitrary
// shell into a command core executes.
type Validator struct {
	Name       string
	HomeDomain string
	PublicKey  string
	// Quality may only be set when HomeDomain has no HomeDomains entry.
	Quality Quality
	// Address is host or host:port (core defaults the port to 11625).
	Address string
	History string
}

// QuorumSet is the input for core's automatic quorum set generation.
type QuorumSet struct {
	HomeDomains []HomeDomain
	Validators  []Validator
	// UnsafeQuorum is UNSAFE_QUORUM: it lets core start with a quorum set
	// that tolerates no failures (typical for single-organisation networks).
	UnsafeQuorum bool
	// FailureSafety is FAILURE_SAFETY; nil leaves core's automatic value
	// (-1), which it computes from the generated quorum set.
	FailureSafety *int
}

// FieldError locates one problem. Field is a path relative to the validated
// value (e.g. "validators[2].publicKey") so callers can prefix it with their
// own location, such as a CRD's "spec.quorum".
type FieldError struct {
	Field  string
	Detail string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Detail }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Detail: fmt.Sprintf(format, args...)}
}

// prefixErrors re-roots errors found in a nested value.
func prefixErrors(prefix string, errs []error) []error {
	out := make([]error, 0, len(errs))
	for _, err := range errs {
		if fe, ok := err.(*FieldError); ok {
			out = append(out, &FieldError{Field: prefix + "." + fe.Field, Detail: fe.Detail})
			continue
		}
		out = append(out, fmt.Errorf("%s: %w", prefix, err))
	}
	return out
}

// ValidateQuorum reports every reason stellar-core (src/main/Config.cpp,
// checked at a9b86132, v27/v28) would refuse to start with this quorum set,
// plus input problems the renderer cannot safely encode. It returns all
// problems rather than the first so a user can fix a manifest in one pass.
//
// Per-entry rules (core's parseValidators / parseDomainsQuality /
// addValidatorName): names, home domains and keys are required; keys are
// checksummed G... strkeys; names and keys are unique; HOME_DOMAINS entries
// are unique and have a valid QUALITY; each validator gets its quality either
// from its own QUALITY or from its domain's HOME_DOMAINS entry, never both;
// HIGH and CRITICAL validators have HISTORY. Stricter than core: validators of
// one domain must share a quality (core only notices when the differing
// entries happen to sort next to each other), History must be a plain
// http(s) URL and Address must look like host[:port].
//
// Organisation rule (generateQuorumSet): a HIGH or CRITICAL organisation
// needs at least 3 validators.
//
// Fault-tolerance rules (validateConfig, verifyHistoryValidatorsBlocking,
// isQuorumSetSane). Rather than approximating with "fewer than 4
// organisations needs UNSAFE_QUORUM", this rebuilds the quorum set exactly as
// core generates it and applies core's checks, because the approximation is
// wrong at the edges: a single organisation of 3 validators tolerates one
// failure (core uses simple majority there) and passes without
// UNSAFE_QUORUM, while 2 or 3 organisations do need it (or an explicit
// FAILURE_SAFETY >= 1, which core also accepts). Concretely, with
// FAILURE_SAFETY unset core computes it as (top-level entries - threshold);
// then, whatever UNSAFE_QUORUM says, FAILURE_SAFETY must be smaller than the
// smallest set of validators that blocks every quorum; and without
// UNSAFE_QUORUM, FAILURE_SAFETY must not be 0 (explicitly 0 is an error too,
// matching core's "Can't have FAILURE_SAFETY=0 unless you also set
// UNSAFE_QUORUM=true"), the validators with archives must block every quorum,
// and every threshold must exceed half its entries.
//
// The checks assume core generates the quorum set from [[VALIDATORS]], which
// is all the renderers ever emit (no [QUORUM_SET]). ValidateQuorum alone
// judges the set as a watcher or captive core would use it; RenderCoreConfig
// additionally counts a validator node itself, as core does.
func ValidateQuorum(q QuorumSet) []error {
	return validateQuorum(q, nil)
}

// selfNode is the local validator, which core adds to the quorum set when
// NODE_IS_VALIDATOR is true. Its key is unknown here (the seed is only
// injected at pod start) but its organisation counts towards redundancy.
type selfNode struct {
	homeDomain string
}

const selfID = "<this node>"

// qsetEntry is a validator after quality resolution, ready for core's
// quorum-set generation.
type qsetEntry struct {
	id         string
	domain     string
	quality    int
	hasHistory bool
}

func validateQuorum(q QuorumSet, self *selfNode) []error {
	var errs []error

	domainIndex := map[string]int{}
	for i, hd := range q.HomeDomains {
		field := fmt.Sprintf("homeDomains[%d]", i)
		switch {
		case hd.Domain == "":
			errs = append(errs, fieldErr(field+".domain", "is required"))
		case !utf8.ValidString(hd.Domain):
			errs = append(errs, fieldErr(field+".domain", "is not valid UTF-8"))
		default:
			if j, dup := domainIndex[hd.Domain]; dup {
				errs = append(errs, fieldErr(field+".domain", "%q is already listed as homeDomains[%d]; a home domain can have only one quality", hd.Domain, j))
			} else {
				domainIndex[hd.Domain] = i
			}
		}
		switch {
		case hd.Quality == "":
			errs = append(errs, fieldErr(field+".quality", "is required for home domain %q", hd.Domain))
		case hd.Quality.rank() < 0:
			errs = append(errs, fieldErr(field+".quality", "%q is not one of CRITICAL, HIGH, MEDIUM, LOW", string(hd.Quality)))
		}
	}

	if len(q.Validators) == 0 {
		errs = append(errs, fieldErr("validators", "at least one validator is required"))
	}

	names := map[string]int{}
	keys := map[string]int{}
	// domainQuality remembers the first explicitly chosen quality of each
	// domain without a HOME_DOMAINS entry, to enforce one quality per domain.
	type firstQuality struct {
		quality Quality
		index   int
	}
	domainQuality := map[string]firstQuality{}
	var entries []qsetEntry
	resolvable := true

	for i, v := range q.Validators {
		field := fmt.Sprintf("validators[%d]", i)
		label := v.Name
		if label == "" {
			label = v.PublicKey
		}

		switch {
		case v.Name == "":
			errs = append(errs, fieldErr(field+".name", "is required"))
		case !utf8.ValidString(v.Name):
			errs = append(errs, fieldErr(field+".name", "is not valid UTF-8"))
		default:
			if j, dup := names[v.Name]; dup {
				errs = append(errs, fieldErr(field+".name", "%q is already used by validators[%d]", v.Name, j))
			} else {
				names[v.Name] = i
			}
		}

		keyOK := false
		switch {
		case v.PublicKey == "":
			errs = append(errs, fieldErr(field+".publicKey", "is required"))
		case !IsValidAddress(v.PublicKey):
			errs = append(errs, fieldErr(field+".publicKey", "%q is not a valid Stellar public key", v.PublicKey))
		default:
			keyOK = true
			if j, dup := keys[v.PublicKey]; dup {
				errs = append(errs, fieldErr(field+".publicKey", "%s is already used by validators[%d]", v.PublicKey, j))
				keyOK = false
			} else {
				keys[v.PublicKey] = i
			}
		}

		quality := Quality("")
		domainOK := false
		switch {
		case v.HomeDomain == "":
			errs = append(errs, fieldErr(field+".homeDomain", "is required"))
		case !utf8.ValidString(v.HomeDomain):
			errs = append(errs, fieldErr(field+".homeDomain", "is not valid UTF-8"))
		default:
			domainOK = true
		}

		if v.Quality != "" && v.Quality.rank() < 0 {
			errs = append(errs, fieldErr(field+".quality", "%q is not one of CRITICAL, HIGH, MEDIUM, LOW", string(v.Quality)))
		} else if domainOK {
			if j, ok := domainIndex[v.HomeDomain]; ok {
				if v.Quality != "" {
					errs = append(errs, fieldErr(field+".quality", "must be empty for validator %q: the quality of %q is already set by homeDomains[%d]", label, v.HomeDomain, j))
				} else {
					quality = q.HomeDomains[j].Quality
				}
			} else if v.Quality == "" {
				errs = append(errs, fieldErr(field+".quality", "validator %q has no quality: set it here or add a homeDomains entry for %q", label, v.HomeDomain))
			} else {
				quality = v.Quality
				if first, seen := domainQuality[v.HomeDomain]; seen && first.quality != v.Quality {
					errs = append(errs, fieldErr(field+".quality", "%s differs from %s on validators[%d]; all validators of home domain %q must have the same quality", v.Quality, first.quality, first.index, v.HomeDomain))
					quality = ""
				} else if !seen {
					domainQuality[v.HomeDomain] = firstQuality{quality: v.Quality, index: i}
				}
			}
		}

		if v.History == "" {
			if quality.needsArchiveAndRedundancy() {
				errs = append(errs, fieldErr(field+".history", "is required for %s validator %q: core needs an archive for HIGH and CRITICAL validators", quality, label))
			}
		} else if err := checkArchiveURL(v.History); err != nil {
			errs = append(errs, fieldErr(field+".history", "%s", err))
		}
		if v.Address != "" {
			if err := checkPeerAddress(v.Address); err != nil {
				errs = append(errs, fieldErr(field+".address", "%s", err))
			}
		}

		if !keyOK || !domainOK || quality.rank() < 0 {
			resolvable = false
			continue
		}
		entries = append(entries, qsetEntry{id: v.PublicKey, domain: v.HomeDomain, quality: quality.rank(), hasHistory: v.History != ""})
	}

	if q.FailureSafety != nil && *q.FailureSafety < -1 {
		errs = append(errs, fieldErr("failureSafety", "%d is below -1 (automatic)", *q.FailureSafety))
		resolvable = false
	}

	if self != nil {
		j, ok := domainIndex[self.homeDomain]
		if !ok || q.HomeDomains[j].Quality.rank() < 0 {
			// RenderCoreConfig reports the missing entry against its own
			// field; without a quality the rest cannot be computed.
			resolvable = false
		} else {
			entries = append(entries, qsetEntry{id: selfID, domain: self.homeDomain, quality: q.HomeDomains[j].Quality.rank()})
		}
	}

	// Only a fully resolved set can be run through core's generation: a
	// guess at the missing pieces would produce misleading follow-up errors.
	if !resolvable || len(entries) == 0 {
		return errs
	}

	orgErrs := checkRedundancy(q, entries, domainIndex)
	errs = append(errs, orgErrs...)
	if len(orgErrs) > 0 {
		return errs
	}
	return append(errs, checkFaultTolerance(q, entries, self != nil)...)
}

// checkRedundancy is core's "Critical and High quality validators for '<d>'
// must have redundancy of at least 3", reported once per organisation.
func checkRedundancy(q QuorumSet, entries []qsetEntry, domainIndex map[string]int) []error {
	count := map[string]int{}
	quality := map[string]int{}
	var order []string
	for _, e := range entries {
		if _, seen := count[e.domain]; !seen {
			order = append(order, e.domain)
		}
		count[e.domain]++
		quality[e.domain] = e.quality
	}
	var errs []error
	for _, d := range order {
		qual := qualityFromRank(quality[d])
		if !qual.needsArchiveAndRedundancy() || count[d] >= 3 {
			continue
		}
		field := ""
		if j, ok := domainIndex[d]; ok {
			field = fmt.Sprintf("homeDomains[%d]", j)
		} else {
			for i, v := range q.Validators {
				if v.HomeDomain == d {
					field = fmt.Sprintf("validators[%d].homeDomain", i)
					break
				}
			}
		}
		errs = append(errs, fieldErr(field, "%s organisation %q has %d validator(s); core requires at least 3 for HIGH and CRITICAL organisations", qual, d, count[d]))
	}
	return errs
}

func qualityFromRank(r int) Quality {
	return [...]Quality{QualityLow, QualityMedium, QualityHigh, QualityCritical}[r]
}

func checkFaultTolerance(q QuorumSet, entries []qsetEntry, isValidator bool) []error {
	var errs []error
	qs := generateQuorumSet(entries)

	domains := map[string]bool{}
	highest := 0
	for _, e := range entries {
		domains[e.domain] = true
		highest = max(highest, e.quality)
	}

	// setValidatorWeightConfig: a validator must lean on someone.
	if isValidator && highest == QualityLow.rank() {
		errs = append(errs, fieldErr("validators", "a validator node needs at least one validator (or its own home domain) with a quality above LOW"))
	}

	// Core judges a one-organisation set by simple majority and anything
	// larger by byzantine fault tolerance.
	level := levelBFT
	if len(domains) == 1 {
		level = levelSimpleMajority
	}
	minThreshold := defaultThreshold(qs, level)
	topLevel := len(qs.validators) + len(qs.inner)

	var failureSafety int
	explicit := q.FailureSafety != nil && *q.FailureSafety != -1
	if explicit {
		failureSafety = *q.FailureSafety
	} else {
		failureSafety = topLevel - minThreshold
	}

	blocking := closestVBlockingSize(qs)
	if failureSafety >= blocking {
		if explicit {
			errs = append(errs, fieldErr("failureSafety", "%d is too high: %d failed validator(s) can already block this quorum set", failureSafety, blocking))
		} else {
			errs = append(errs, fieldErr("failureSafety", "the automatic value %d is too high: %d failed validator(s) can already block this quorum set; set failureSafety explicitly", failureSafety, blocking))
		}
	}

	if !q.UnsafeQuorum {
		if failureSafety == 0 {
			if explicit {
				errs = append(errs, fieldErr("failureSafety", "0 requires unsafeQuorum: true"))
			} else {
				errs = append(errs, fieldErr("unsafeQuorum", "must be true: with %d organisation(s) (%d top-level quorum entries) the quorum set tolerates no validator failure, so core computes FAILURE_SAFETY=0; typically 4 or more organisations of the top quality are needed to tolerate one", len(domains), topLevel))
			}
		}
		if qs.threshold < minThreshold {
			errs = append(errs, fieldErr("unsafeQuorum", "must be true: the generated threshold %d is below the safe minimum %d", qs.threshold, minThreshold))
		}
		if !hasArchiveBlocking(qs, entries) {
			errs = append(errs, fieldErr("validators", "validators with a history archive do not block every quorum; add history to more validators or set unsafeQuorum: true"))
		}
	}

	if msg := quorumSetInsanity(qs, !q.UnsafeQuorum); msg != "" {
		errs = append(errs, fieldErr("validators", "core would reject the generated quorum set: %s", msg))
	}
	return errs
}

func hasArchiveBlocking(qs coreQSet, entries []qsetEntry) bool {
	archives := map[string]bool{}
	for _, e := range entries {
		if e.hasHistory {
			archives[e.id] = true
		}
	}
	return isVBlocking(qs, archives)
}

// checkArchiveURL keeps History to what can be embedded, unquoted, in the
// curl command core runs through a shell, and to what core's {0}/{1}
// substitution leaves alone.
func checkArchiveURL(s string) error {
	if strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune("\"'`$\\;&|<>(){}*?!#^[]", r) || r >= utf8.RuneSelf
	}) {
		return fmt.Errorf("%q must be a plain http(s) URL without spaces, quotes or shell metacharacters", s)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must be an http(s) archive base URL like https://history.example.org/archive", s)
	}
	return nil
}

// checkPeerAddress accepts host or host:port, which is what core parses.
func checkPeerAddress(s string) error {
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune("\"'\\/@", r)
	}) {
		return fmt.Errorf("%q must be host or host:port", s)
	}
	host, port := s, ""
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("%q has an invalid port", s)
		}
	}
	if host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	return nil
}

// ---- A re-implementation of core's quorum set generation and checks. ----
//
// Only the sizes and thresholds matter for the checks above, so the inner
// sets are not sorted the way core's normalizeQSet sorts them.

type coreQSet struct {
	threshold  int
	validators []string
	inner      []coreQSet
}

type thresholdLevel int

const (
	levelSimpleMajority thresholdLevel = iota
	levelBFT
	levelAllRequired
)

// defaultThreshold mirrors computeDefaultThreshold: n-f of n=2f+1 for simple
// majority (only for flat sets), all of them, or n-f of n=3f+1.
func defaultThreshold(qs coreQSet, level thresholdLevel) int {
	n := len(qs.validators) + len(qs.inner)
	switch {
	case n == 0:
		return 0
	case level == levelSimpleMajority && len(qs.inner) == 0:
		return n - (n-1)/2
	case level == levelAllRequired:
		return n
	default:
		return n - (n-1)/3
	}
}

// generateQuorumSet mirrors Config::generateQuorumSet: entries sorted by
// quality (highest first) then domain; each organisation of the current
// quality becomes an inner set at simple majority; everything of lower
// quality is one more inner set, built the same way one level down.
func generateQuorumSet(entries []qsetEntry) coreQSet {
	sorted := append([]qsetEntry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].quality != sorted[j].quality {
			return sorted[i].quality > sorted[j].quality
		}
		return sorted[i].domain < sorted[j].domain
	})
	qs := generateLevel(sorted, QualityCritical.rank())
	simplify(&qs)
	return qs
}

func generateLevel(es []qsetEntry, quality int) coreQSet {
	var qs coreQSet
	i := 0
	for i < len(es) && es[i].quality == quality {
		var org coreQSet
		j := i
		for ; j < len(es) && es[j].domain == es[i].domain && es[j].quality == quality; j++ {
			org.validators = append(org.validators, es[j].id)
		}
		org.threshold = defaultThreshold(org, levelSimpleMajority)
		qs.inner = append(qs.inner, org)
		i = j
	}
	if i < len(es) {
		qs.inner = append(qs.inner, generateLevel(es[i:], es[i].quality))
	}
	level := levelBFT
	if quality == QualityCritical.rank() {
		level = levelAllRequired
	}
	qs.threshold = defaultThreshold(qs, level)
	return qs
}

// simplify mirrors normalizeQSetSimplify: one-validator inner sets are
// lifted into their parent and a set that is just a wrapper around one inner
// set is replaced by it.
func simplify(qs *coreQSet) {
	var inner []coreQSet
	for _, in := range qs.inner {
		simplify(&in)
		if in.threshold == 1 && len(in.validators) == 1 && len(in.inner) == 0 {
			qs.validators = append(qs.validators, in.validators[0])
		} else {
			inner = append(inner, in)
		}
	}
	qs.inner = inner
	if qs.threshold == 1 && len(qs.validators) == 0 && len(qs.inner) == 1 {
		*qs = qs.inner[0]
	}
}

// closestVBlockingSize mirrors LocalNode::findClosestVBlocking when every
// node is considered: the fewest validators whose failure blocks every
// quorum slice.
func closestVBlockingSize(qs coreQSet) int {
	need := len(qs.validators) + len(qs.inner) - qs.threshold + 1
	costs := make([]int, 0, len(qs.validators)+len(qs.inner))
	for range qs.validators {
		costs = append(costs, 1)
	}
	for _, in := range qs.inner {
		costs = append(costs, closestVBlockingSize(in))
	}
	sort.Ints(costs)
	total := 0
	for i := 0; i < need && i < len(costs); i++ {
		total += costs[i]
	}
	return total
}

// isVBlocking mirrors LocalNode::isVBlocking.
func isVBlocking(qs coreQSet, nodes map[string]bool) bool {
	if qs.threshold == 0 {
		return false
	}
	left := len(qs.validators) + len(qs.inner) - qs.threshold + 1
	for _, v := range qs.validators {
		if nodes[v] {
			left--
		}
	}
	for _, in := range qs.inner {
		if isVBlocking(in, nodes) {
			left--
		}
	}
	return left <= 0
}

// quorumSetInsanity mirrors isQuorumSetSane and returns core's reason, or ""
// when the set is sane.
func quorumSetInsanity(qs coreQSet, extraChecks bool) string {
	const maxNesting = 4
	seen := map[string]bool{}
	count := 0
	var check func(qs coreQSet, depth int) string
	check = func(qs coreQSet, depth int) string {
		if depth > maxNesting {
			return "maximum quorum nesting level exceeded"
		}
		if qs.threshold < 1 {
			return "threshold must be greater than 0"
		}
		entries := len(qs.validators) + len(qs.inner)
		if qs.threshold > entries {
			return "threshold exceeds total number of entries"
		}
		if extraChecks && qs.threshold < entries-qs.threshold+1 {
			return "threshold is lower than the v-blocking size (< 51%)"
		}
		count += len(qs.validators)
		for _, v := range qs.validators {
			if seen[v] {
				return "duplicate node found in quorum configuration"
			}
			seen[v] = true
		}
		for _, in := range qs.inner {
			if msg := check(in, depth+1); msg != "" {
				return msg
			}
		}
		return ""
	}
	if msg := check(qs, 0); msg != "" {
		return msg
	}
	if count < 1 || count > 1000 {
		return "total number of nodes in a quorum must be within 1 and 1000"
	}
	return ""
}
