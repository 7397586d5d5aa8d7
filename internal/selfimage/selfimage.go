// Package selfimage finds the image the operator itself runs from. The health sidecar the operator
// adds to every load-balanced Stellar pod runs that image, so it must be one the cluster can pull:
// the operator's own (as CloudNativePG does for its instance manager), never a default tag that
// may not be published.
package selfimage

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Environment variables the install manifests set on the operator's container.
const (
	EnvPodName      = "POD_NAME"
	EnvPodNamespace = "POD_NAMESPACE"
	EnvImage        = "OPERATOR_IMAGE"
)

// ContainerName is the operator's container in its own Pod (config/manager, the Helm chart).
const ContainerName = "operator"

// Source says where the image came from, for the startup log.
type Source string

const (
	SourceFlag      Source = "--operator-image"
	SourcePod       Source = "the operator's Pod"
	SourcePodDigest Source = "the operator's Pod (pinned to the digest it runs)"
	SourceEnv       Source = "$" + EnvImage
)

// Sources are where the image can come from, in the order they win.
type Sources struct {
	// Flag is --operator-image, an explicit override.
	Flag string
	// Pod is the operator's own Pod; nil outside a Pod or when it could not be read (PodErr).
	Pod    *corev1.Pod
	PodErr error
	// Env is $OPERATOR_IMAGE, which the install manifests set to the image they deploy.
	Env string
}

// ErrNotFound means no source names an image.
var ErrNotFound = errors.New("cannot tell which image the operator runs from, which the health sidecar needs")

// Resolve picks the operator's image: the flag; else the image of the operator's own container,
// pinned to the digest the kubelet resolved when it reports one (so every sidecar runs exactly the
// operator's build even if the tag moves); else $OPERATOR_IMAGE.
func Resolve(s Sources) (string, Source, error) {
	if s.Flag != "" {
		return s.Flag, SourceFlag, nil
	}
	if image, source, ok := fromPod(s.Pod); ok {
		return image, source, nil
	}
	if s.Env != "" {
		return s.Env, SourceEnv, nil
	}
	why := "no --operator-image, no $" + EnvImage
	switch {
	case s.PodErr != nil:
		why += ", and the operator's Pod could not be read: " + s.PodErr.Error()
	case s.Pod != nil:
		why += fmt.Sprintf(", and Pod %s/%s has no container %q", s.Pod.Namespace, s.Pod.Name, ContainerName)
	default:
		why += ", and not in a Pod ($" + EnvPodName + " and $" + EnvPodNamespace + " unset)"
	}
	return "", "", fmt.Errorf("%w: %s; pass --operator-image or set $%s", ErrNotFound, why, EnvImage)
}

// fromPod is the image of the operator's container: the container named ContainerName, or the
// Pod's only container.
func fromPod(pod *corev1.Pod) (string, Source, bool) {
	if pod == nil {
		return "", "", false
	}
	var container *corev1.Container
	for i := range pod.Spec.Containers {
		if c := &pod.Spec.Containers[i]; c.Name == ContainerName || len(pod.Spec.Containers) == 1 {
			container = c
			break
		}
	}
	if container == nil || container.Image == "" {
		return "", "", false
	}
	if strings.Contains(container.Image, "@") {
		return container.Image, SourcePod, true
	}
	for _, st := range pod.Status.ContainerStatuses {
		if st.Name != container.Name {
			continue
		}
		if digest, ok := repoDigest(st.ImageID); ok {
			return repository(container.Image) + "@" + digest, SourcePodDigest, true
		}
	}
	return container.Image, SourcePod, true
}

// repoDigest is the manifest digest in a kubelet imageID such as
// "ghcr.io/o/op@sha256:…" or "docker-pullable://o/op@sha256:…". A bare "sha256:…" is the local
// image ID (a config digest), which no registry can serve: not a digest to pull by.
func repoDigest(imageID string) (string, bool) {
	_, digest, ok := strings.Cut(imageID, "@")
	if !ok || !strings.HasPrefix(digest, "sha256:") || len(digest) != len("sha256:")+64 {
		return "", false
	}
	return digest, true
}

// repository strips the tag from an image reference: "host:5000/o/op:1.0" is "host:5000/o/op".
func repository(image string) string {
	slash := strings.LastIndex(image, "/")
	if colon := strings.LastIndex(image, ":"); colon > slash {
		return image[:colon]
	}
	return image
}

// Lookup resolves the operator's image in a cluster: the flag, else its own Pod as named by the
// downward API ($POD_NAMESPACE/$POD_NAME), else $OPERATOR_IMAGE. reader must not be a cache that
// has not started (the manager's client before Start): use a direct client.
func Lookup(ctx context.Context, reader client.Reader, getenv func(string) string, flag string) (string, Source, error) {
	s := Sources{Flag: flag, Env: getenv(EnvImage)}
	if flag != "" {
		return Resolve(s)
	}
	name, namespace := getenv(EnvPodName), getenv(EnvPodNamespace)
	if name != "" && namespace != "" {
		pod := &corev1.Pod{}
		if err := reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, pod); err != nil {
			s.PodErr = fmt.Errorf("reading Pod %s/%s: %w", namespace, name, err)
		} else {
			s.Pod = pod
		}
	}
	return Resolve(s)
}
