// Package admission admits custom resources offline the way kube-apiserver admits them on create:
// strict field validation (unknown fields), the CRD's defaults, its OpenAPI schema, list types,
// embedded metadata and its CEL x-kubernetes-validations rules. It composes the apiserver's own
// libraries (k8s.io/apiextensions-apiserver) in the order the apiserver runs them, so a manifest it
// accepts is one the apiserver accepts, with the same field paths and messages. It does not import
// the apiserver's registry package, which would bring etcd's client into a kubectl plugin.
package admission

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/api/operation"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/features"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
)

// Admitter admits objects of the kinds of a set of CRDs.
type Admitter struct {
	versions map[schema.GroupVersionKind]*servedVersion
	// kinds are the group/kinds the CRDs define, to tell an unserved version from a foreign kind.
	kinds map[schema.GroupKind][]string
}

// servedVersion is what the apiserver builds for one served version of a CRD.
type servedVersion struct {
	gvk        schema.GroupVersionKind
	namespaced bool
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator
	scale      *apiextensionsinternal.CustomResourceSubresourceScale
}

// New prepares the schemas of every served version of crds, as the apiserver does when it starts
// serving a CRD.
func New(crds []*apiextensionsv1.CustomResourceDefinition) (*Admitter, error) {
	a := &Admitter{versions: map[schema.GroupVersionKind]*servedVersion{}, kinds: map[schema.GroupKind][]string{}}
	for _, crd := range crds {
		gk := schema.GroupKind{Group: crd.Spec.Group, Kind: crd.Spec.Names.Kind}
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			sv, err := newServedVersion(crd, v.Name)
			if err != nil {
				return nil, fmt.Errorf("CRD %s version %s: %w", crd.Name, v.Name, err)
			}
			a.versions[sv.gvk] = sv
			a.kinds[gk] = append(a.kinds[gk], gk.WithVersion(v.Name).GroupVersion().String())
		}
	}
	return a, nil
}

func newServedVersion(crd *apiextensionsv1.CustomResourceDefinition, version string) (*servedVersion, error) {
	sv := &servedVersion{
		gvk:        schema.GroupVersionKind{Group: crd.Spec.Group, Version: version, Kind: crd.Spec.Names.Kind},
		namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
	}
	validation, err := apihelpers.GetSchemaForVersion(crd, version)
	if err != nil {
		return nil, err
	}
	if validation == nil || validation.OpenAPIV3Schema == nil {
		return nil, fmt.Errorf("no schema: nothing to check offline")
	}
	internal := &apiextensionsinternal.CustomResourceValidation{}
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(validation, internal, nil); err != nil {
		return nil, fmt.Errorf("converting the schema: %w", err)
	}
	structural, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("the schema is not structural: %w", err)
	}
	// As the apiserver does: defaults that pruning would drop are removed from a copy.
	sv.structural = structural.DeepCopy()
	if err := structuraldefaulting.PruneDefaults(sv.structural); err != nil {
		return nil, fmt.Errorf("pruning defaults: %w", err)
	}
	if sv.validator, _, err = apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema); err != nil {
		return nil, fmt.Errorf("building the schema validator: %w", err)
	}
	sv.cel = cel.NewValidator(sv.structural, true, celconfig.PerCallLimit)
	subresources, err := apihelpers.GetSubresourcesForVersion(crd, version)
	if err != nil {
		return nil, err
	}
	if subresources != nil && subresources.Scale != nil {
		sv.scale = &apiextensionsinternal.CustomResourceSubresourceScale{}
		if err := apiextensionsv1.Convert_v1_CustomResourceSubresourceScale_To_apiextensions_CustomResourceSubresourceScale(subresources.Scale, sv.scale, nil); err != nil {
			return nil, fmt.Errorf("converting the scale subresource: %w", err)
		}
	}
	return sv, nil
}

// Handles reports whether gk is a kind of the admitter's CRDs (in any version).
func (a *Admitter) Handles(gk schema.GroupKind) bool {
	_, ok := a.kinds[gk]
	return ok
}

// Result is the verdict on one object.
type Result struct {
	// Object is the object as the apiserver would store it: unknown fields pruned, defaults set.
	Object *unstructured.Unstructured
	// UnknownFields are the paths the apiserver's strict field validation refuses
	// (`kubectl apply` validates strictly by default), e.g. "spec.loadBalancer.loadBalancerIp".
	UnknownFields []string
	// Errors are the schema, metadata and CEL errors, as the apiserver's Invalid status lists them.
	Errors field.ErrorList
}

// Refused reports whether the apiserver would refuse the object.
func (r Result) Refused() bool { return len(r.UnknownFields) > 0 || len(r.Errors) > 0 }

