// Package v1alpha1 holds the StellarNode API (stellar.org/v1alpha1). It depends only on
// k8s.io/api and k8s.io/apimachinery, so other projects can import it cheaply.
// +kubebuilder:object:generate=true
// +groupName=stellar.org
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "stellar.org", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion, &StellarNode{}, &StellarNodeList{}, &LoadBalancerPolicy{}, &LoadBalancerPolicyList{})
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
