package buildinfo

import (
	"strings"
	"testing"
)

// LDFlags are checked end to end by internal/image: the binary in the image prints them.
func TestAnUnstampedBuildSaysDev(t *testing.T) {
	info := Get()
	if info.Version != "dev" || info.Commit == "" || info.Image != "" {
		t.Fatalf("unstamped test binary: %+v", info)
	}
	if !strings.Contains(info.String(), "image: none") {
		t.Errorf("an unstamped build must say it has no image:\n%s", info)
	}
}
