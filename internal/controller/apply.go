package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
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

// applied is the outcome of one apply.
type applied struct {
	// wrote is true when a request was sent.
	wrote bool
	// before and after are the object's resourceVersion around the write ("" when it did not exist).
	before, after string
	// difference is the first field found that made the write necessary.
	difference string
}

// apply applies obj unless the fields this field manager owns on the live object are exactly the
// fields obj sets, each already holding obj's value. Comparing with what we own, not merely
// "obj ⊆ live", is what makes a field dropped from the spec disappear from the cluster.
func (a applier) apply(ctx context.Context, obj client.Object) (applied, error) {
	desired, err := applyPayload(obj, a.scheme)
	if err != nil {
		return applied{}, err
	}
	live, err := a.current(ctx, obj)
	if err != nil {
		return applied{}, err
	}
	var out applied
	out.difference = "the object does not exist"
	if live != nil {
		out.before = live.GetResourceVersion()
		if out.difference = difference(desired.Object, live); out.difference == "" {
			return out, nil
		}
	}
	if err := a.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(desired),
		client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil { // same request as ApplyAlways
		return out, fmt.Errorf("applying %s %s: %w", desired.GetKind(), client.ObjectKeyFromObject(obj), err)
	}
	out.wrote, out.after = true, desired.GetResourceVersion()
	return out, nil
}

// current is the live object (from the cache for watched kinds), or nil when it does not exist.
func (a applier) current(ctx context.Context, obj client.Object) (client.Object, error) {
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
	return existing, nil
}

// difference is the first field where live differs from what applying desired would make it, or
// "" when applying would change nothing.
func difference(desired map[string]any, live client.Object) string {
	owned := ownedFields(live)
	if owned == nil {
		return "the field manager owns no field yet"
	}
	have, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
	if err != nil {
		return err.Error()
	}
	return objectDifference("", desired, have, owned, topLevelSkip())
}

// ownedFields is the set of fields our field manager owns through apply on the main resource.
func ownedFields(live client.Object) *fieldpath.Set {
	for _, e := range live.GetManagedFields() {
		if e.Manager != FieldOwner || e.Operation != metav1.ManagedFieldsOperationApply || e.Subresource != "" || e.FieldsV1 == nil {
			continue
		}
		set := &fieldpath.Set{}
		if err := set.FromJSON(bytes.NewReader(e.FieldsV1.Raw)); err != nil {
			return nil
		}
		return set
	}
	return nil
}

// skipFields are fields of an apply request the apiserver never records as owned.
type skipFields map[string]bool

func topLevelSkip() skipFields { return skipFields{"apiVersion": true, "kind": true, "status": true} }

// objectDifference compares one level of a map: every wanted field is owned and holds its value,
// and every owned field is still wanted (a field dropped from the spec must be removed).
func objectDifference(path string, want, have map[string]any, owned *fieldpath.Set, skip skipFields) string {
	for k, wv := range want {
		if skip[k] {
			continue
		}
		hv, ok := have[k]
		if !ok {
			return path + "." + k + " is missing"
		}
		childSkip := skipFields(nil)
		if skip["apiVersion"] && k == "metadata" {
			childSkip = skipFields{"name": true, "namespace": true}
		}
		if d := fieldDifference(path+"."+k, wv, hv, fieldpath.FieldNameElement(k), owned, childSkip); d != "" {
			return d
		}
	}
	return unwanted(path, owned, func(pe fieldpath.PathElement) bool {
		if pe.FieldName == nil {
			return false
		}
		_, wanted := want[*pe.FieldName]
		return wanted && !skip[*pe.FieldName]
	})
}

func fieldDifference(path string, want, have any, pe fieldpath.PathElement, owned *fieldpath.Set, skip skipFields) string {
	child, granular := owned.Children.Get(pe)
	member := owned.Members.Has(pe)
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		switch {
		case !ok:
			return path + " is not an object"
		case granular:
			return objectDifference(path, w, h, child, skip)
		case !member:
			return path + " is not owned"
		default:
			return atomicDifference(path, w, h)
		}
	case []any:
		h, ok := have.([]any)
		switch {
		case !ok:
			return path + " is not a list"
		case granular:
			return listDifference(path, w, h, child)
		case !member:
			return path + " is not owned"
		default:
			return atomicDifference(path, w, h)
		}
	default:
		if !member {
			return path + " is not owned"
		}
		if !scalarEqual(w, have) {
			return path + " differs"
		}
	}
	return ""
}

