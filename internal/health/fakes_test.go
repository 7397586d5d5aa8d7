package health

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fakes mirror the shapes recorded in /work/shared/notes/stellar.md §7.

const (
	testnetPassphrase = "Test SDF Network ; September 2015"
	pubnetPassphrase  = "Public Global Stellar Network ; September 2015"

	// ledgerCloseUnix is the close time of ledger 3730795 in the fakes
	// (2026-07-21T22:07:25Z); fixed clocks are set a few seconds later.
	ledgerCloseUnix = 1784671645
	// rpcCloseUnix is latestLedgerCloseTime in the RPC getHealth fake.
	rpcCloseUnix = 1784671485
)

var (
	coreNow = time.Unix(ledgerCloseUnix+2, 0)
	rpcNow  = time.Unix(rpcCloseUnix+10, 0)
)

// coreInfoBody renders /info the way stellar-core's jsoncpp writer does:
// 3-space indent, sorted keys and spaces around the colon.
func coreInfoBody(state string, age int, network string, status ...string) string {
	var b strings.Builder
	b.WriteString("{\n   \"info\" : {\n")
	b.WriteString("      \"build\" : \"v27.1.0\",\n")
	b.WriteString("      \"ledger\" : {\n")
	fmt.Fprintf(&b, "         \"age\" : %d,\n", age)
	b.WriteString("         \"baseFee\" : 100,\n")
	b.WriteString("         \"baseReserve\" : 5000000,\n")
	fmt.Fprintf(&b, "         \"closeTime\" : %d,\n", ledgerCloseUnix)
	b.WriteString("         \"hash\" : \"" + strings.Repeat("ab", 32) + "\",\n")
	b.WriteString("         \"maxTxSetSize\" : 1000,\n")
	b.WriteString("         \"num\" : 3730795,\n")
	b.WriteString("         \"version\" : 27\n")
	b.WriteString("      },\n")
	fmt.Fprintf(&b, "      \"network\" : %q,\n", network)
	b.WriteString("      \"peers\" : {\n         \"authenticated_count\" : 8,\n         \"pending_count\" : 0\n      },\n")
	b.WriteString("      \"protocol_version\" : 27,\n")
	b.WriteString("      \"quorum\" : {\n         \"node\" : \"GABCD\",\n         \"qset\" : {\n" +
		"            \"fail_at\" : 2,\n            \"phase\" : \"EXTERNALIZE\"\n         }\n      },\n")
	b.WriteString("      \"startedOn\" : \"2026-08-20T10:00:00Z\",\n")
	fmt.Fprintf(&b, "      \"state\" : %q", state)
	if len(status) > 0 {
		b.WriteString(",\n      \"status\" : [")
		for i, s := range status {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %q", s)
		}
		b.WriteString(" ]")
	}
	b.WriteString("\n   }\n}\n")
	return b.String()
}

const coreBootingBody = `{"error": "Core is booting, try again later"}`

func horizonRootBody(history, core int64, closedAt, passphrase string) string {
	return fmt.Sprintf(`{"_links":{"self":{"href":"http://h/"}},"horizon_version":"27.0.1","core_version":"v27.1.0",`+
		`"ingest_latest_ledger":%d,"history_latest_ledger":%d,"history_latest_ledger_closed_at":%q,`+
		`"history_elder_ledger":3696235,"core_latest_ledger":%d,"network_passphrase":%q,`+
		`"current_protocol_version":27,"supported_protocol_version":27,"core_supported_protocol_version":27}`,
		history, history, closedAt, core, passphrase)
}

var horizonSyncedRoot = horizonRootBody(3730795, 3730796, "2026-07-21T22:07:25Z", testnetPassphrase)

const (
	horizonHealthy       = `{"database_connected":true,"core_up":true,"core_synced":true}`
	horizonCoreNotSynced = `{"database_connected":true,"core_up":true,"core_synced":false}`
)

// fakeHorizon serves /health and / with swappable answers.
type fakeHorizon struct {
	mu           sync.Mutex
	healthStatus int
	healthBody   string
	rootStatus   int
	rootBody     string
}

func (f *fakeHorizon) set(healthStatus int, healthBody string, rootStatus int, rootBody string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.healthStatus, f.healthBody, f.rootStatus, f.rootBody = healthStatus, healthBody, rootStatus, rootBody
}

func (f *fakeHorizon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	hs, hb, rs, rb := f.healthStatus, f.healthBody, f.rootStatus, f.rootBody
	f.mu.Unlock()
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/health":
		writeJSON(w, hs, hb)
	case "/":
		writeJSON(w, rs, rb)
	default:
		http.NotFound(w, r)
	}
}

