package render

import (
	"net/netip"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
)

// The order in which claims are granted must not change with how it is computed: an upgrade that
// re-orders two nodes created in the same second would move an address between them.
func FuzzNodeKeyLessIsNodeKeyOrder(f *testing.F) {
	for _, seed := range [][4]string{{"a", "x", "a-b", "y"}, {"a-b", "x", "a", "y"}, {"team", "a-b", "team-a", "b"},
		{"ns", "b", "ns", "a"}, {"ns", "a", "ns", "a"}, {"a.b", "z", "a", "0"}, {"", "", "a", ""}} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	f.Fuzz(func(t *testing.T, nsA, nameA, nsB, nameB string) {
		a := &stellarv1.StellarNode{ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: nameA}}
		b := &stellarv1.StellarNode{ObjectMeta: metav1.ObjectMeta{Namespace: nsB, Name: nameB}}
		if got, want := nodeKeyLess(a, b), NodeKey(a) < NodeKey(b); got != want {
			t.Errorf("nodeKeyLess(%q, %q) = %v, want %v", NodeKey(a), NodeKey(b), got, want)
		}
	})
}

func FuzzPoolEntriesAreSeenAsPoolContainsSawThem(f *testing.F) {
	f.Add("192.0.2.0/24", "192.0.2.7")
	f.Add("192.0.2.10-192.0.2.20", "192.0.2.15")
	f.Add(" 2001:db8::/64 ", "2001:db8::1")
	f.Add("192.0.2.1/32", "192.0.2.2")
	f.Fuzz(func(t *testing.T, entry, ip string) {
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			return
		}
		bits, ok := parsePoolAddresses([]string{entry}).contains(addr)
		wantBits, wantOK := referencePoolContains(entry, addr)
		if bits != wantBits || ok != wantOK {
			t.Errorf("%q holds %s: (%d, %v), want (%d, %v)", entry, addr, bits, ok, wantBits, wantOK)
		}
	})
}

// referencePoolContains parses the entry on every call, as PoolContains did before entries were
// parsed once a pass.
func referencePoolContains(entry string, ip netip.Addr) (int, bool) {
	a := strings.TrimSpace(entry)
	if prefix, err := netip.ParsePrefix(a); err == nil {
		if prefix.Masked().Contains(ip) {
			return prefix.Bits(), true
		}
		return 0, false
	}
	from, to, ok := strings.Cut(a, "-")
	if !ok {
		return 0, false
	}
	lo, ok1 := stellarv1.ParseAddress(from)
	hi, ok2 := stellarv1.ParseAddress(to)
	if ok1 && ok2 && lo.Compare(ip) <= 0 && ip.Compare(hi) <= 0 {
		return ip.BitLen(), true
	}
	return 0, false
}
