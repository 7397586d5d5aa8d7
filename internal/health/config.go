package health

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// NodeType names the kind of Stellar process being checked. The values match
// the StellarNode API's nodeType so the operator can pass it through verbatim.
type NodeType string

const (
	NodeTypeValidator  NodeType = "Validator"
	NodeTypeHorizon    NodeType = "Horizon"
	NodeTypeSorobanRPC NodeType = "SorobanRpc"
)

// SyncState is how far the target is with following the network.
type SyncState string

const (
	StateSynced     SyncState = "Synced"
	StateCatchingUp SyncState = "CatchingUp"
	// StateUnknown covers everything we cannot vouch for: the target is
	// unreachable, booting, stopping or answering something we do not
	// understand.
	StateUnknown SyncState = "Unknown"
)

// FailureReason classifies why a check was not ready. It doubles as the
// value of the `reason` label of stellar_health_check_failures_total, so the
// set is deliberately small and fixed.
type FailureReason string

const (
	FailureTransport       FailureReason = "transport"
	FailureHTTPStatus      FailureReason = "http_status"
	FailureNotSynced       FailureReason = "not_synced"
	FailureWrongNetwork    FailureReason = "wrong_network"
	FailureStale           FailureReason = "stale"
	FailureInvalidResponse FailureReason = "invalid_response"
)

// allFailureReasons lists every label value so the counter can be
// pre-initialised: a rate() over a series that appears only on the first
// failure misses that failure.
func allFailureReasons() []FailureReason {
	return []FailureReason{
		FailureTransport, FailureHTTPStatus, FailureNotSynced,
		FailureWrongNetwork, FailureStale, FailureInvalidResponse,
	}
}

func (f FailureReason) known() bool {
	for _, k := range allFailureReasons() {
		if f == k {
			return true
		}
	}
	return false
}

// Defaults applied to zero Config fields.
const (
	DefaultPeriod             = 5 * time.Second
	DefaultTimeout            = 2 * time.Second
	DefaultMaxLedgerAge       = 60 * time.Second
	DefaultMaxIngestLag int64 = 10
	DefaultListen             = ":9100"
	DefaultStatusListen       = ":9101"

	defaultCoreTarget = "http://127.0.0.1:11626"
	defaultHTTPTarget = "http://127.0.0.1:8000"
)

// Config describes one target and the thresholds it is judged by. Zero
// values are replaced by the defaults above.
type Config struct {
	NodeType NodeType
	// TargetURL is the base URL of the process: core's HTTP_PORT, Horizon's
	// PORT or RPC's ENDPOINT. For RPC a non-empty path (quickstart serves
	// RPC at /rpc) is used as the JSON-RPC endpoint as is.
	TargetURL string
	// NetworkPassphrase, when set, must equal what the target reports.
	NetworkPassphrase string
	Period            time.Duration
	Timeout           time.Duration
	MaxLedgerAge      time.Duration
	MaxIngestLag      int64
}

func (c Config) withDefaults() Config {
	if c.TargetURL == "" {
		c.TargetURL = defaultTarget(c.NodeType)
	}
	if c.Period == 0 {
		c.Period = DefaultPeriod
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxLedgerAge == 0 {
		c.MaxLedgerAge = DefaultMaxLedgerAge
	}
	if c.MaxIngestLag == 0 {
		c.MaxIngestLag = DefaultMaxIngestLag
	}
	return c
}

func defaultTarget(t NodeType) string {
	if t == NodeTypeValidator {
		return defaultCoreTarget
	}
	return defaultHTTPTarget
}

// validate expects defaults to have been applied and returns the parsed
// target URL.
func (c Config) validate() (*url.URL, error) {
	switch c.NodeType {
	case NodeTypeValidator, NodeTypeHorizon, NodeTypeSorobanRPC:
	default:
		return nil, fmt.Errorf("unknown node type %q (want %s, %s or %s)",
			c.NodeType, NodeTypeValidator, NodeTypeHorizon, NodeTypeSorobanRPC)
	}
	u, err := url.Parse(c.TargetURL)
	if err != nil {
		return nil, fmt.Errorf("invalid target URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("invalid target URL %q: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("invalid target URL %q: missing host", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("invalid target URL %q: query and fragment are not allowed", u.Redacted())
	}
	for name, d := range map[string]time.Duration{
		"period": c.Period, "timeout": c.Timeout, "max ledger age": c.MaxLedgerAge,
	} {
		if d < 0 {
			return nil, fmt.Errorf("%s must not be negative, got %s", name, d)
		}
	}
	if c.MaxIngestLag < 0 {
		return nil, fmt.Errorf("max ingest lag must not be negative, got %d", c.MaxIngestLag)
	}
	return u, nil
}

// parseNodeType accepts the API spelling case-insensitively plus the short
// names people type on a command line.
func parseNodeType(s string) (NodeType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "validator", "core", "stellar-core":
		return NodeTypeValidator, nil
	case "horizon":
		return NodeTypeHorizon, nil
	case "sorobanrpc", "rpc", "stellar-rpc", "soroban-rpc":
		return NodeTypeSorobanRPC, nil
	}
	return "", fmt.Errorf("unknown node type %q (want %s, %s or %s)",
		s, NodeTypeValidator, NodeTypeHorizon, NodeTypeSorobanRPC)
}
