// Package buildinfo is what a binary knows about its own build: version, commit and the image it
// was built into. `make build` and the image builder (internal/image) set them at link time.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// These are set with -ldflags "-X <package>.version=..." (see LDFlags); -X can only set
// package-level string variables, which is why these exist, and nothing writes them at run time.
var (
	version = "dev"
	commit  = ""
	image   = ""
)

// Info describes one build.
type Info struct {
	Version string
	Commit  string
	// Image is the image the binary was built into, empty for a binary built outside one.
	Image string
	Go    string
}

// Get returns this binary's build information. Without a commit from the linker it falls back to
// the VCS revision the go command stamps into builds from a git checkout.
func Get() Info {
	info := Info{Version: version, Commit: commit, Image: image, Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if info.Commit == "" {
		info.Commit = vcsRevision()
	}
	return info
}

func vcsRevision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, modified := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if modified {
		rev += "-dirty"
	}
	return rev
}

// String is the `version` command's output.
func (i Info) String() string {
	img := i.Image
	if img == "" {
		img = "none (not built into an image)"
	}
	return fmt.Sprintf("version: %s\ncommit: %s\nimage: %s\ngo: %s\n", i.Version, i.Commit, img, i.Go)
}

// LDFlags are the linker flags that stamp a build with version, commit and image.
func LDFlags(version, commit, image string) string {
	const pkg = "github.com/stellar-operator/stellar-operator/internal/buildinfo"
	return fmt.Sprintf("-X %s.version=%s -X %s.commit=%s -X %s.image=%s", pkg, version, pkg, commit, pkg, image)
}
