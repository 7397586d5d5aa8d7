package health

import (
	"net/http"
	"testing"
	"time"
)

func TestRPCCheck(t *testing.T) {
	tests := []struct {
		name       string
		health     string
		network    string
		passphrase string
		now        time.Time
		want       want
	}{
		{
			name:   "a healthy rpc with string close times is ready",
			health: rpcHealthyStringTimes,
			want:   want{ready: true, state: StateSynced, ledger: 3730763, reason: "healthy"},
		},
		{
			name:   "a healthy rpc with numeric close times is ready",
			health: rpcHealthyNumericTimes,
			want:   want{ready: true, state: StateSynced, ledger: 3730763, reason: "closed 10s ago"},
		},
		{
			name:   "a healthy pre-v27.1 rpc without close times is ready",
			health: rpcHealthyPreV271,
			now:    time.Unix(rpcCloseUnix+100000, 0),
			want:   want{ready: true, state: StateSynced, ledger: 3730763, reason: "healthy"},
		},
		{
			name:   "the -32603 latency error is catching up with its message",
			health: rpcLatencyError,
			want:   want{state: StateCatchingUp, reason: "latency (45s) since last known ledger closed is too high", failure: FailureNotSynced},
		},
		{
			name:   "uninitialised data stores are catching up",
			health: rpcNotInitError,
			want:   want{state: StateCatchingUp, reason: "data stores are not initialized", failure: FailureNotSynced},
		},
		{
			name:   "any other JSON-RPC error is not ready",
			health: `{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"method not found"}}`,
			want:   want{state: StateUnknown, reason: "-32601", failure: FailureInvalidResponse},
		},
		{
			name:   "a status other than healthy is not ready",
			health: `{"jsonrpc":"2.0","id":1,"result":{"status":"unhealthy","latestLedger":7}}`,
			want:   want{state: StateUnknown, ledger: 7, reason: "unhealthy", failure: FailureNotSynced},
		},
		{
			name:   "a healthy rpc with an old ledger is stale",
			health: rpcHealthyStringTimes,
			now:    time.Unix(rpcCloseUnix+3600, 0),
			want:   want{state: StateCatchingUp, ledger: 3730763, reason: "stale", failure: FailureStale},
		},
		{
			name:   "a nonsense close time is an invalid response",
			health: `{"jsonrpc":"2.0","id":1,"result":{"status":"healthy","latestLedger":9,"latestLedgerCloseTime":"soon"}}`,
			want:   want{state: StateUnknown, ledger: 9, reason: "latestLedgerCloseTime", failure: FailureInvalidResponse},
		},
		{
			name:       "an rpc on another network is not ready",
			health:     rpcHealthyStringTimes,
			network:    rpcPubnetResult,
			passphrase: testnetPassphrase,
			want:       want{state: StateSynced, ledger: 3730763, reason: "network", failure: FailureWrongNetwork},
		},
		{
			name:       "an rpc on the configured network is ready",
			health:     rpcHealthyStringTimes,
			network:    rpcTestnetResult,
			passphrase: testnetPassphrase,
			want:       want{ready: true, state: StateSynced, ledger: 3730763, reason: "healthy"},
		},
		{
			name:       "a failing getNetwork makes a healthy rpc not ready",
			health:     rpcHealthyStringTimes,
			network:    `{"jsonrpc":"2.0","id":2,"error":{"code":-32600,"message":"nope"}}`,
			passphrase: testnetPassphrase,
			want:       want{state: StateUnknown, ledger: 3730763, reason: "getNetwork", failure: FailureInvalidResponse},
		},
		{
			name:   "a garbage answer is an invalid response",
			health: "}{",
			want:   want{state: StateUnknown, reason: "invalid JSON", failure: FailureInvalidResponse},
		},
		{
			name:   "a response with neither result nor error is invalid",
			health: `{"jsonrpc":"2.0","id":1}`,
			want:   want{state: StateUnknown, reason: "neither result nor error", failure: FailureInvalidResponse},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeRPC{health: tt.health, network: tt.network}
			srv := serve(t, fake)
			now := tt.now
			if now.IsZero() {
				now = rpcNow
			}
			got := check(t, Config{NodeType: NodeTypeSorobanRPC, TargetURL: srv.URL, NetworkPassphrase: tt.passphrase}, now)
			assertResult(t, got, tt.want)
			// The fake answers anything but POST with 405, so a ready
			// result already proves the method; this pins it down.
			for _, m := range fake.methods() {
				if m != http.MethodPost {
					t.Errorf("checker used HTTP %s, want only POST", m)
				}
			}
			wantCalls := 1
			if tt.passphrase != "" {
				wantCalls = 2
			}
			if n := len(fake.methods()); n != wantCalls {
				t.Errorf("fake saw %d calls, want %d", n, wantCalls)
			}
		})
	}
}

func TestRPCCheckReportsMethodNotAllowed(t *testing.T) {
	// A server that refuses our request with 405 (as Stellar RPC does for
	// GET) must surface the status rather than look like a parse error.
	srv := serve(t, static(http.StatusMethodNotAllowed, ""))
	got := check(t, Config{NodeType: NodeTypeSorobanRPC, TargetURL: srv.URL}, rpcNow)
	assertResult(t, got, want{state: StateUnknown, reason: "HTTP 405", failure: FailureHTTPStatus})

	// And the fake really does reject GET, so the ready cases above prove
	// the checker POSTs.
	resp, err := http.Get(serve(t, &fakeRPC{health: rpcHealthyStringTimes}).URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("fake answered GET with %d, want 405", resp.StatusCode)
	}
}

func TestRPCCheckHonoursTargetPath(t *testing.T) {
	fake := &fakeRPC{health: rpcHealthyStringTimes}
	mux := http.NewServeMux()
	mux.Handle("/rpc", fake)
	srv := serve(t, mux)
	got := check(t, Config{NodeType: NodeTypeSorobanRPC, TargetURL: srv.URL + "/rpc"}, rpcNow)
	assertResult(t, got, want{ready: true, state: StateSynced, ledger: 3730763, reason: "healthy"})
}

func TestRPCCheckConnectionRefused(t *testing.T) {
	got := check(t, Config{NodeType: NodeTypeSorobanRPC, TargetURL: refusedURL(t), NetworkPassphrase: testnetPassphrase}, rpcNow)
	assertResult(t, got, want{state: StateUnknown, reason: "refused", failure: FailureTransport})
}

func TestParseUnixSeconds(t *testing.T) {
	for _, in := range []string{`"1784671485"`, `1784671485`, `1784671485.0`, ` "1784671485" `} {
		got, present, err := parseUnixSeconds([]byte(in))
		if err != nil || !present || got.Unix() != rpcCloseUnix {
			t.Errorf("parseUnixSeconds(%s) = %v, %v, %v", in, got, present, err)
		}
	}
	for _, in := range []string{``, `null`} {
		if _, present, err := parseUnixSeconds([]byte(in)); present || err != nil {
			t.Errorf("parseUnixSeconds(%q) present=%v err=%v, want absent", in, present, err)
		}
	}
	for _, in := range []string{`"soon"`, `true`, `{}`, `1e300`, `"NaN"`} {
		if _, _, err := parseUnixSeconds([]byte(in)); err == nil {
			t.Errorf("parseUnixSeconds(%s) accepted nonsense", in)
		}
	}
}
