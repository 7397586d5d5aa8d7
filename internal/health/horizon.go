package health

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// horizonHealth is Horizon's GET /health body; it answers 503 unless all
// three flags are true.
type horizonHealth struct {
	DatabaseConnected *bool `json:"database_connected"`
	CoreUp            *bool `json:"core_up"`
	CoreSynced        *bool `json:"core_synced"`
}

// horizonRoot is the subset of Horizon's GET / we judge ingestion by.
type horizonRoot struct {
	HistoryLatestLedger         int64  `json:"history_latest_ledger"`
	HistoryLatestLedgerClosedAt string `json:"history_latest_ledger_closed_at"`
	CoreLatestLedger            int64  `json:"core_latest_ledger"`
	NetworkPassphrase           string `json:"network_passphrase"`
}

func (c *checker) checkHorizon(ctx context.Context) Result {
	hStatus, hBody, ferr := c.fetch(ctx, "horizon /health", http.MethodGet, c.endpoint("/health"), nil)
	if ferr != nil {
		return ferr.result()
	}
	// The root document is fetched even when /health fails: it carries the
	// ledger numbers, and the lag is most interesting while catching up.
	rStatus, rBody, rerr := c.fetch(ctx, "horizon /", http.MethodGet, c.endpoint("/"), nil)
	return evaluateHorizon(c.cfg, c.now(), hStatus, hBody, rStatus, rBody, rerr)
}

func evaluateHorizon(cfg Config, now time.Time, hStatus int, hBody []byte, rStatus int, rBody []byte, rerr *fetchError) Result {
	root, rootProblem := parseHorizonRoot(rStatus, rBody, rerr)
	r := horizonSyncVerdict(cfg, now, hStatus, hBody, root, rootProblem)
	if root != nil {
		if root.HistoryLatestLedger > 0 {
			r.LatestLedger = root.HistoryLatestLedger
		}
		if root.CoreLatestLedger > 0 && root.HistoryLatestLedger > 0 {
			r.Lag = max(0, root.CoreLatestLedger-root.HistoryLatestLedger)
		}
		if cfg.NetworkPassphrase != "" && root.NetworkPassphrase != cfg.NetworkPassphrase {
			r.Ready = false
			r.Failure = FailureWrongNetwork
			r.Reason = fmt.Sprintf("horizon is on network %q, expected %q", clip(root.NetworkPassphrase), cfg.NetworkPassphrase)
		}
	}
	return r
}

func parseHorizonRoot(status int, body []byte, ferr *fetchError) (*horizonRoot, *Result) {
	if ferr != nil {
		r := ferr.result()
		return nil, &r
	}
	if status != http.StatusOK {
		r := notReady(StateUnknown, FailureHTTPStatus, "horizon / returned HTTP %d", status)
		return nil, &r
	}
	var root horizonRoot
	if err := json.Unmarshal(body, &root); err != nil {
		r := notReady(StateUnknown, FailureInvalidResponse, "horizon / returned invalid JSON: %s", clip(err.Error()))
		return nil, &r
	}
	return &root, nil
}

func horizonSyncVerdict(cfg Config, now time.Time, hStatus int, hBody []byte, root *horizonRoot, rootProblem *Result) Result {
	if hStatus != http.StatusOK {
		return horizonHealthFailure(hStatus, hBody)
	}
	if rootProblem != nil {
		return *rootProblem
	}
	if root.HistoryLatestLedger <= 0 || root.HistoryLatestLedgerClosedAt == "" ||
		strings.HasPrefix(root.HistoryLatestLedgerClosedAt, "0001-01-01") {
		return notReady(StateCatchingUp, FailureNotSynced,
			"horizon has not ingested any ledger yet (core_latest_ledger %d)", root.CoreLatestLedger)
	}
	if root.CoreLatestLedger <= 0 {
		return notReady(StateUnknown, FailureNotSynced,
			"horizon reports core_latest_ledger 0: its core is down or not started")
	}
	lag := root.CoreLatestLedger - root.HistoryLatestLedger
	if lag > cfg.MaxIngestLag {
		return notReady(StateCatchingUp, FailureNotSynced,
			"horizon ingestion is %d ledgers behind core (history %d, core %d, max lag %d)",
			lag, root.HistoryLatestLedger, root.CoreLatestLedger, cfg.MaxIngestLag)
	}
	closedAt, err := time.Parse(time.RFC3339Nano, root.HistoryLatestLedgerClosedAt)
	if err != nil {
		return notReady(StateUnknown, FailureInvalidResponse,
			"horizon history_latest_ledger_closed_at %q is not RFC3339", clip(root.HistoryLatestLedgerClosedAt))
	}
	age := now.Sub(closedAt)
	if age > cfg.MaxLedgerAge {
		return notReady(StateCatchingUp, FailureStale,
			"horizon ledger %d is stale: closed %s ago (max %s)", root.HistoryLatestLedger, ageString(age), cfg.MaxLedgerAge)
	}
	return Result{
		State: StateSynced,
		Ready: true,
		Reason: fmt.Sprintf("horizon ingested ledger %d, %d behind core (closed %s ago)",
			root.HistoryLatestLedger, max(0, lag), ageString(max(0, age))),
	}
}

// horizonHealthFailure explains a non-200 /health using its flags, so the
// reason tells an operator whether to look at the database or at core.
func horizonHealthFailure(status int, body []byte) Result {
	var h horizonHealth
	if status != http.StatusServiceUnavailable || json.Unmarshal(body, &h) != nil ||
		h.DatabaseConnected == nil || h.CoreUp == nil || h.CoreSynced == nil {
		return notReady(StateUnknown, FailureHTTPStatus, "horizon /health returned HTTP %d", status)
	}
	var down []string
	for _, f := range []struct {
		name string
		ok   bool
	}{
		{"database_connected", *h.DatabaseConnected},
		{"core_up", *h.CoreUp},
		{"core_synced", *h.CoreSynced},
	} {
		if !f.ok {
			down = append(down, f.name)
		}
	}
	if len(down) == 0 {
		return notReady(StateUnknown, FailureHTTPStatus, "horizon /health returned HTTP 503 with all flags true")
	}
	state := StateUnknown
	if *h.DatabaseConnected && *h.CoreUp {
		// Only core_synced is false: everything is up, core is catching up.
		state = StateCatchingUp
	}
	verb := "is"
	if len(down) > 1 {
		verb = "are"
	}
	return notReady(state, FailureNotSynced, "horizon /health returned HTTP 503: %s %s false", strings.Join(down, ", "), verb)
}