const (
	rpcHealthyStringTimes = `{"jsonrpc":"2.0","id":1,"result":{"status":"healthy","latestLedger":3730763,"latestLedgerCloseTime":"1784671485",` +
		`"oldestLedger":3609804,"oldestLedgerCloseTime":"1784065656","ledgerRetentionWindow":120960}}`
	rpcHealthyNumericTimes = `{"jsonrpc":"2.0","id":1,"result":{"status":"healthy","latestLedger":3730763,"latestLedgerCloseTime":1784671485,` +
		`"oldestLedger":3609804,"oldestLedgerCloseTime":1784065656,"ledgerRetentionWindow":120960}}`
	rpcHealthyPreV271 = `{"jsonrpc":"2.0","id":1,"result":{"status":"healthy","latestLedger":3730763,` +
		`"oldestLedger":3609804,"ledgerRetentionWindow":120960}}`
	rpcLatencyError  = `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"latency (45s) since last known ledger closed is too high (>30s)"}}`
	rpcNotInitError  = `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"data stores are not initialized"}}`
	rpcTestnetResult = `{"jsonrpc":"2.0","id":2,"result":{"friendbotUrl":"https://friendbot.stellar.org/","passphrase":"Test SDF Network ; September 2015","protocolVersion":27}}`
	rpcPubnetResult  = `{"jsonrpc":"2.0","id":2,"result":{"passphrase":"Public Global Stellar Network ; September 2015","protocolVersion":27}}`
)

// fakeRPC behaves like jrpc2's jhttp bridge: POST with a JSON content type
// only, JSON-RPC errors with HTTP 200.
type fakeRPC struct {
	mu       sync.Mutex
	health   string
	network  string
	httpSeen []string
}

func (f *fakeRPC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.httpSeen = append(f.httpSeen, r.Method)
	health, network := f.health, f.network
	f.mu.Unlock()
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	var req struct {
		JSONRPC string `json:"jsonrpc"`
		Method  string `json:"method"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.JSONRPC != "2.0" {
		writeJSON(w, http.StatusOK, `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}`)
		return
	}
	switch req.Method {
	case "getHealth":
		writeJSON(w, http.StatusOK, health)
	case "getNetwork":
		writeJSON(w, http.StatusOK, network)
	default:
		writeJSON(w, http.StatusOK, `{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"method not found"}}`)
	}
}

func (f *fakeRPC) methods() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.httpSeen...)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func static(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, status, body) }
}

// slowHandler answers only after the client gave up (or much later), which
// is what a wedged process looks like from outside.
func slowHandler(release <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		case <-time.After(10 * time.Second):
		}
		writeJSON(w, http.StatusOK, coreInfoBody("Synced!", 1, testnetPassphrase))
	}
}

func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// refusedURL returns a loopback URL nothing listens on.
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr
}

func check(t *testing.T, cfg Config, now time.Time) Result {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	c, err := NewChecker(cfg, nil, func() time.Time { return now })
	if err != nil {
		t.Fatalf("NewChecker: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := c.Check(ctx)
	if cc, ok := c.(interface{ CloseIdleConnections() }); ok {
		cc.CloseIdleConnections()
	}
	return r
}

type want struct {
	ready   bool
	state   SyncState
	ledger  int64
	lag     int64
	reason  string
	failure FailureReason
}

func assertResult(t *testing.T, got Result, w want) {
	t.Helper()
	t.Logf("reason: %s", got.Reason)
	if got.Ready != w.ready {
		t.Errorf("Ready = %v, want %v (reason %q)", got.Ready, w.ready, got.Reason)
	}
	if got.State != w.state {
		t.Errorf("State = %q, want %q (reason %q)", got.State, w.state, got.Reason)
	}
	if got.LatestLedger != w.ledger {
		t.Errorf("LatestLedger = %d, want %d", got.LatestLedger, w.ledger)
	}
	if got.Lag != w.lag {
		t.Errorf("Lag = %d, want %d", got.Lag, w.lag)
	}
	if !strings.Contains(got.Reason, w.reason) {
		t.Errorf("Reason = %q, want it to contain %q", got.Reason, w.reason)
	}
	if got.Failure != w.failure {
		t.Errorf("Failure = %q, want %q", got.Failure, w.failure)
	}
	if got.CheckedAt.IsZero() {
		t.Error("CheckedAt is zero")
	}
	if strings.ContainsAny(got.Reason, "\n\r") {
		t.Errorf("Reason spans lines: %q", got.Reason)
	}
}
