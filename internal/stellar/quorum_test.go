package stellar

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// orgs builds n organisations of perOrg validators each, all with a
// homeDomains entry of the given quality and with history archives.
func orgs(quality Quality, n, perOrg int) QuorumSet {
	var q QuorumSet
	for o := range n {
		domain := fmt.Sprintf("org%d.example", o)
		q.HomeDomains = append(q.HomeDomains, HomeDomain{Domain: domain, Quality: quality})
		for v := range perOrg {
			q.Validators = append(q.Validators, Validator{
				Name:       fmt.Sprintf("org%d-v%d", o, v),
				HomeDomain: domain,
				PublicKey:  testKey(100 + o*10 + v),
				Address:    fmt.Sprintf("core%d.org%d.example:11625", v, o),
				History:    fmt.Sprintf("https://history.org%d.example/v%d", o, v),
			})
		}
	}
	return q
}

func with(q QuorumSet, edit func(*QuorumSet)) QuorumSet {
	edit(&q)
	return q
}

func TestValidateQuorum(t *testing.T) {
	badKey := flipLastChar(testKey(3))
	tests := []struct {
		name string
		q    QuorumSet
		// want lists substrings; each must appear in some error. An empty
		// list means the quorum set must be accepted.
		want []string
	}{
		{
			name: "four HIGH organisations of three validators pass without unsafeQuorum",
			q:    orgs(QualityHigh, 4, 3),
		},
		{
			name: "a validator without any quality is rejected",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.Validators = append(q.Validators, Validator{Name: "loner", HomeDomain: "loner.example", PublicKey: testKey(1)})
			}),
			want: []string{`validators[12].quality: validator "loner" has no quality`, `"loner.example"`},
		},
		{
			name: "a validator quality that repeats its home domain's quality is rejected",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.Validators[1].Quality = QualityHigh
			}),
			want: []string{`validators[1].quality: must be empty`, `homeDomains[0]`},
		},
		{
			name: "a duplicate home domain entry is rejected",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.HomeDomains = append(q.HomeDomains, HomeDomain{Domain: "org1.example", Quality: QualityMedium})
			}),
			want: []string{`homeDomains[4].domain: "org1.example" is already listed as homeDomains[1]`},
		},
		{
			name: "a home domain with an unknown quality is rejected",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.HomeDomains[2].Quality = "SUPREME"
			}),
			want: []string{`homeDomains[2].quality: "SUPREME" is not one of CRITICAL, HIGH, MEDIUM, LOW`},
		},
		{
			name: "a home domain without a quality is rejected",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.HomeDomains[3].Quality = ""
			}),
			want: []string{`homeDomains[3].quality: is required for home domain "org3.example"`},
		},
		{
			name: "a home domain entry without a domain is rejected",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.HomeDomains = append(q.HomeDomains, HomeDomain{Quality: QualityLow})
			}),
			want: []string{`homeDomains[4].domain: is required`},
		},
		{
			name: "a validator with a lower-case quality is rejected",
			q:    QuorumSet{Validators: []Validator{{Name: "a", HomeDomain: "a.example", PublicKey: testKey(1), Quality: "medium"}}, UnsafeQuorum: true},
			want: []string{`validators[0].quality: "medium" is not one of CRITICAL, HIGH, MEDIUM, LOW`},
		},
		{
			name: "validators of one home domain with different qualities are rejected",
			q: QuorumSet{UnsafeQuorum: true, Validators: []Validator{
				{Name: "a", HomeDomain: "x.example", PublicKey: testKey(1), Quality: QualityMedium},
				{Name: "b", HomeDomain: "x.example", PublicKey: testKey(2), Quality: QualityLow},
			}},
			want: []string{`validators[1].quality: LOW differs from MEDIUM on validators[0]`, `"x.example"`},
		},
		{
			name: "a HIGH validator without history is rejected",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.Validators[2].History = ""
			}),
			want: []string{`validators[2].history: is required for HIGH validator "org0-v2"`},
		},
		{
			name: "a CRITICAL validator without history is rejected",
			q: with(orgs(QualityCritical, 4, 3), func(q *QuorumSet) {
				q.Validators[5].History = ""
			}),
			want: []string{`validators[5].history: is required for CRITICAL validator "org1-v2"`},
		},
		{
			name: "a MEDIUM validator without history is accepted",
			q: with(orgs(QualityMedium, 4, 3), func(q *QuorumSet) {
				q.Validators[0].History = ""
			}),
		},
		{
			name: "a HIGH organisation with two validators is rejected",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.Validators = append(q.Validators[:3], q.Validators[4:]...)
			}),
			want: []string{`homeDomains[1]: HIGH organisation "org1.example" has 2 validator(s)`},
		},
		{
			name: "a CRITICAL organisation without a homeDomains entry names its first validator",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.Validators = append(q.Validators,
					Validator{Name: "c1", HomeDomain: "crit.example", PublicKey: testKey(1), Quality: QualityCritical, History: "https://h.crit.example/1"},
					Validator{Name: "c2", HomeDomain: "crit.example", PublicKey: testKey(2), Quality: QualityCritical, History: "https://h.crit.example/2"},
				)
			}),
			want: []string{`validators[12].homeDomain: CRITICAL organisation "crit.example" has 2 validator(s)`},
		},
		{
			name: "a public key with a bad checksum is rejected",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.Validators[2].PublicKey = badKey
			}),
			want: []string{fmt.Sprintf(`validators[2].publicKey: %q is not a valid Stellar public key`, badKey)},
		},
		{
			name: "a truncated public key is rejected",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.Validators[2].PublicKey = "GABC"
			}),
			want: []string{`validators[2].publicKey: "GABC" is not a valid Stellar public key`},
		},
		{
			name: "a secret seed in place of a public key is rejected",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.Validators[4].PublicKey = testSeed(9)
			}),
			want: []string{`validators[4].publicKey:`, `is not a valid Stellar public key`},
		},
		{
			name: "a duplicate validator name is rejected",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.Validators[7].Name = q.Validators[0].Name
			}),
			want: []string{`validators[7].name: "org0-v0" is already used by validators[0]`},
		},
		{
			name: "a duplicate public key is rejected",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.Validators[8].PublicKey = q.Validators[1].PublicKey
			}),
			want: []string{`validators[8].publicKey:`, `is already used by validators[1]`},
		},
		{
			name: "a validator without name, home domain or key is rejected on each field",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.Validators = append(q.Validators, Validator{})
			}),
			want: []string{`validators[12].name: is required`, `validators[12].homeDomain: is required`, `validators[12].publicKey: is required`},
		},
		{
			name: "an empty quorum set is rejected",
			q:    QuorumSet{UnsafeQuorum: true},
			want: []string{`validators: at least one validator is required`},
		},
		{
			name: "two organisations without unsafeQuorum are rejected",
			q:    orgs(QualityHigh, 2, 3),
			want: []string{`unsafeQuorum: must be true: with 2 organisation(s)`},
		},
		{
			name: "three organisations without unsafeQuorum are rejected",
			q:    orgs(QualityHigh, 3, 3),
			want: []string{`unsafeQuorum: must be true: with 3 organisation(s)`},
		},
		{
			name: "three organisations with unsafeQuorum are accepted",
			q:    with(orgs(QualityHigh, 3, 3), func(q *QuorumSet) { q.UnsafeQuorum = true }),
		},
		{
			name: "three organisations with an explicit failureSafety of 1 are accepted as core does",
			q:    with(orgs(QualityHigh, 3, 3), func(q *QuorumSet) { q.FailureSafety = intPtr(1) }),
		},
		{
			name: "a single organisation of three HIGH validators passes without unsafeQuorum because core uses simple majority",
			q:    orgs(QualityHigh, 1, 3),
		},
		{
			name: "a single MEDIUM validator needs unsafeQuorum",
			q:    orgs(QualityMedium, 1, 1),
			want: []string{`unsafeQuorum: must be true: with 1 organisation(s)`},
		},
		{
			name: "a single MEDIUM validator with unsafeQuorum and failureSafety 0 is accepted",
			q:    with(orgs(QualityMedium, 1, 1), func(q *QuorumSet) { q.UnsafeQuorum = true; q.FailureSafety = intPtr(0) }),
		},
		{
			name: "an explicit failureSafety of 0 without unsafeQuorum is rejected",
			q:    with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) { q.FailureSafety = intPtr(0) }),
			want: []string{`failureSafety: 0 requires unsafeQuorum: true`},
		},
		{
			name: "a failureSafety as large as the smallest blocking set is rejected even with unsafeQuorum",
			// Four organisations: blocking two of them takes 2+2 validators.
			q:    with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) { q.FailureSafety = intPtr(4); q.UnsafeQuorum = true }),
			want: []string{`failureSafety: 4 is too high: 4 failed validator(s)`},
		},
		{
			name: "a failureSafety just below the smallest blocking set is accepted",
			q:    with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) { q.FailureSafety = intPtr(3) }),
		},
		{
			name: "a failureSafety of -1 means automatic",
			q:    with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) { q.FailureSafety = intPtr(-1) }),
		},
		{
			name: "a failureSafety below -1 is rejected",
			q:    with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) { q.FailureSafety = intPtr(-2) }),
			want: []string{`failureSafety: -2 is below -1`},
		},
		{
			name: "validators without archives that can form a quorum on their own are rejected",
			q: with(orgs(QualityMedium, 4, 1), func(q *QuorumSet) {
				for i := range q.Validators {
					q.Validators[i].History = ""
				}
			}),
			want: []string{`validators: validators with a history archive do not block every quorum`},
		},
		{
			name: "lower-quality organisations are nested below the top level",
			// 4 HIGH organisations carry the safety; 2 MEDIUM ones ride along.
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.Validators = append(q.Validators,
					Validator{Name: "m1", HomeDomain: "m1.example", PublicKey: testKey(1), Quality: QualityMedium},
					Validator{Name: "m2", HomeDomain: "m2.example", PublicKey: testKey(2), Quality: QualityLow},
				)
			}),
		},
		{
			name: "an archive URL with shell metacharacters is rejected",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.Validators[0].History = "https://h.example/$(reboot)"
			}),
			want: []string{`validators[0].history: "https://h.example/$(reboot)" must be a plain http(s) URL`},
		},
		{
			name: "an archive given as a command instead of a URL is rejected",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.Validators[3].History = "curl -sf https://h.example/{0} -o {1}"
			}),
			want: []string{`validators[3].history:`},
		},
		{
			name: "an archive with a non-http scheme is rejected",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.Validators[3].History = "s3://bucket/archive"
			}),
			want: []string{`validators[3].history: "s3://bucket/archive" must be an http(s) archive base URL`},
		},
		{
			name: "an address with an invalid port is rejected",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.Validators[6].Address = "core.example:99999"
			}),
			want: []string{`validators[6].address: "core.example:99999" has an invalid port`},
		},
		{
			name: "an address without a port is accepted because core defaults it",
			q: with(orgs(QualityHigh, 4, 3), func(q *QuorumSet) {
				q.Validators[6].Address = "core.example"
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := ValidateQuorum(tt.q)
			if len(tt.want) == 0 {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors:\n%s", joinErrs(errs))
				}
				return
			}
			if len(errs) == 0 {
				t.Fatalf("expected errors containing %q, got none", tt.want)
			}
			all := joinErrs(errs)
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("no error contains %q; got:\n%s", w, all)
				}
			}
			for _, err := range errs {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field == "" {
					t.Errorf("error %q does not name a field", err)
				}
			}
		})
	}
}