// listDifference compares a list whose elements are owned one by one (keyed or set lists).
func listDifference(path string, want, have []any, owned *fieldpath.Set) string {
	used := map[string]bool{}
	for i, w := range want {
		item := fmt.Sprintf("%s[%d]", path, i)
		pe, ok := elementOf(w, i, owned)
		if !ok {
			return item + " is not owned"
		}
		used[pe.String()] = true
		h, ok := find(pe, have)
		if !ok {
			return item + " is missing"
		}
		if wm, isMap := w.(map[string]any); isMap {
			hm, ok := h.(map[string]any)
			if !ok {
				return item + " is not an object"
			}
			if child, granular := owned.Children.Get(pe); granular {
				if d := objectDifference(item, wm, hm, child, nil); d != "" {
					return d
				}
			} else if d := atomicDifference(item, wm, hm); d != "" {
				return d
			}
		} else if !scalarEqual(w, h) {
			return item + " differs"
		}
	}
	return unwanted(path, owned, func(pe fieldpath.PathElement) bool { return used[pe.String()] })
}

// unwanted names the first owned element at this level that is no longer wanted, or "".
func unwanted(path string, owned *fieldpath.Set, wanted func(fieldpath.PathElement) bool) string {
	found := ""
	check := func(pe fieldpath.PathElement) {
		if found == "" && !wanted(pe) {
			found = path + "/" + pe.String() + " is owned but no longer wanted"
		}
	}
	owned.Members.Iterate(check)
	owned.Children.Iterate(check)
	return found
}

// elementOf finds the owned path element naming list item w (at index i).
func elementOf(w any, i int, owned *fieldpath.Set) (fieldpath.PathElement, bool) {
	var found fieldpath.PathElement
	ok := false
	check := func(pe fieldpath.PathElement) {
		if !ok && identifies(pe, w, i) {
			found, ok = pe, true
		}
	}
	owned.Members.Iterate(check)
	owned.Children.Iterate(check)
	return found, ok
}

// find is the element of have that pe names.
func find(pe fieldpath.PathElement, have []any) (any, bool) {
	for i, h := range have {
		if identifies(pe, h, i) {
			return h, true
		}
	}
	return nil, false
}

// identifies reports whether the list element item (at index i) is the one pe names.
func identifies(pe fieldpath.PathElement, item any, i int) bool {
	switch {
	case pe.Key != nil:
		m, ok := item.(map[string]any)
		if !ok {
			return false
		}
		for _, f := range *pe.Key {
			if !scalarEqual(m[f.Name], f.Value.Unstructured()) {
				return false
			}
		}
		return true
	case pe.Value != nil:
		return scalarEqual(item, (*pe.Value).Unstructured())
	case pe.Index != nil:
		return *pe.Index == i
	}
	return false
}

// atomicDifference compares a value we own as a whole. The apiserver may add defaults inside it
// as nested objects (a claim template's status), which are tolerated; an extra scalar means the
// value differs from ours (a key removed from an atomic selector, say).
func atomicDifference(path string, want, have any) string {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return path + " is not an object"
		}
		for k, wv := range w {
			if d := atomicDifference(path+"."+k, wv, h[k]); d != "" {
				return d
			}
		}
		for k, hv := range h {
			if _, wanted := w[k]; wanted {
				continue
			}
			switch hv.(type) {
			case nil, map[string]any:
			default:
				return path + "." + k + " is no longer wanted"
			}
		}
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return path + " has another length"
		}
		for i := range w {
			if d := atomicDifference(fmt.Sprintf("%s[%d]", path, i), w[i], h[i]); d != "" {
				return d
			}
		}
	default:
		if !scalarEqual(want, have) {
			return path + " differs"
		}
	}
	return ""
}

// scalarEqual compares scalars by their JSON form, so int64, float64 and value.Value numbers agree.
func scalarEqual(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
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

// ApplyAlways server-side applies obj without comparing first: the baseline the no-op skip is
// measured against (BenchmarkConvergedNode).
func ApplyAlways(ctx context.Context, c client.Client, scheme *runtime.Scheme, obj client.Object) error {
	desired, err := applyPayload(obj, scheme)
	if err != nil {
		return err
	}
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(desired), client.FieldOwner(FieldOwner), client.ForceOwnership)
}
