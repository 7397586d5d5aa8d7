//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing/fstest"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	metallbv1beta2 "go.universe.tf/metallb/api/v1beta2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/config"
)

// MetalLBNamespace is where the speakers look for their configuration.
const MetalLBNamespace = "metallb-system"

// Well-known labels put on every Node object.
const (
	RegionLabel   = "topology.kubernetes.io/region"
	HostnameLabel = "kubernetes.io/hostname"
	// RunLabel carries the harness run id on every object the harness creates.
	RunLabel = "e2e.stellar.io/run"
	// ManagedByHarness marks the EndpointSlices written by the harness (the kubelet stand-in).
	ManagedByHarness = "e2e.stellar.io"
	// ServiceBGPStatusNodeLabel is the label a speaker puts on its ServiceBGPStatus objects.
	ServiceBGPStatusNodeLabel = "metallb.io/node"
)

// Scheme knows the built-in types, MetalLB's metallb.io/v1beta1 and v1beta2, and the operator's
// stellar.org/v1alpha1.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, metallbv1beta1.AddToScheme, metallbv1beta2.AddToScheme, stellarv1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// MetalLBCRDDir is MetalLB's config/crd/bases: METALLB_CRDS when set, otherwise the directory of
// go.universe.tf/metallb in the module cache at the version the root go.mod requires.
func MetalLBCRDDir() (string, error) {
	if dir := os.Getenv("METALLB_CRDS"); dir != "" {
		return dir, nil
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "go.universe.tf/metallb").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			err = fmt.Errorf("%v: %s", err, ee.Stderr)
		}
		return "", fmt.Errorf("locating go.universe.tf/metallb: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("go.universe.tf/metallb is not in the module cache: run `go mod download go.universe.tf/metallb`")
	}
	return filepath.Join(dir, "config", "crd", "bases"), nil
}

// MetalLBCRDs reads MetalLB's CRDs with the project's own parser (config.ReadCRDs), skipping any
// YAML file of the directory that is not a CustomResourceDefinition.
func MetalLBCRDs(dir string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	fsys := os.DirFS(dir)
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	only := fstest.MapFS{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(data, &tm); err != nil || tm.Kind != "CustomResourceDefinition" {
			continue
		}
		only["crds/"+e.Name()] = &fstest.MapFile{Data: data}
	}
	if len(only) == 0 {
		return nil, fmt.Errorf("no CustomResourceDefinition in %s", dir)
	}
	return config.ReadCRDs(only, "crds")
}

func ensureNamespace(ctx context.Context, c client.Client, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	// No kube-controller-manager creates the default ServiceAccount, and the ServiceAccount
	// admission plugin refuses Pods without it.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: name}}
	if err := c.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// sliceName is the EndpointSlice the harness keeps for svc in region.
func sliceName(svc, region string) string { return svc + "-" + region }

// endpointSlice builds the kubelet stand-in's view of one pod of svc on node.
func endpointSlice(svc *corev1.Service, rn *RegionNode, cond discoveryv1.EndpointConditions, runID string) *discoveryv1.EndpointSlice {
	var ports []discoveryv1.EndpointPort
	for _, p := range svc.Spec.Ports {
		port := p.TargetPort.IntVal
		if port == 0 {
			port = p.Port
		}
		ports = append(ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Port: ptr.To(port), Protocol: ptr.To(p.Protocol)})
	}
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      sliceName(svc.Name, rn.Name),
			Namespace: svc.Namespace,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: svc.Name,
				discoveryv1.LabelManagedBy:   ManagedByHarness,
				RunLabel:                     runID,
				RegionLabel:                  rn.Name,
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{rn.PodIP.String()},
			Conditions: cond,
			NodeName:   ptr.To(rn.Node),
			Zone:       ptr.To(rn.Name),
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: svc.Namespace, Name: svc.Name + "-" + rn.Name},
		}},
		Ports: ports,
	}
}

// Ready is the endpoint condition set of a ready pod; NotReady withdraws the route. Note that
// ready=false with serving=true (a terminating pod still serving) keeps MetalLB announcing.
func Ready(ready bool) discoveryv1.EndpointConditions {
	return discoveryv1.EndpointConditions{Ready: ptr.To(ready), Serving: ptr.To(ready), Terminating: ptr.To(false)}
}

func serviceKey(svc *corev1.Service) types.NamespacedName {
	return types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
}