func TestValidateQuorumReportsEveryProblem(t *testing.T) {
	q := orgs(QualityHigh, 4, 3)
	q.Validators[0].PublicKey = "GABC"
	q.Validators[4].History = ""
	q.Validators[7].Name = "org0-v1"
	q.HomeDomains[3].Quality = "BEST"
	errs := ValidateQuorum(q)
	want := []string{"validators[0].publicKey", "validators[4].history", "validators[7].name", "homeDomains[3].quality"}
	all := joinErrs(errs)
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("missing an error for %s; got:\n%s", w, all)
		}
	}
}

func joinErrs(errs []error) string {
	var b strings.Builder
	for _, err := range errs {
		b.WriteString(err.Error())
		b.WriteByte('\n')
	}
	return b.String()
}

// The generated quorum sets below were worked out by hand from core's
// generateQuorumSet; they pin the re-implementation the safety checks use.
func TestGeneratedQuorumSetShape(t *testing.T) {
	entries := func(q QuorumSet) []qsetEntry {
		var es []qsetEntry
		for _, v := range q.Validators {
			es = append(es, qsetEntry{id: v.PublicKey, domain: v.HomeDomain, quality: QualityHigh.rank(), hasHistory: true})
		}
		return es
	}
	tests := []struct {
		name                      string
		q                         QuorumSet
		threshold, top, vblocking int
	}{
		{"one organisation of three collapses to a flat 2-of-3", orgs(QualityHigh, 1, 3), 2, 3, 2},
		{"seven organisations need five of them", orgs(QualityHigh, 7, 3), 5, 7, 6},
		{"four organisations need three of them", orgs(QualityHigh, 4, 3), 3, 4, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qs := generateQuorumSet(entries(tt.q))
			if qs.threshold != tt.threshold || len(qs.validators)+len(qs.inner) != tt.top {
				t.Errorf("got threshold %d of %d top-level entries, want %d of %d", qs.threshold, len(qs.validators)+len(qs.inner), tt.threshold, tt.top)
			}
			if got := closestVBlockingSize(qs); got != tt.vblocking {
				t.Errorf("closest v-blocking set has %d validators, want %d", got, tt.vblocking)
			}
		})
	}
}
