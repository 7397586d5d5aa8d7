package render

import (
	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/stellar"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// ResolveNetwork is the node's network with its quorum set: a known network's defaults, or the
// custom network's, with the validator's own quorum set overriding either.
func ResolveNetwork(node *stellarv1.StellarNode) (stellar.Network, *validate.Problem) {
	var network stellar.Network
	if node.Spec.Network == stellarv1.NetworkCustom {
		custom := node.Spec.CustomNetwork
		if custom == nil {
			return network, &validate.Problem{Field: "spec.customNetwork", Reason: stellarv1.ReasonInvalidSpec, Severity: validate.SeverityError,
				Message: "customNetwork is required when network is Custom"}
		}
		network = stellar.Network{
			Name:               string(stellarv1.NetworkCustom),
			Passphrase:         custom.Passphrase,
			HistoryArchiveURLs: append([]string(nil), custom.HistoryArchiveURLs...),
		}
		if custom.QuorumSet != nil {
			network.Quorum = QuorumSet(custom.QuorumSet)
		}
	} else {
		known, ok := stellar.LookupNetwork(string(node.Spec.Network))
		if !ok {
			return network, &validate.Problem{Field: "spec.network", Reason: stellarv1.ReasonInvalidSpec, Severity: validate.SeverityError,
				Message: "unknown network " + string(node.Spec.Network)}
		}
		network = known
	}
	if v := node.Spec.Validator; v != nil && v.QuorumSet != nil {
		network.Quorum = QuorumSet(v.QuorumSet)
	}
	return network, nil
}

// QuorumSet translates the API's quorum set to the core config model.
func QuorumSet(q *stellarv1.QuorumSetSpec) stellar.QuorumSet {
	out := stellar.QuorumSet{UnsafeQuorum: q.UnsafeQuorum}
	if q.FailureSafety != nil {
		fs := int(*q.FailureSafety)
		out.FailureSafety = &fs
	}
	for _, d := range q.HomeDomains {
		out.HomeDomains = append(out.HomeDomains, stellar.HomeDomain{Domain: d.HomeDomain, Quality: stellar.Quality(d.Quality)})
	}
	for _, v := range q.Validators {
		out.Validators = append(out.Validators, stellar.Validator{
			Name: v.Name, HomeDomain: v.HomeDomain, PublicKey: v.PublicKey,
			Quality: stellar.Quality(v.Quality), Address: v.Address, History: v.History,
		})
	}
	return out
}
