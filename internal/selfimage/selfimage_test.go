package selfimage

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func operatorPod(image, imageID string, extra ...corev1.Container) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "stellar-system", Name: "stellar-operator-abc"},
		Spec:       corev1.PodSpec{Containers: append([]corev1.Container{{Name: ContainerName, Image: image}}, extra...)},
	}
	if imageID != "" {
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: ContainerName, Image: image, ImageID: imageID}}
	}
	return pod
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sources    Sources
		wantImage  string
		wantSource Source
		wantErr    string
	}{
		{name: "the flag overrides everything",
			sources:   Sources{Flag: "example.org/op:override", Pod: operatorPod("ghcr.io/o/op:1.0", "ghcr.io/o/op@"+digest), Env: "ghcr.io/o/op:env"},
			wantImage: "example.org/op:override", wantSource: SourceFlag},
		{name: "the Pod's image is pinned to the digest the kubelet resolved",
			sources:   Sources{Pod: operatorPod("ghcr.io/o/op:1.0", "ghcr.io/o/op@"+digest), Env: "ghcr.io/o/op:env"},
			wantImage: "ghcr.io/o/op@" + digest, wantSource: SourcePodDigest},
		{name: "a docker-pullable imageID gives its digest too",
			sources:   Sources{Pod: operatorPod("registry:5000/op:1.0", "docker-pullable://registry:5000/op@"+digest)},
			wantImage: "registry:5000/op@" + digest, wantSource: SourcePodDigest},
		{name: "a registry port is not mistaken for a tag",
			sources:   Sources{Pod: operatorPod("registry:5000/op", "registry:5000/op@"+digest)},
			wantImage: "registry:5000/op@" + digest, wantSource: SourcePodDigest},
		{name: "an image already given by digest is kept as written",
			sources:   Sources{Pod: operatorPod("ghcr.io/o/op:1.0@"+digest, "ghcr.io/o/op@sha256:"+strings.Repeat("f", 64))},
			wantImage: "ghcr.io/o/op:1.0@" + digest, wantSource: SourcePod},
		{name: "a bare local image ID is not a pullable digest: the tag stays",
			sources:   Sources{Pod: operatorPod("ghcr.io/o/op:1.0", digest)},
			wantImage: "ghcr.io/o/op:1.0", wantSource: SourcePod},
		{name: "before the kubelet reports a status the Pod's image is taken as written",
			sources:   Sources{Pod: operatorPod("ghcr.io/o/op:1.0", "")},
			wantImage: "ghcr.io/o/op:1.0", wantSource: SourcePod},
		{name: "the operator container is found among several by name",
			sources:   Sources{Pod: &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "proxy", Image: "proxy:1"}, {Name: ContainerName, Image: "ghcr.io/o/op:1.0"}}}}},
			wantImage: "ghcr.io/o/op:1.0", wantSource: SourcePod},
		{name: "a renamed sole container is still the operator's",
			sources:   Sources{Pod: &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "ghcr.io/o/op:1.0"}}}}},
			wantImage: "ghcr.io/o/op:1.0", wantSource: SourcePod},
		{name: "without a Pod the manifests' environment variable is the fallback",
			sources:   Sources{Env: "ghcr.io/o/op:env"},
			wantImage: "ghcr.io/o/op:env", wantSource: SourceEnv},
		{name: "an unreadable Pod falls back to the environment variable",
			sources:   Sources{PodErr: errors.New("forbidden"), Env: "ghcr.io/o/op:env"},
			wantImage: "ghcr.io/o/op:env", wantSource: SourceEnv},
		{name: "nothing at all is an error that says what to set",
			sources: Sources{}, wantErr: "not in a Pod ($POD_NAME and $POD_NAMESPACE unset); pass --operator-image or set $OPERATOR_IMAGE"},
		{name: "an unreadable Pod and no fallback is an error naming the Pod's failure",
			sources: Sources{PodErr: errors.New("pods is forbidden")}, wantErr: "could not be read: pods is forbidden"},
		{name: "a Pod without the operator container and no fallback is an error",
			sources: Sources{Pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "a"}, {Name: "b", Image: "b"}}}}},
			wantErr: `Pod ns/p has no container "operator"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			image, source, err := Resolve(tc.sources)
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("the error must fit on one line: %q", err)
				}
				return
			}
			if err != nil || image != tc.wantImage || source != tc.wantSource {
				t.Fatalf("Resolve = %q, %q, %v; want %q, %q", image, source, err, tc.wantImage, tc.wantSource)
			}
		})
	}
}
