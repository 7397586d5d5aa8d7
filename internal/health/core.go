package health

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"time"
)

// Core states as printed by stellar-core's /info. They are matched exactly;
// anything else is treated as unknown rather than guessed at.
const (
	coreStateBooting    = "Booting"
	coreStateJoiningSCP = "Joining SCP"
	coreStateConnected  = "Connected"
	coreStateCatchingUp = "Catching up"
	coreStateSynced     = "Synced!"
	coreStateStopping   = "Stopping"
)

// coreInfoResponse covers both shapes core answers /info with: the normal
// {"info":{...}} and, since v25.2, {"error": "..."} while booting, plus
// {"exception": "..."} when a handler throws. All come with HTTP 200.
type coreInfoResponse struct {
	Info      *coreInfo       `json:"info"`
	Error     json.RawMessage `json:"error"`
	Exception json.RawMessage `json:"exception"`
}

type coreInfo struct {
	State   string          `json:"state"`
	Network string          `json:"network"`
	Status  json.RawMessage `json:"status"`
	Quorum  *struct {
		QSet *Quorum `json:"qset"`
	} `json:"quorum"`
	Ledger *struct {
		Num int64 `json:"num"`
		// Age is seconds since the last ledger closed. Parsed as float so a
		// future core printing fractions does not turn into a parse error.
		Age *float64 `json:"age"`
	} `json:"ledger"`
}

func (c *checker) checkCore(ctx context.Context) Result {
	status, body, ferr := c.fetch(ctx, "core /info", http.MethodGet, c.endpoint("/info"), nil)
	if ferr != nil {
		return ferr.result()
	}
	return evaluateCore(c.cfg, status, body)
}

// evaluateCore is the pure part of the core check, kept separate so it can
// be fuzzed with arbitrary bodies.
func evaluateCore(cfg Config, status int, body []byte) Result {
	if status != http.StatusOK {
		return notReady(StateUnknown, FailureHTTPStatus, "core /info returned HTTP %d", status)
	}
	var resp coreInfoResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return notReady(StateUnknown, FailureInvalidResponse, "core /info returned invalid JSON: %s", clip(err.Error()))
	}
	if msg, ok := rawText(resp.Error); ok {
		return notReady(StateUnknown, FailureNotSynced, "core is not ready: error %q", msg)
	}
	if msg, ok := rawText(resp.Exception); ok {
		return notReady(StateUnknown, FailureInvalidResponse, "core /info failed: exception %q", msg)
	}
	info := resp.Info
	if info == nil {
		return notReady(StateUnknown, FailureInvalidResponse, "core /info response has no info object")
	}

	var r Result
	if info.Ledger != nil && info.Ledger.Num > 0 {
		r.LatestLedger = info.Ledger.Num
	}
	if info.Quorum != nil && info.Quorum.QSet != nil {
		q := *info.Quorum.QSet
		r.Quorum = &q
	}

	state := info.State
	switch state {
	case coreStateSynced:
		r.State = StateSynced
	case coreStateCatchingUp, coreStateJoiningSCP, coreStateConnected:
		r.State = StateCatchingUp
	default:
		r.State = StateUnknown
	}

	// The network check comes first: serving another network's data is
	// worse than being behind, and the reason should say so.
	if cfg.NetworkPassphrase != "" && info.Network != cfg.NetworkPassphrase {
		r.Failure = FailureWrongNetwork
		r.Reason = fmt.Sprintf("core is on network %q, expected %q", clip(info.Network), cfg.NetworkPassphrase)
		return r
	}

	switch state {
	case coreStateSynced:
	case coreStateCatchingUp, coreStateJoiningSCP, coreStateConnected, coreStateBooting, coreStateStopping:
		r.Failure = FailureNotSynced
		r.Reason = fmt.Sprintf("core state is %q", state)
		if line, ok := firstStatusLine(info.Status); ok {
			r.Reason += ": " + line
		}
		return r
	default:
		r.Failure = FailureInvalidResponse
		r.Reason = fmt.Sprintf("core reports unknown state %q", clip(state))
		return r
	}

	if info.Ledger == nil || info.Ledger.Age == nil || info.Ledger.Num <= 0 {
		r.State = StateUnknown
		r.Failure = FailureInvalidResponse
		r.Reason = `core state is "Synced!" but /info has no ledger number or age`
		return r
	}
	age := *info.Ledger.Age
	if age > cfg.MaxLedgerAge.Seconds() {
		// Synced! with an old ledger means core lost track of consensus and
		// has not noticed yet; it is behind for all practical purposes.
		r.State = StateCatchingUp
		r.Failure = FailureStale
		r.Reason = fmt.Sprintf("core ledger %d is stale: closed %s ago (max %s)",
			r.LatestLedger, ageString(secondsDuration(age)), cfg.MaxLedgerAge)
		return r
	}
	r.Ready = true
	r.Reason = fmt.Sprintf("core state is %q at ledger %d (closed %s ago)",
		state, r.LatestLedger, ageString(secondsDuration(age)))
	return r
}

// rawText renders an optional JSON value for a reason. Strings are unquoted;
// other JSON is shown as is so an unexpected shape is still visible.
func rawText(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return clip(s), true
	}
	return clip(string(raw)), true
}

// firstStatusLine extracts the first entry of core's optional status array,
// which carries progress such as "Catching up: downloading ledger files".
func firstStatusLine(raw json.RawMessage) (string, bool) {
	var lines []string
	if err := json.Unmarshal(raw, &lines); err == nil {
		for _, l := range lines {
			if l = clip(l); l != "" {
				return l, true
			}
		}
		return "", false
	}
	var line string
	if err := json.Unmarshal(raw, &line); err == nil && clip(line) != "" {
		return clip(line), true
	}
	return "", false
}

// secondsDuration converts without overflowing on absurd ages.
func secondsDuration(s float64) time.Duration {
	if s >= math.MaxInt64/float64(time.Second) {
		return time.Duration(math.MaxInt64)
	}
	if s <= math.MinInt64/float64(time.Second) {
		return time.Duration(math.MinInt64)
	}
	return time.Duration(s * float64(time.Second))
}
