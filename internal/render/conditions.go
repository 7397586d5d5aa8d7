package render

// Condition types and reasons on StellarNode status. Reasons are part of the API: alerts and
// users match on them.
const (
	ConditionReady       = "Ready"
	ConditionProgressing = "Progressing"
	ConditionDegraded    = "Degraded"

	ReasonInvalidSpec      = "InvalidSpec"
	ReasonInvalidQuorumSet = "InvalidQuorumSet"
	ReasonSecretMissing    = "SecretMissing"
	ReasonSecretKeyMissing = "SecretKeyMissing"
)
