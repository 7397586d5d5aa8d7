// Package stellar holds the Stellar-specific knowledge the operator needs and
// nothing else: the well-known networks and their default quorum sets, key
// handling, the quorum rules stellar-core enforces when it starts, and the
// rendering of stellar-core.cfg files for full nodes and for the captive core
// embedded in Horizon and Stellar RPC.
//
// It is deliberately free of Kubernetes types, clocks and randomness (apart
// from NewSeed) so that every rendered file is a pure function of its input:
// the controllers can hash the output to decide whether a rollout is needed,
// and admission webhooks can run ValidateQuorum to reject a quorum set that
// would otherwise only fail later, inside a crash-looping pod.
//
// Secrets never pass through the renderers. A validator's NODE_SEED is kept
// in a Secret and prepended to the rendered file when the pod starts, which
// works because stellar-core requires top-level keys before any table and the
// rendered files start with top-level keys.
package stellar
