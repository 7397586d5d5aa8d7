package health

import (
	"net/http"
	"testing"
	"time"
	"unicode/utf8"
)

func assertSaneResult(t *testing.T, r Result) {
	t.Helper()
	if r.Ready && (r.State != StateSynced || r.Failure != "") {
		t.Fatalf("ready result with state %q failure %q", r.State, r.Failure)
	}
	if !r.Ready && (r.Reason == "" || !r.Failure.known()) {
		t.Fatalf("not-ready result without reason or with label %q: %+v", r.Failure, r)
	}
	switch r.State {
	case StateSynced, StateCatchingUp, StateUnknown:
	default:
		t.Fatalf("state %q outside the enum", r.State)
	}
	if !utf8.ValidString(r.Reason) {
		t.Fatalf("reason is not valid UTF-8: %q", r.Reason)
	}
}

func FuzzCoreInfo(f *testing.F) {
	for _, seed := range []string{
		coreInfoBody("Synced!", 2, testnetPassphrase),
		coreInfoBody("Catching up", 2, testnetPassphrase, "Catching up: downloading ledger files 20094/119803 (16%)"),
		coreInfoBody("Booting", 0, pubnetPassphrase),
		coreBootingBody,
		`{"exception": "boom"}`,
		`{"error": {"nested": true}}`,
		`{"info": null}`,
		`{"info": {"state": "Synced!", "ledger": {"num": 1, "age": -5}}}`,
		`{"info": {"state": "Synced!", "ledger": {"num": 1, "age": 1e308}}}`,
		`{"info": {"state": "Catching up", "status": "not an array"}}`,
		"null", "", "[]", "\xff\xfe",
	} {
		f.Add([]byte(seed))
	}
	cfg := Config{NodeType: NodeTypeValidator, NetworkPassphrase: testnetPassphrase}.withDefaults()
	f.Fuzz(func(t *testing.T, body []byte) {
		assertSaneResult(t, evaluateCore(cfg, http.StatusOK, body))
	})
}

func FuzzRPCHealth(f *testing.F) {
	for _, seed := range []string{
		rpcHealthyStringTimes, rpcHealthyNumericTimes, rpcHealthyPreV271, rpcLatencyError, rpcNotInitError,
		`{"result":{"status":"healthy","latestLedgerCloseTime":"-99999999999999999999"}}`,
		`{"result":{"status":"healthy","latestLedgerCloseTime":1e300}}`,
		`{"error":null,"result":null}`,
	} {
		f.Add([]byte(seed))
	}
	cfg := Config{NodeType: NodeTypeSorobanRPC}.withDefaults()
	f.Fuzz(func(t *testing.T, body []byte) {
		assertSaneResult(t, evaluateRPCHealth(cfg, time.Unix(rpcCloseUnix, 0), http.StatusOK, body))
	})
}

func FuzzHorizonRoot(f *testing.F) {
	for _, seed := range []string{
		horizonSyncedRoot,
		horizonRootBody(0, 0, "0001-01-01T00:00:00Z", testnetPassphrase),
		`{"history_latest_ledger":9223372036854775807,"core_latest_ledger":-9223372036854775808,"history_latest_ledger_closed_at":"2026-07-21T22:07:25Z"}`,
	} {
		f.Add([]byte(seed))
	}
	cfg := Config{NodeType: NodeTypeHorizon, NetworkPassphrase: testnetPassphrase}.withDefaults()
	f.Fuzz(func(t *testing.T, body []byte) {
		r := evaluateHorizon(cfg, time.Unix(ledgerCloseUnix, 0), http.StatusOK, []byte(horizonHealthy), http.StatusOK, body, nil)
		assertSaneResult(t, r)
		if r.Lag < 0 {
			t.Fatalf("negative lag %d", r.Lag)
		}
	})
}
