package v1alpha1

// Condition types on StellarNode status.
const (
	// ConditionReady is True when the workload's pods are ready (and synced, with the health sidecar).
	ConditionReady = "Ready"
	// ConditionProgressing is True while the workload rolls out or scales.
	ConditionProgressing = "Progressing"
	// ConditionDegraded is True when the spec cannot be realised, or part of it cannot take effect.
	ConditionDegraded = "Degraded"
	// ConditionMetalLBSupported is False when MetalLB's BGP mode cannot take some fields of the
	// spec; its message names each one. Present only on nodes with a load balancer.
	ConditionMetalLBSupported = "MetalLBSupported"
)

// Condition reasons. They are part of the API: alerts and users match on them.
const (
	ReasonReconciled       = "Reconciled"
	ReasonAsExpected       = "AsExpected"
	ReasonPodsReady        = "PodsReady"
	ReasonPodsNotReady     = "PodsNotReady"
	ReasonRollingOut       = "RollingOut"
	ReasonScaledToZero     = "ScaledToZero"
	ReasonInvalidSpec      = "InvalidSpec"
	ReasonInvalidQuorumSet = "InvalidQuorumSet"
	ReasonSecretMissing    = "SecretMissing"
	ReasonSecretKeyMissing = "SecretKeyMissing"
	ReasonInvalidSeed      = "InvalidSeed"
	ReasonReconcileError   = "ReconcileError"

	// Load balancer reasons.
	ReasonMetalLBNotInstalled      = "MetalLBNotInstalled"
	ReasonUnsupportedByMetalLB     = "UnsupportedByMetalLBMode"
	ReasonPeerConflict             = "PeerConflict"
	ReasonIPConflict               = "IPConflict"
	ReasonPoolMismatch             = "LoadBalancerIPOutsidePool"
	ReasonPoolMissing              = "AddressPoolMissing"
	ReasonLocalPrefOverEBGP        = "LocalPrefOverEBGP"
	ReasonNoHealthDrivenWithdrawal = "NoHealthDrivenWithdrawal"
	ReasonEBGPMultiHopOnIBGP       = "EBGPMultiHopOnIBGP"
	ReasonAggregationTooShort      = "AggregationShorterThanPool"
	ReasonInvalidBGP               = "InvalidBGPConfig"
	ReasonMetalLBConfigInvalid     = "MetalLBConfigInvalid"

	// Global discovery reasons.
	ReasonExternalDNSNeedsLoadBalancer = "ExternalDNSNeedsLoadBalancer"
)
