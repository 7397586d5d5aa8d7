package controller

import (
	"context"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldOwner is the one server-side-apply field manager of every object the operator writes.
const FieldOwner = "stellar-operator"

// applier writes objects with server-side apply, but only when the cluster differs from what we
// want: an unchanged apply still costs the apiserver several milliseconds of CPU, and a converged
// operator should cost nothing.
type applier struct {
	client client.Client
	scheme *runtime.Scheme
	// readerFor is where the current state of an object is read: the cache for watched kinds,
	// the API for the rest (a cached Get would start an informer for every object of the kind).
	readerFor func(client.Object) client.Reader
}

// apply applies obj unless every field it sets already holds the same value in the cache.
// It reports whether a write was sent.
func (a applier) apply(ctx context.Context, obj client.Object) (bool, error) {
	desired, err := applyPayload(obj, a.scheme)
	if err != nil {
		return false, err
	}
	current, err := a.current(ctx, obj)
	if err != nil {
		return false, err
	}
	if current != nil && isSubset(withoutType(desired.Object), current) {
		return false, nil
	}
	if err := a.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(desired),
		client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil { // same request as ApplyAlways
		return false, fmt.Errorf("applying %s %s: %w", desired.GetKind(), client.ObjectKeyFromObject(obj), err)
	}
	return true, nil
}

// current is the cached object as a plain map, or nil when it does not exist.
func (a applier) current(ctx context.Context, obj client.Object) (map[string]any, error) {
	existing, ok := obj.DeepCopyObject().(client.Object)
	if !ok {
		return nil, fmt.Errorf("%T is not a client.Object", obj)
	}
	if err := a.readerFor(obj).Get(ctx, client.ObjectKeyFromObject(obj), existing); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return runtime.DefaultUnstructuredConverter.ToUnstructured(existing)
}

// applyPayload is the object as an apply request: its type set, and every empty value dropped so
// that we claim only fields we mean (a typed struct serialises zero values such as
// `creationTimestamp: null` or `resources: {}` that we do not want to own).
func applyPayload(obj client.Object, scheme *runtime.Scheme) (*unstructured.Unstructured, error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Empty() {
		kinds, _, err := scheme.ObjectKinds(obj)
		if err != nil || len(kinds) == 0 {
			return nil, fmt.Errorf("no kind registered for %T: %w", obj, err)
		}
		gvk = kinds[0]
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	delete(m, "status")
	pruned, _ := pruneEmpty(m).(map[string]any)
	u := &unstructured.Unstructured{Object: pruned}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

// withoutType drops apiVersion and kind: objects read from the API rather than the cache come back
// without them, and they are not fields anyone could change.
func withoutType(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if k != "apiVersion" && k != "kind" {
			out[k] = v
		}
	}
	return out
}

// pruneEmpty removes nil values, empty maps and empty lists, recursively.
func pruneEmpty(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			if p := pruneEmpty(val); !isEmpty(p) {
				out[k] = p
			}
		}
		return out
	case []any:
		out := make([]any, 0, len(t))
		for _, val := range t {
			out = append(out, pruneEmpty(val))
		}
		return out
	default:
		return v
	}
}

func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	default:
		return false
	}
}

// isSubset reports whether every field of want holds the same value in have. Lists must have the
// same length and match element by element: the apiserver keeps the order we send.
func isSubset(want, have any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			hv, ok := h[k]
			if !ok || !isSubset(wv, hv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !isSubset(w[i], h[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(want, have)
	}
}

// ApplyAlways server-side applies obj without comparing first: the baseline the no-op skip is
// measured against (BenchmarkConvergedNode).
func ApplyAlways(ctx context.Context, c client.Client, scheme *runtime.Scheme, obj client.Object) error {
	desired, err := applyPayload(obj, scheme)
	if err != nil {
		return err
	}
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(desired), client.FieldOwner(FieldOwner), client.ForceOwnership)
}
