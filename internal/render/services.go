package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
)

// ServicePorts are the ports a node serves to clients: a validator's peer port, Horizon's and
// RPC's HTTP API. Admin and core HTTP ports stay inside the pod.
func ServicePorts(node *stellarv1.StellarNode) []corev1.ServicePort {
	if node.Spec.NodeType == stellarv1.NodeTypeValidator {
		return []corev1.ServicePort{{Name: "peer", Port: PortCorePeer, TargetPort: intstr.FromString("peer"), Protocol: corev1.ProtocolTCP}}
	}
	return []corev1.ServicePort{{Name: "http", Port: PortHorizon, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}}
}

// clusterService is the stable in-cluster address of the node.
func clusterService(node *stellarv1.StellarNode, facts Facts) *corev1.Service {
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: owned(node, ServiceName(node), Component(node.Spec.NodeType)),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: SelectorLabels(node),
			Ports:    ServicePorts(node),
		},
	}
	withDiscovery(svc, node, facts.Discovery)
	return svc
}

// headlessService gives StatefulSet pods stable DNS names; it lists pods before they are ready so
// validators can find each other while catching up.
func headlessService(node *stellarv1.StellarNode) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: owned(node, HeadlessServiceName(node), Component(node.Spec.NodeType)),
		Spec: corev1.ServiceSpec{
			Type:                     corev1.ServiceTypeClusterIP,
			ClusterIP:                corev1.ClusterIPNone,
			PublishNotReadyAddresses: true,
			Selector:                 SelectorLabels(node),
			Ports:                    ServicePorts(node),
		},
	}
}
