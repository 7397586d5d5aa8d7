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
	// ConditionLoadBalancerReady is True when the node's LoadBalancer Service and MetalLB objects
	// are written and MetalLB assigned the address; False with the reason that stops it. Present
	// only on nodes with a load balancer.
	ConditionLoadBalancerReady = "LoadBalancerReady"
	// ConditionPeersEstablished is True when every node's BGP session to every peer is Established
	// (and its BFD up, where used), as frr-k8s reports them; its reason names what is wrong otherwise.
	// Present only in MetalLB's frr-k8s mode with frr-k8s' CRDs installed, on nodes with BGP peers.
	ConditionPeersEstablished = "PeersEstablished"
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
	// ReasonApplyFailed: the apiserver refused a write (forbidden, invalid, denied by a webhook or
	// an admission policy); the message carries its answer.
	ReasonApplyFailed = "ApplyFailed"
	// ReasonRolloutStarted (an Event): a write restarts the node's pods, and why.
	ReasonRolloutStarted = "RolloutStarted"
	// ReasonPeerRecreated (an Event): a BGPPeer is deleted and created again (its sessions flap).
	ReasonPeerRecreated = "PeerRecreated"
	// ReasonSeedSecretLost: a validator that had an identity lost its seed Secret; the operator
	// will not mint a new identity.
	ReasonSeedSecretLost = "SeedSecretLost"
	// ReasonDatabaseSecretLost: the managed database's password Secret is gone while its data
	// exists; a new password would not open it.
	ReasonDatabaseSecretLost = "DatabaseSecretLost"

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
	ReasonAddressInForeignPool     = "AddressInForeignPool"
	ReasonAddressInAnotherPool     = "AddressInAnotherPool"
	// ReasonAddressMoving: the address is still in another of the operator's pools (its last
	// claimant went or renamed its pool); the new pool waits until the old one lets go of it.
	ReasonAddressMoving           = "AddressMoving"
	ReasonMyASNConflict           = "MyASNConflict"
	ReasonRouterIDConflict        = "RouterIDConflict"
	ReasonAdvertisementWouldWiden = "AdvertisementWouldWiden"
	ReasonLocalPrefConflict       = "LocalPrefConflict"
	ReasonNoUsablePeer            = "NoUsablePeer"
	ReasonBFDEchoWithIPv6         = "BFDEchoWithIPv6"
	ReasonNotAllowedByPolicy      = "NotAllowedByPolicy"
	ReasonAddressAssigned         = "AddressAssigned"
	ReasonAddressPending          = "AddressPending"
	// ReasonPodsOutsideAnnouncingNodes: pods may run where no speaker announces them.
	ReasonPodsOutsideAnnouncingNodes = "PodsOutsideAnnouncingNodes"

	// PeersEstablished reasons: what the session states say went wrong.

	// ReasonPeerNotConnected: FRR has no BGP connection (Idle, Connect, Active). The TCP session
	// does not come up: the router is unreachable or filters port 179, it does not list this node as
	// a neighbour, an MD5 password does not match (the router's kernel drops the segments), or the
	// router closes every attempt (it refuses our ASN in its OPEN).
	ReasonPeerNotConnected = "PeerNotConnected"
	// ReasonPeerOpenNotConfirmed: TCP is up but the OPEN exchange does not complete.
	ReasonPeerOpenNotConfirmed = "PeerOpenNotConfirmed"
	// ReasonBFDDown: the BGP session is up but BFD, which would take it down on a failure, is not.
	ReasonBFDDown = "BFDDown"
	// ReasonNoSessionState: frr-k8s reports no session to the peer yet (no node peers with it,
	// frr-k8s does not run, or it has not applied the configuration).
	ReasonNoSessionState = "NoSessionState"
	// ReasonPeersEstablished: every node's session to every peer is Established (and BFD up where used).
	ReasonPeersEstablished = "Established"

	// Global discovery reasons.
	ReasonExternalDNSNeedsLoadBalancer = "ExternalDNSNeedsLoadBalancer"
)
