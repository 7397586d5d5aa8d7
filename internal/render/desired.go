package render

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// Desired is every object the node wants in its cluster, and every problem that stops part of it.
// When the Stellar configuration cannot be rendered (an invalid quorum set, say) nothing is
// returned for the workload: applying a half-valid node would restart pods into a crash loop.
func Desired(node *stellarv1.StellarNode, facts Facts) Result {
	network, problem := ResolveNetwork(node)
	if problem != nil {
		return Result{Problems: []validate.Problem{*problem}}
	}
	cm, problems := configMap(node, network)
	if cm == nil {
		return Result{Problems: problems}
	}
	objects := []client.Object{cm, clusterService(node, facts)}
	problems = append(problems, discoveryProblems(node)...)
	switch node.Spec.NodeType {
	case stellarv1.NodeTypeValidator:
		objects = append(objects, headlessService(node), validatorStatefulSet(node, facts, network))
	case stellarv1.NodeTypeHorizon:
		if horizonUsesClaim(node) {
			objects = append(objects, dataClaim(node))
		}
		if _, managed := DatabaseSecret(node); managed {
			objects = append(objects, postgresService(node), postgresStatefulSet(node))
		}
		objects = append(objects, horizonDeployment(node, facts, network))
	case stellarv1.NodeTypeSorobanRPC:
		objects = append(objects, headlessService(node), rpcStatefulSet(node, facts, network))
	}
	lbObjects, lbProblems := loadBalancer(node, facts)
	return Result{Objects: append(objects, lbObjects...), Problems: append(problems, lbProblems...)}
}
