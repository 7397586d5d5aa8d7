package stellar

import (
	"errors"
	"strings"
	"testing"

	"github.com/stellar/go-stellar-sdk/keypair"
)

// testKey returns a deterministic, valid public key so test tables stay
// readable and reproducible.
func testKey(i int) string {
	return keypair.MustParseFull(testSeed(i)).Address()
}

func testSeed(i int) string {
	var raw [32]byte
	raw[0], raw[1] = byte(i), byte(i>>8)
	kp, err := keypair.FromRawSeed(raw)
	if err != nil {
		panic(err)
	}
	return kp.Seed()
}

// flipLastChar keeps the shape of a strkey but breaks its checksum.
func flipLastChar(s string) string {
	last := s[len(s)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return s[:len(s)-1] + string(repl)
}

func TestNewSeedRoundTripsThroughAddressFromSeed(t *testing.T) {
	seed, address, err := NewSeed()
	if err != nil {
		t.Fatalf("NewSeed: %v", err)
	}
	if !IsValidSeed(seed) || !strings.HasPrefix(seed, "S") {
		t.Errorf("NewSeed returned an invalid seed")
	}
	if !IsValidAddress(address) || !strings.HasPrefix(address, "G") {
		t.Errorf("NewSeed returned an invalid address %q", address)
	}
	got, err := AddressFromSeed(seed)
	if err != nil {
		t.Fatalf("AddressFromSeed: %v", err)
	}
	if got != address {
		t.Errorf("AddressFromSeed = %q, want %q", got, address)
	}

	seed2, _, err := NewSeed()
	if err != nil {
		t.Fatalf("NewSeed: %v", err)
	}
	if seed2 == seed {
		t.Errorf("two calls to NewSeed returned the same seed")
	}
}

func TestAddressFromSeedErrorsNeverContainTheInput(t *testing.T) {
	seed := testSeed(1)
	inputs := map[string]string{
		"garbage":                    "not-a-seed-at-all",
		"a seed with a bad checksum": flipLastChar(seed),
		"a truncated seed":           seed[:40],
		"a public key":               testKey(1),
		"an empty string":            "",
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			_, err := AddressFromSeed(in)
			if err == nil {
				t.Fatal("expected an error")
			}
			if !errors.Is(err, ErrInvalidSeed) {
				t.Errorf("error %v is not ErrInvalidSeed", err)
			}
			if in != "" && strings.Contains(err.Error(), in) {
				t.Errorf("error text %q contains the input", err)
			}
			// Even a fragment of an almost-valid seed must not leak.
			if len(in) > 10 && strings.Contains(err.Error(), in[:10]) {
				t.Errorf("error text %q contains part of the input", err)
			}
		})
	}
}

func TestKeyValidation(t *testing.T) {
	addr, seed := testKey(7), testSeed(7)
	tests := []struct {
		name          string
		in            string
		address, seed bool
	}{
		{"a public key is a valid address", addr, true, false},
		{"a seed is a valid seed", seed, false, true},
		{"a public key with a broken checksum is invalid", flipLastChar(addr), false, false},
		{"a seed with a broken checksum is invalid", flipLastChar(seed), false, false},
		{"a lower-case public key is invalid", strings.ToLower(addr), false, false},
		{"a truncated public key is invalid", addr[:55], false, false},
		{"an empty string is invalid", "", false, false},
		{"a muxed account is not a public key", "MA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVAAAAAAAAAAAAAJLK", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsValidAddress(tt.in); got != tt.address {
				t.Errorf("IsValidAddress = %v, want %v", got, tt.address)
			}
			if got := IsValidSeed(tt.in); got != tt.seed {
				t.Errorf("IsValidSeed = %v, want %v", got, tt.seed)
			}
		})
	}
}
