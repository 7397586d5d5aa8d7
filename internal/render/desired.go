package render

import (
	"k8s.io/apimachinery/pkg/labels"
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
		return Result{Problems: []validate.Problem{*problem}, Status: intendedStatus(node, nil)}
	}
	cm, problems := configMap(node, network)
	if cm == nil {
		return Result{Problems: problems, Status: intendedStatus(node, nil)}
	}
	facts.configHash = configHash(cm)
	objects := []client.Object{cm, clusterService(node, facts)}
	problems = append(problems, discoveryProblems(node)...)
	problems = append(problems, placementProblems(node)...)
	if pdb := podDisruptionBudget(node); pdb != nil {
		objects = append(objects, pdb)
	}
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
	lbObjects, lbProblems, lbStatus := loadBalancer(node, facts)
	return Result{
		Objects:  append(objects, lbObjects...),
		Problems: append(problems, lbProblems...),
		Status:   intendedStatus(node, lbStatus),
	}
}

// IntendedStatus is the part of a node's status that follows from its spec and the cluster facts
// alone; the controller adds what it observes (replicas, external IP, sessions, sync).
type IntendedStatus struct {
	Image        string
	Selector     string
	LoadBalancer *stellarv1.LoadBalancerStatus
	Discovery    *stellarv1.DiscoveryStatus
}

func intendedStatus(node *stellarv1.StellarNode, lb *stellarv1.LoadBalancerStatus) IntendedStatus {
	st := IntendedStatus{
		Image:        Image(node),
		Selector:     labels.SelectorFromSet(SelectorLabels(node)).String(),
		LoadBalancer: lb,
	}
	if gd := node.EffectiveGlobalDiscovery(); gd != nil {
		st.Discovery = &stellarv1.DiscoveryStatus{Region: gd.Region, Zone: gd.Zone, Priority: gd.EffectivePriority(), DNSName: DNSName(node)}
	}
	return st
}
