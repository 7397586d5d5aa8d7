package health

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// rpcInternalError is the JSON-RPC code Stellar RPC's getHealth uses for
// "not healthy yet" (stores not initialised, ledger latency too high).
const rpcInternalError = -32603

const (
	getHealthRequest  = `{"jsonrpc":"2.0","id":1,"method":"getHealth"}`
	getNetworkRequest = `{"jsonrpc":"2.0","id":2,"method":"getNetwork"}`
)

type rpcResponse struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int64  `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type rpcHealth struct {
	Status       string `json:"status"`
	LatestLedger int64  `json:"latestLedger"`
	// LatestLedgerCloseTime exists since v27.1 and has been both a string
	// and a number of unix seconds across SDK versions.
	LatestLedgerCloseTime json.RawMessage `json:"latestLedgerCloseTime"`
}

type rpcNetwork struct {
	Passphrase string `json:"passphrase"`
}

// rpcEndpoint honours a path in the target (quickstart mounts RPC at /rpc)
// and otherwise posts to "/".
func (c *checker) rpcEndpoint() string {
	if c.base.Path == "" {
		return c.endpoint("/")
	}
	return c.base.String()
}

func (c *checker) checkRPC(ctx context.Context) Result {
	status, body, ferr := c.fetch(ctx, "rpc getHealth", http.MethodPost, c.rpcEndpoint(), []byte(getHealthRequest))
	if ferr != nil {
		return ferr.result()
	}
	r := evaluateRPCHealth(c.cfg, c.now(), status, body)
	if c.cfg.NetworkPassphrase == "" || r.Failure == FailureTransport {
		return r
	}
	// Checked even when unhealthy: a node on the wrong network never
	// becomes right by catching up, and the reason should say so.
	nStatus, nBody, nerr := c.fetch(ctx, "rpc getNetwork", http.MethodPost, c.rpcEndpoint(), []byte(getNetworkRequest))
	if nerr != nil {
		if !r.Ready {
			return r
		}
		return withLedger(nerr.result(), r)
	}
	return applyRPCNetwork(c.cfg, r, nStatus, nBody)
}

func evaluateRPCHealth(cfg Config, now time.Time, status int, body []byte) Result {
	result, fail := decodeRPC("getHealth", status, body)
	if fail != nil {
		return *fail
	}
	var h rpcHealth
	if err := json.Unmarshal(result, &h); err != nil {
		return notReady(StateUnknown, FailureInvalidResponse, "rpc getHealth result is malformed: %s", clip(err.Error()))
	}
	r := Result{State: StateUnknown}
	if h.LatestLedger > 0 {
		r.LatestLedger = h.LatestLedger
	}
	if h.Status != "healthy" {
		r.Failure = FailureNotSynced
		r.Reason = fmt.Sprintf("rpc status is %q, want \"healthy\"", clip(h.Status))
		return r
	}
	closeTime, present, err := parseUnixSeconds(h.LatestLedgerCloseTime)
	if err != nil {
		r.Failure = FailureInvalidResponse
		r.Reason = "rpc latestLedgerCloseTime is invalid: " + clip(err.Error())
		return r
	}
	if !present {
		// Servers before v27.1 do not report close times; they enforce
		// MAX_HEALTHY_LEDGER_LATENCY themselves before saying "healthy".
		r.State, r.Ready = StateSynced, true
		r.Reason = fmt.Sprintf("rpc is healthy at ledger %d", h.LatestLedger)
		return r
	}
	age := now.Sub(closeTime)
	if age > cfg.MaxLedgerAge {
		r.State = StateCatchingUp
		r.Failure = FailureStale
		r.Reason = fmt.Sprintf("rpc ledger %d is stale: closed %s ago (max %s)", h.LatestLedger, ageString(age), cfg.MaxLedgerAge)
		return r
	}
	r.State, r.Ready = StateSynced, true
	r.Reason = fmt.Sprintf("rpc is healthy at ledger %d (closed %s ago)", h.LatestLedger, ageString(max(0, age)))
	return r
}

func applyRPCNetwork(cfg Config, r Result, status int, body []byte) Result {
	result, fail := decodeRPC("getNetwork", status, body)
	if fail != nil {
		if !r.Ready {
			return r
		}
		return withLedger(*fail, r)
	}
	var n rpcNetwork
	if err := json.Unmarshal(result, &n); err != nil {
		if !r.Ready {
			return r
		}
		return withLedger(notReady(StateUnknown, FailureInvalidResponse, "rpc getNetwork result is malformed: %s", clip(err.Error())), r)
	}
	if n.Passphrase != cfg.NetworkPassphrase {
		r.Ready = false
		r.Failure = FailureWrongNetwork
		r.Reason = fmt.Sprintf("rpc is on network %q, expected %q", clip(n.Passphrase), cfg.NetworkPassphrase)
	}
	return r
}

// withLedger keeps the ledger numbers of an earlier, successful call on a
// failure result from a later one.
func withLedger(fail, from Result) Result {
	fail.LatestLedger, fail.Lag = from.LatestLedger, from.Lag
	return fail
}

// decodeRPC unwraps a JSON-RPC 2.0 response. Errors arrive with HTTP 200,
// so the status alone says little.
func decodeRPC(method string, status int, body []byte) (json.RawMessage, *Result) {
	fail := func(state SyncState, f FailureReason, format string, args ...any) (json.RawMessage, *Result) {
		r := notReady(state, f, format, args...)
		return nil, &r
	}
	if status != http.StatusOK {
		return fail(StateUnknown, FailureHTTPStatus, "rpc %s returned HTTP %d", method, status)
	}
	var resp rpcResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return fail(StateUnknown, FailureInvalidResponse, "rpc %s returned invalid JSON: %s", method, clip(err.Error()))
	}
	if resp.Error != nil {
		msg := clip(resp.Error.Message)
		if resp.Error.Code == rpcInternalError {
			return fail(StateCatchingUp, FailureNotSynced, "rpc %s: %s", method, msg)
		}
		return fail(StateUnknown, FailureInvalidResponse, "rpc %s failed with code %d: %s", method, resp.Error.Code, msg)
	}
	if len(resp.Result) == 0 || string(resp.Result) == "null" {
		return fail(StateUnknown, FailureInvalidResponse, "rpc %s response has neither result nor error", method)
	}
	return resp.Result, nil
}

// parseUnixSeconds accepts a JSON string or number of unix seconds; absent
// or null reports present=false.
func parseUnixSeconds(raw json.RawMessage) (t time.Time, present bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, false, nil
	}
	text := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return time.Time{}, true, err
		}
		text = strings.TrimSpace(text)
	}
	if secs, err := strconv.ParseInt(text, 10, 64); err == nil {
		return time.Unix(secs, 0), true, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(f) || f > 1e15 || f < -1e15 {
		return time.Time{}, true, fmt.Errorf("%q is not unix seconds", clip(text))
	}
	return time.Unix(int64(f), 0), true, nil
}
