package image_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stellar-operator/stellar-operator/internal/image"
)

// The image as `make image` builds it: both architectures compiled from this module, assembled,
// written as a layout and an archive, then opened from the archive the way a registry client would.
func TestTheBuiltImageRunsTheOperatorAsNonRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the operator twice")
	}
	spec := image.Spec{Repository: "example.org/stellar-operator", Version: "9.8.7", Revision: "0123abcd",
		Created: time.Unix(1700000000, 0).UTC(), Binaries: map[string]string{}}
	dir := t.TempDir()
	ctx := context.Background()
	for _, arch := range []string{"amd64", "arm64"} {
		path, err := image.Compile(ctx, "../..", dir, arch, spec)
		if err != nil {
			t.Fatal(err)
		}
		spec.Binaries[arch] = path
	}
	idx, err := image.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	layoutDir := filepath.Join(dir, "oci")
	if err := image.WriteLayout(layoutDir, idx, spec.Version); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "image.oci.tar")
	if err := image.WriteArchive(archive, layoutDir, spec.Created); err != nil {
		t.Fatal(err)
	}

	opened := openArchive(t, archive, spec.Version)
	want, _ := idx.Digest()
	if got, _ := opened.Digest(); got != want {
		t.Fatalf("the archive holds index %s, built %s", got, want)
	}
	manifest, err := opened.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if manifest.MediaType != types.OCIImageIndex {
		t.Errorf("index media type %s", manifest.MediaType)
	}
	assertLabels(t, "index", manifest.Annotations, spec)
	platforms := map[string]v1.Image{}
	for _, desc := range manifest.Manifests {
		img, err := opened.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		platforms[desc.Platform.String()] = img
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.OS+"/"+cfg.Architecture != desc.Platform.OS+"/"+desc.Platform.Architecture {
			t.Errorf("%s: config says %s/%s", desc.Platform, cfg.OS, cfg.Architecture)
		}
		if strings.Join(cfg.Config.Entrypoint, " ") != "/stellar-operator" || cfg.Config.User != "65532:65532" {
			t.Errorf("%s: entrypoint %q, user %q", desc.Platform, cfg.Config.Entrypoint, cfg.Config.User)
		}
		if !cfg.Created.Time.Equal(spec.Created) {
			t.Errorf("%s: created %s, want SOURCE_DATE_EPOCH %s", desc.Platform, cfg.Created, spec.Created)
		}
		assertLabels(t, desc.Platform.String()+" config", cfg.Config.Labels, spec)
	}
	if len(platforms) != 2 || platforms["linux/amd64"] == nil || platforms["linux/arm64/v8"] == nil {
		t.Fatalf("platforms in the index: %v", keys(platforms))
	}

	files := extract(t, platforms["linux/amd64"], dir)
	if files["etc/passwd"] == "" || !strings.Contains(readFile(t, files["etc/passwd"]), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd does not name the nonroot user")
	}
	if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
		out, err := exec.Command(files["stellar-operator"], "version").CombinedOutput()
		if err != nil {
			t.Fatalf("the binary from the image: %v\n%s", err, out)
		}
		for _, line := range []string{"version: 9.8.7", "commit: 0123abcd", "image: example.org/stellar-operator:9.8.7"} {
			if !strings.Contains(string(out), line+"\n") {
				t.Errorf("`stellar-operator version` from the image lacks %q:\n%s", line, out)
			}
		}
	}

	// The same binaries and SOURCE_DATE_EPOCH give the same bytes: rebuild and compare digests.
	again, err := image.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := again.Digest(); d != want {
		t.Errorf("a second build gave index %s, the first %s", d, want)
	}
	secondArchive := filepath.Join(dir, "again.oci.tar")
	if err := image.WriteLayout(filepath.Join(dir, "oci2"), again, spec.Version); err != nil {
		t.Fatal(err)
	}
	if err := image.WriteArchive(secondArchive, filepath.Join(dir, "oci2"), spec.Created); err != nil {
		t.Fatal(err)
	}
	if readFile(t, archive) != readFile(t, secondArchive) {
		t.Errorf("two archives of the same build differ")
	}
}

func assertLabels(t *testing.T, what string, got map[string]string, spec image.Spec) {
	t.Helper()
	for k, v := range map[string]string{
		"org.opencontainers.image.source":   "https://github.com/stellar-operator/stellar-operator",
		"org.opencontainers.image.version":  spec.Version,
		"org.opencontainers.image.revision": spec.Revision,
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.title":    "stellar-operator",
		"org.opencontainers.image.created":  "2023-11-14T22:13:20Z",
	} {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got[k], v)
		}
	}
}

// openArchive unpacks an OCI archive and returns the index tagged tag.
func openArchive(t *testing.T, archive, tag string) v1.ImageIndex {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "unpacked")
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if hdr.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := root.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, desc := range top.Manifests {
		if desc.Annotations[image.RefNameAnnotation] == tag {
			idx, err := root.ImageIndex(desc.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return idx
		}
	}
	t.Fatalf("no image tagged %s in the archive", tag)
	return nil
}

// extract writes the flattened file system of img under dir and maps paths to files.
func extract(t *testing.T, img v1.Image, dir string) map[string]string {
	t.Helper()
	root := filepath.Join(dir, "rootfs")
	rc := mutate.Extract(img)
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	files := map[string]string{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		path := filepath.Join(root, filepath.FromSlash(hdr.Name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, os.FileMode(hdr.Mode)&0o777); err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(hdr.Name, "/")] = path
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func keys(m map[string]v1.Image) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