// Admit runs the apiserver's create path on obj (a decoded manifest; it is not modified). The
// object's namespace must already be set for a namespaced kind, as the apiserver takes it from
// the request. An error means the object is not one of the admitter's kinds or versions.
func (a *Admitter) Admit(ctx context.Context, obj map[string]interface{}) (Result, error) {
	u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(obj)}
	gvk := u.GroupVersionKind()
	sv, ok := a.versions[gvk]
	if !ok {
		if served, known := a.kinds[gvk.GroupKind()]; known {
			sort.Strings(served)
			return Result{}, fmt.Errorf("%s %q is not served: use apiVersion %v", gvk.GroupKind(), u.GetAPIVersion(), served)
		}
		return Result{}, fmt.Errorf("%s is not a kind of these CRDs", gvk)
	}
	unknown, err := sv.coerce(u)
	if err != nil {
		return Result{}, err
	}
	// The decoder defaults after pruning, before validation.
	structuraldefaulting.Default(u.Object, sv.structural)
	return Result{Object: u, UnknownFields: unknown, Errors: sv.validate(ctx, u)}, nil
}

// coerce is the apiserver's schema coercion of a decoded object: metadata read back as ObjectMeta,
// everything the schema does not declare pruned (and, with strict field validation, reported).
func (sv *servedVersion) coerce(u *unstructured.Unstructured) ([]string, error) {
	kind, apiVersion := u.GetKind(), u.GetAPIVersion()
	meta, foundMeta, unknown, err := schemaobjectmeta.GetObjectMetaWithOptions(u.Object, schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	unknown = append(unknown, structuralpruning.PruneWithOptions(u.Object, sv.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})...)
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u.Object, sv.structural)
	coerceErr, paths := schemaobjectmeta.CoerceWithOptions(nil, u.Object, sv.structural, false, schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	if coerceErr != nil {
		return nil, coerceErr
	}
	unknown = append(unknown, paths...)
	u.SetKind(kind)
	u.SetAPIVersion(apiVersion)
	if foundMeta {
		if err := schemaobjectmeta.SetObjectMeta(u.Object, meta); err != nil {
			return nil, err
		}
	}
	sort.Strings(unknown)
	return unknown, nil
}

// validate is the custom resource strategy's Validate on create, then the generic metadata checks
// the apiserver adds when the strategy found nothing.
func (sv *servedVersion) validate(ctx context.Context, u *unstructured.Unstructured) field.ErrorList {
	var errs field.ErrorList
	meta, metaErrs := objectMeta(u)
	errs = append(errs, metaErrs...)
	if meta != nil {
		errs = append(errs, metavalidation.ValidateObjectMetaDeclaratively(ctx, operation.Create, meta, nil, sv.namespaced,
			metavalidation.NameIsDNSSubdomain, field.NewPath("metadata"), utilfeature.DefaultFeatureGate.Enabled(features.DeclarativeValidationBeta))...)
	}
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, u.UnstructuredContent(), sv.validator)...)
	errs = append(errs, sv.validateScaleSpec(u)...)
	errs = append(errs, schemaobjectmeta.Validate(ctx, nil, u.Object, sv.structural, false)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, sv.structural, u.Object)...)
	if blocking := blockingError(errs); blocking != nil {
		// The apiserver skips the CEL rules of an object that does not even have the schema's shape.
		errs = append(errs, blocking)
	} else {
		celErrs, _ := sv.cel.Validate(ctx, nil, sv.structural, u.Object, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	if len(errs) == 0 && meta != nil {
		errs = append(errs, metavalidation.ValidateObjectMetaAccessor(meta, sv.namespaced, path.ValidatePathSegmentName, field.NewPath("metadata"))...)
	}
	return errs
}

func objectMeta(u *unstructured.Unstructured) (*metav1.ObjectMeta, field.ErrorList) {
	raw := u.Object["metadata"]
	if raw == nil {
		return &metav1.ObjectMeta{}, nil
	}
	m, ok := raw.(map[string]interface{})
	if !ok {
		return nil, field.ErrorList{field.Invalid(field.NewPath("metadata"), raw, fmt.Sprintf("expected map[string]interface{}, got %T", raw))}
	}
	meta := &metav1.ObjectMeta{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, meta); err != nil {
		return nil, field.ErrorList{field.Invalid(field.NewPath("metadata"), raw, err.Error())}
	}
	return meta, nil
}

// validateScaleSpec is the apiserver's check of the scale subresource's spec replicas path.
func (sv *servedVersion) validateScaleSpec(u *unstructured.Unstructured) field.ErrorList {
	if sv.scale == nil {
		return nil
	}
	p := sv.scale.SpecReplicasPath
	replicas, _, err := unstructured.NestedInt64(u.Object, strings.Split(strings.TrimPrefix(p, "."), ".")...)
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(field.NewPath(p), replicas, err.Error())}
	case replicas < 0:
		return field.ErrorList{field.Invalid(field.NewPath(p), replicas, "should be a non-negative integer")}
	case replicas > 1<<31-1:
		return field.ErrorList{field.Invalid(field.NewPath(p), replicas, fmt.Sprintf("should be less than or equal to %v", 1<<31-1))}
	}
	return nil
}

// blockingError is the apiserver's note that CEL rules were skipped, when errs hold an error of a
// kind that makes the object unfit for them.
func blockingError(errs field.ErrorList) *field.Error {
	for _, err := range errs {
		switch err.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation")
		}
	}
	return nil
}
