package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/stellar"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// Paths inside the pods.
const (
	DataDir           = "/var/lib/stellar"
	ConfigDir         = "/etc/stellar-operator"
	RuntimeConfigDir  = "/run/stellar"
	SeedDir           = "/run/secrets/stellar-seed"
	CoreConfigKey     = "stellar-core.cfg"
	CaptiveConfigKey  = "captive-core.cfg"
	CoreDatabase      = "sqlite3://" + DataDir + "/stellar.db"
	CoreBucketDir     = DataDir + "/buckets"
	CaptiveStorageDir = DataDir + "/captive-core"
)

// configMap renders the node's Stellar configuration. A validator's seed is never part of it: the
// pod prepends NODE_SEED from the Secret into a memory-backed volume at start.
func configMap(node *stellarv1.StellarNode, network stellar.Network) (*corev1.ConfigMap, []validate.Problem) {
	var (
		key  string
		data []byte
		err  error
	)
	switch node.Spec.NodeType {
	case stellarv1.NodeTypeValidator:
		key = CoreConfigKey
		data, err = stellar.RenderCoreConfig(coreConfig(node, network))
	default:
		key = CaptiveConfigKey
		data, err = stellar.RenderCaptiveCoreConfig(stellar.CaptiveCoreConfig{
			NetworkPassphrase: network.Passphrase,
			HTTPPort:          PortCoreHTTP,
			PeerPort:          PortCorePeer,
			Quorum:            network.Quorum,
		})
	}
	if err != nil {
		return nil, []validate.Problem{{Field: quorumField(node), Reason: stellarv1.ReasonInvalidQuorumSet, Severity: validate.SeverityError,
			Message: "the Stellar configuration cannot be rendered: " + err.Error()}}
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: owned(node, ConfigMapName(node), Component(node.Spec.NodeType)),
		Data:       map[string]string{key: string(data)},
	}, nil
}

func coreConfig(node *stellarv1.StellarNode, network stellar.Network) stellar.CoreConfig {
	v := node.Spec.Validator
	if v == nil {
		v = &stellarv1.ValidatorSpec{}
	}
	cfg := stellar.CoreConfig{
		NetworkPassphrase: network.Passphrase,
		Database:          CoreDatabase,
		BucketDirPath:     CoreBucketDir,
		HTTPPort:          PortCoreHTTP,
		PeerPort:          PortCorePeer,
		NodeIsValidator:   true,
		NodeHomeDomain:    v.HomeDomain,
		Quorum:            network.Quorum,
	}
	cfg.Quorum = withOwnOrganisation(network.Quorum, v)
	switch v.CatchupMode {
	case stellarv1.CatchupComplete:
		cfg.CatchupComplete = true
	case stellarv1.CatchupRecent:
		if v.CatchupRecent != nil {
			cfg.CatchupRecent = int(*v.CatchupRecent)
		}
	}
	if h := v.History; h != nil {
		cfg.Publish = &stellar.HistoryPublish{Name: defaultString(h.Name, "local"), Get: h.Get, Put: h.Put, Mkdir: h.Mkdir}
	}
	return cfg
}

func quorumField(node *stellarv1.StellarNode) string {
	switch {
	case node.Spec.Validator != nil && node.Spec.Validator.QuorumSet != nil:
		return "spec.validator.quorumSet"
	case node.Spec.Network == stellarv1.NetworkCustom:
		return "spec.customNetwork.quorumSet"
	default:
		return "spec.network"
	}
}

func objectMeta(node *stellarv1.StellarNode, name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: node.Namespace, Labels: NodeLabels(node, component)}
}

// withOwnOrganisation gives the validator's own home domain a quality when the quorum set has none
// for it: core adds the node itself to its quorum set and refuses to start without one.
func withOwnOrganisation(q stellar.QuorumSet, v *stellarv1.ValidatorSpec) stellar.QuorumSet {
	for _, d := range q.HomeDomains {
		if d.Domain == v.HomeDomain {
			return q
		}
	}
	quality := stellar.Quality(v.Quality)
	if quality == "" {
		quality = stellar.QualityLow
	}
	out := q
	out.HomeDomains = append(append([]stellar.HomeDomain(nil), q.HomeDomains...), stellar.HomeDomain{Domain: v.HomeDomain, Quality: quality})
	return out
}
