package image

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/stellar-operator/stellar-operator/internal/buildinfo"
)

// Package is the operator's main package.
const Package = "github.com/stellar-operator/stellar-operator/cmd/stellar-operator"

// Compile builds the operator for linux/arch into dir/stellar-operator-<arch> with the go command
// found on PATH, from the module at moduleDir: static (CGO_ENABLED=0), stripped, without file
// system paths or VCS stamps (the commit comes through the linker flags), so the same commit and
// Go version give the same bytes.
func Compile(ctx context.Context, moduleDir, dir, arch string, spec Spec) (string, error) {
	out := filepath.Join(dir, "stellar-operator-"+arch)
	ldflags := "-s -w -buildid= " + buildinfo.LDFlags(spec.Version, spec.Revision, spec.Reference())
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, Package)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=-mod=readonly")
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build for linux/%s: %w\n%s", arch, err, output)
	}
	return out, nil
}
