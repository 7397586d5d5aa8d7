// Command image builds the operator's multi-architecture image without a container engine (`make
// image`): it compiles the operator for each architecture and writes an OCI image layout and an
// OCI archive under --out. It prints the index digest and each platform's compressed size.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/stellar-operator/stellar-operator/internal/image"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	repository := fs.String("repository", "ghcr.io/stellar-operator/stellar-operator", "where the image is published")
	version := fs.String("version", "", "version, also the tag (required)")
	revision := fs.String("revision", "", "commit the image is built from (required)")
	epoch := fs.Int64("source-date-epoch", -1, "the image's timestamps, in seconds since 1970 (required; the commit time)")
	platforms := fs.String("platforms", "amd64,arm64", "comma-separated GOARCH list (linux only)")
	out := fs.String("out", "build/image", "output directory: layout in oci/, archive stellar-operator-<version>.oci.tar")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version == "" || *revision == "" || *epoch < 0 {
		return fmt.Errorf("--version, --revision and --source-date-epoch are required")
	}
	spec := image.Spec{Repository: *repository, Version: *version, Revision: *revision,
		Created: time.Unix(*epoch, 0).UTC(), Binaries: map[string]string{}}
	binDir := filepath.Join(*out, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	started := time.Now()
	for _, arch := range strings.Split(*platforms, ",") {
		t := time.Now()
		path, err := image.Compile(ctx, ".", binDir, arch, spec)
		if err != nil {
			return err
		}
		spec.Binaries[arch] = path
		fmt.Printf("Compiled linux/%s in %.1fs\n", arch, time.Since(t).Seconds())
	}
	idx, err := image.Build(spec)
	if err != nil {
		return err
	}
	layoutDir := filepath.Join(*out, "oci")
	if err := image.WriteLayout(layoutDir, idx, *version); err != nil {
		return err
	}
	archive := filepath.Join(*out, "stellar-operator-"+*version+".oci.tar")
	if err := image.WriteArchive(archive, layoutDir, spec.Created); err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	sizes, err := image.PlatformSizes(idx)
	if err != nil {
		return err
	}
	fmt.Printf("Image %s@%s in %.1fs\n", spec.Reference(), digest, time.Since(started).Seconds())
	for _, s := range sizes {
		fmt.Printf("  %s: %d bytes compressed (%.1f MiB)\n", s.Platform, s.Compressed, float64(s.Compressed)/(1<<20))
	}
	fmt.Printf("Layout %s, archive %s\n", layoutDir, archive)
	return nil
}
