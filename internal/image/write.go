package image

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// RefNameAnnotation tags an image in an OCI layout (`oci:DIR:TAG` for skopeo).
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// WriteLayout writes idx as the only image of a fresh OCI image layout in dir, tagged tag.
func WriteLayout(dir string, idx v1.ImageIndex, tag string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendIndex(idx, layout.WithAnnotations(map[string]string{RefNameAnnotation: tag}))
}

// WriteArchive packs the OCI layout in dir into a tar file (an "OCI archive": `docker load`,
// `podman load` and `skopeo copy oci-archive:` read it), entries sorted, owned by root, stamped
// with modTime.
func WriteArchive(path, dir string, modTime time.Time) error {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	out, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	defer func() { _ = out.Close() }()
	tw := tar.NewWriter(out)
	for _, name := range names {
		if err := addToArchive(tw, filepath.Join(dir, filepath.FromSlash(name)), name, modTime); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

func addToArchive(tw *tar.Writer, path, name string, modTime time.Time) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: name, Mode: 0o644, ModTime: modTime, Format: tar.FormatPAX}
	if info.IsDir() {
		hdr.Name, hdr.Mode, hdr.Typeflag = name+"/", 0o755, tar.TypeDir
		return tw.WriteHeader(hdr)
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	_, err = io.Copy(tw, f)
	return err
}
