package stellar

import (
	"errors"

	"github.com/stellar/go-stellar-sdk/keypair"
	"github.com/stellar/go-stellar-sdk/strkey"
)

// constError lets sentinel errors be constants, so the package needs no
// mutable globals while callers can still match them with errors.Is.
type constError string

func (e constError) Error() string { return string(e) }

// ErrInvalidSeed is deliberately fixed text: the underlying decode errors are
// dropped so that no part of a (possibly almost correct) secret can leak into
// logs, events or status conditions.
const ErrInvalidSeed constError = "not a valid Stellar secret seed"

// NewSeed generates a fresh node identity. The seed is what goes into the
// Secret; the address is safe to publish (status, quorum sets of peers).
func NewSeed() (seed, address string, err error) {
	kp, err := keypair.Random()
	if err != nil {
		return "", "", errors.New("generating Stellar keypair: " + err.Error())
	}
	return kp.Seed(), kp.Address(), nil
}

// AddressFromSeed derives the public address (G...) of a secret seed (S...).
// The error never contains the input.
func AddressFromSeed(seed string) (string, error) {
	kp, err := keypair.ParseFull(seed)
	if err != nil {
		return "", ErrInvalidSeed
	}
	return kp.Address(), nil
}

// IsValidAddress reports whether s is an ed25519 public key strkey (G...) with
// a correct checksum; a typo in a validator key would otherwise only surface
// when stellar-core refuses to start.
func IsValidAddress(s string) bool {
	_, err := strkey.Decode(strkey.VersionByteAccountID, s)
	return err == nil
}

// IsValidSeed reports whether s is an ed25519 secret seed strkey (S...) with a
// correct checksum.
func IsValidSeed(s string) bool {
	_, err := strkey.Decode(strkey.VersionByteSeed, s)
	return err == nil
}
