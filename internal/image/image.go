// Package image builds the operator's container image from Go, without a container engine: a
// static binary per architecture on a scratch base made here (a non-root user and nothing else),
// written as an OCI image layout and an OCI archive. Every timestamp is the build's
// SOURCE_DATE_EPOCH and every archive is written in a fixed order, so the same commit always
// gives the same bytes.
package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed facts.
const (
	// Entrypoint is the operator binary; the health sidecar runs it too (`health`).
	Entrypoint = "/stellar-operator"
	// User is distroless' "nonroot", which the manifests' runAsNonRoot accepts.
	User   = "65532:65532"
	userID = 65532
	// Source is the repository, for the source label.
	Source = "https://github.com/stellar-operator/stellar-operator"
	// License is the SPDX identifier of LICENSE.
	License = "Apache-2.0"
	Title   = "stellar-operator"
)

// Spec is one build of the image.
type Spec struct {
	// Repository is where the image is published, e.g. ghcr.io/stellar-operator/stellar-operator.
	Repository string
	Version    string
	Revision   string
	// Created is SOURCE_DATE_EPOCH: the commit's time, not the build's.
	Created time.Time
	// Binaries maps GOARCH (amd64, arm64) to the path of the linux binary built for it.
	Binaries map[string]string
}

// Reference is the image's tagged name, as the manifests and the binary's `version` name it.
func (s Spec) Reference() string { return s.Repository + ":" + s.Version }

// Labels are the OCI annotations on the image config, every manifest and the index.
func (s Spec) Labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.source":   Source,
		"org.opencontainers.image.version":  s.Version,
		"org.opencontainers.image.revision": s.Revision,
		"org.opencontainers.image.licenses": License,
		"org.opencontainers.image.title":    Title,
		"org.opencontainers.image.created":  s.Created.UTC().Format(time.RFC3339),
	}
}

// Build assembles the multi-architecture image index from the binaries.
func Build(spec Spec) (v1.ImageIndex, error) {
	if len(spec.Binaries) == 0 {
		return nil, fmt.Errorf("no binaries to put in the image")
	}
	base, err := layer(baseFiles(spec.Created))
	if err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	arches := make([]string, 0, len(spec.Binaries))
	for arch := range spec.Binaries {
		arches = append(arches, arch)
	}
	sort.Strings(arches)
	var adds []mutate.IndexAddendum
	for _, arch := range arches {
		img, err := platformImage(spec, arch, base)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", arch, err)
		}
		platform := Platform(arch)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &platform, Annotations: spec.Labels()}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	annotated, ok := mutate.Annotations(idx, spec.Labels()).(v1.ImageIndex)
	if !ok {
		return nil, fmt.Errorf("annotating the index")
	}
	return annotated, nil
}

// Platform is the OCI platform of a GOARCH.
func Platform(arch string) v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: arch}
	if arch == "arm64" {
		p.Variant = "v8"
	}
	return p
}

func platformImage(spec Spec, arch string, base v1.Layer) (v1.Image, error) {
	binary, err := os.ReadFile(spec.Binaries[arch])
	if err != nil {
		return nil, err
	}
	bin, err := layer([]file{{name: Entrypoint[1:], mode: 0o755, data: binary, modTime: spec.Created}})
	if err != nil {
		return nil, fmt.Errorf("binary layer: %w", err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	if img, err = mutate.AppendLayers(img, base, bin); err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	platform := Platform(arch)
	cfg.OS, cfg.Architecture, cfg.Variant = platform.OS, platform.Architecture, platform.Variant
	cfg.Created = v1.Time{Time: spec.Created.UTC()}
	cfg.Config = v1.Config{
		Entrypoint: []string{Entrypoint},
		User:       User,
		WorkingDir: "/",
		Labels:     spec.Labels(),
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return nil, err
	}
	annotated, ok := mutate.Annotations(img, spec.Labels()).(v1.Image)
	if !ok {
		return nil, fmt.Errorf("annotating the image")
	}
	return annotated, nil
}

// file is one entry of a layer.
type file struct {
	name    string
	mode    int64
	dir     bool
	uid     int
	data    []byte
	modTime time.Time
}

// baseFiles are the scratch base: the nonroot user and group (so tools that resolve the uid find
// a name), its home, and /tmp. No shell, no CA bundle: the operator talks to the apiserver with
// the service account's CA and to the sidecars over plain HTTP inside the pod network.
func baseFiles(created time.Time) []file {
	return []file{
		{name: "etc/", mode: 0o755, dir: true, modTime: created},
		{name: "etc/group", mode: 0o644, modTime: created, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "etc/passwd", mode: 0o644, modTime: created,
			data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "home/", mode: 0o755, dir: true, modTime: created},
		{name: "home/nonroot/", mode: 0o700, dir: true, uid: userID, modTime: created},
		{name: "tmp/", mode: 0o1777, dir: true, modTime: created},
	}
}

// layer is a gzip-compressed OCI layer holding files, in the given order.
func layer(files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.uid, ModTime: f.modTime, Format: tar.FormatPAX}
		if f.dir {
			hdr.Typeflag = tar.TypeDir
		} else {
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// PlatformSize is what one platform's image weighs in a registry.
type PlatformSize struct {
	Platform   string
	Compressed int64
}

// PlatformSizes are the compressed sizes (config, manifest and layers) per platform of idx.
func PlatformSizes(idx v1.ImageIndex) ([]PlatformSize, error) {
	manifest, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []PlatformSize
	for _, desc := range manifest.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return nil, err
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, err
		}
		size := desc.Size + m.Config.Size
		for _, l := range m.Layers {
			size += l.Size
		}
		out = append(out, PlatformSize{Platform: desc.Platform.String(), Compressed: size})
	}
	return out, nil
}
