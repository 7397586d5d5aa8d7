package health

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCoreCheck(t *testing.T) {
	synced := coreInfoBody("Synced!", 2, testnetPassphrase)
	tests := []struct {
		name       string
		handler    http.Handler
		url        string // overrides the fake when set
		passphrase string
		timeout    time.Duration
		want       want
	}{
		{
			name:    "a synced core with a fresh ledger is ready",
			handler: static(http.StatusOK, synced),
			want:    want{ready: true, state: StateSynced, ledger: 3730795, reason: "Synced!"},
		},
		{
			name:       "a synced core on the configured network is ready",
			handler:    static(http.StatusOK, synced),
			passphrase: testnetPassphrase,
			want:       want{ready: true, state: StateSynced, ledger: 3730795, reason: "Synced!"},
		},
		{
			name: "a catching-up core is not ready and reports its progress",
			handler: static(http.StatusOK, coreInfoBody("Catching up", 300, testnetPassphrase,
				"Catching up: downloading ledger files 20094/119803 (16%)")),
			want: want{state: StateCatchingUp, ledger: 3730795, reason: "downloading ledger files 20094/119803", failure: FailureNotSynced},
		},
		{
			name:    "a core joining SCP is catching up",
			handler: static(http.StatusOK, coreInfoBody("Joining SCP", 1, testnetPassphrase)),
			want:    want{state: StateCatchingUp, ledger: 3730795, reason: `"Joining SCP"`, failure: FailureNotSynced},
		},
		{
			name:    "a connected core is catching up",
			handler: static(http.StatusOK, coreInfoBody("Connected", 1, testnetPassphrase)),
			want:    want{state: StateCatchingUp, ledger: 3730795, reason: `"Connected"`, failure: FailureNotSynced},
		},
		{
			name:    "a core in the Booting state is not ready and unknown",
			handler: static(http.StatusOK, coreInfoBody("Booting", 0, testnetPassphrase)),
			want:    want{state: StateUnknown, ledger: 3730795, reason: "Booting", failure: FailureNotSynced},
		},
		{
			name:    "a stopping core is not ready and unknown",
			handler: static(http.StatusOK, coreInfoBody("Stopping", 1, testnetPassphrase)),
			want:    want{state: StateUnknown, ledger: 3730795, reason: "Stopping", failure: FailureNotSynced},
		},
		{
			name:    "the booting error form with HTTP 200 is not ready",
			handler: static(http.StatusOK, coreBootingBody),
			want:    want{state: StateUnknown, reason: "Core is booting, try again later", failure: FailureNotSynced},
		},
		{
			name:    "an exception from core is not ready",
			handler: static(http.StatusOK, `{"exception": "database is locked"}`),
			want:    want{state: StateUnknown, reason: "database is locked", failure: FailureInvalidResponse},
		},
		{
			name:    "a synced core whose ledger is too old is stale",
			handler: static(http.StatusOK, coreInfoBody("Synced!", 120, testnetPassphrase)),
			want:    want{state: StateCatchingUp, ledger: 3730795, reason: "stale", failure: FailureStale},
		},
		{
			name:       "a core on another network is not ready",
			handler:    static(http.StatusOK, coreInfoBody("Synced!", 2, pubnetPassphrase)),
			passphrase: testnetPassphrase,
			want:       want{state: StateSynced, ledger: 3730795, reason: "network", failure: FailureWrongNetwork},
		},
		{
			name:       "a wrong network outranks catching up in the reason",
			handler:    static(http.StatusOK, coreInfoBody("Catching up", 2, pubnetPassphrase)),
			passphrase: testnetPassphrase,
			want:       want{state: StateCatchingUp, ledger: 3730795, reason: pubnetPassphrase, failure: FailureWrongNetwork},
		},
		{
			name: "a refused connection is a transport failure",
			url:  "refused",
			want: want{state: StateUnknown, reason: "connection refused", failure: FailureTransport},
		},
		{
			name:    "a response slower than the timeout is a transport failure",
			handler: slowHandler(nil),
			timeout: 150 * time.Millisecond,
			want:    want{state: StateUnknown, reason: "timed out", failure: FailureTransport},
		},
		{
			name:    "a garbage body is an invalid response",
			handler: static(http.StatusOK, "<html>502 Bad Gateway</html>"),
			want:    want{state: StateUnknown, reason: "invalid JSON", failure: FailureInvalidResponse},
		},
		{
			name:    "an object without info is an invalid response",
			handler: static(http.StatusOK, `{"something":"else"}`),
			want:    want{state: StateUnknown, reason: "no info", failure: FailureInvalidResponse},
		},
		{
			name:    "an unknown route status is not ready",
			handler: static(http.StatusNotFound, "not found"),
			want:    want{state: StateUnknown, reason: "HTTP 404", failure: FailureHTTPStatus},
		},
		{
			name:    "an unknown core state is not trusted",
			handler: static(http.StatusOK, coreInfoBody("Synced?", 1, testnetPassphrase)),
			want:    want{state: StateUnknown, ledger: 3730795, reason: "unknown state", failure: FailureInvalidResponse},
		},
		{
			name:    "a synced state without a ledger age is not trusted",
			handler: static(http.StatusOK, `{"info":{"state":"Synced!","ledger":{"num":5}}}`),
			want:    want{state: StateUnknown, ledger: 5, reason: "no ledger", failure: FailureInvalidResponse},
		},
		{
			name: "a huge body is rejected without reading it all",
			handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, http.StatusOK, `{"info":{"state":"`+strings.Repeat("x", 3<<20)+`"}}`)
			}),
			want: want{state: StateUnknown, reason: "exceeds", failure: FailureInvalidResponse},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := tt.url
			switch {
			case url == "refused":
				url = refusedURL(t)
			case url == "":
				url = serve(t, tt.handler).URL
			}
			start := time.Now()
			got := check(t, Config{
				NodeType:          NodeTypeValidator,
				TargetURL:         url,
				NetworkPassphrase: tt.passphrase,
				Timeout:           tt.timeout,
			}, coreNow)
			assertResult(t, got, tt.want)
			if got.NodeType != NodeTypeValidator {
				t.Errorf("NodeType = %q", got.NodeType)
			}
			if tt.timeout > 0 && time.Since(start) > tt.timeout+time.Second {
				t.Errorf("check took %s despite a %s timeout", time.Since(start), tt.timeout)
			}
		})
	}
}

func TestCoreCheckUsesInfoPathUnderTarget(t *testing.T) {
	var path string
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		writeJSON(w, http.StatusOK, coreInfoBody("Synced!", 1, testnetPassphrase))
	}))
	got := check(t, Config{NodeType: NodeTypeValidator, TargetURL: srv.URL + "/"}, coreNow)
	if !got.Ready || path != "/info" {
		t.Fatalf("Ready = %v, path = %q; want true, /info", got.Ready, path)
	}
}

func TestNewCheckerRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"an unknown node type is rejected", Config{NodeType: "Watcher"}, "unknown node type"},
		{"an empty node type is rejected", Config{}, "unknown node type"},
		{"a target without scheme is rejected", Config{NodeType: NodeTypeHorizon, TargetURL: "127.0.0.1:8000"}, "target URL"},
		{"a non-HTTP scheme is rejected", Config{NodeType: NodeTypeHorizon, TargetURL: "ftp://127.0.0.1"}, "scheme"},
		{"a target without host is rejected", Config{NodeType: NodeTypeHorizon, TargetURL: "http://"}, "host"},
		{"a negative timeout is rejected", Config{NodeType: NodeTypeHorizon, Timeout: -time.Second}, "negative"},
		{"a negative ingest lag is rejected", Config{NodeType: NodeTypeHorizon, MaxIngestLag: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewChecker(tt.cfg, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewChecker error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestClipKeepsReasonsOnOneBoundedLine(t *testing.T) {
	got := clip("line one\nline two\x00\xff" + strings.Repeat("é", 500))
	if strings.ContainsAny(got, "\n\x00") || len([]rune(got)) > maxReasonRunes+1 {
		t.Fatalf("clip returned %q", got)
	}
}

// A validator's quorum counts reach its result (and so /status and the
// stellar_health_quorum_validators metric): alerts on missing validators need them.
func TestCoreQuorumIsReported(t *testing.T) {
	body := strings.Replace(coreInfoBody("Synced!", 1, testnetPassphrase),
		`"fail_at" : 2,`, `"agree" : 5,
            "delayed" : 0,
            "disagree" : 0,
            "fail_at" : 2,
            "missing" : 2,`, 1)
	r := evaluateCore(Config{NodeType: NodeTypeValidator, NetworkPassphrase: testnetPassphrase, MaxLedgerAge: time.Minute}, http.StatusOK, []byte(body))
	if !r.Ready || r.Quorum == nil {
		t.Fatalf("result = %+v", r)
	}
	if q := *r.Quorum; q.Agree != 5 || q.Missing != 2 || q.FailAt != 2 || q.Phase != "EXTERNALIZE" {
		t.Fatalf("quorum = %+v", q)
	}
	reg := prometheus.NewRegistry()
	s := NewServer(Config{NodeType: NodeTypeValidator}, nil, reg, logr.Discard())
	s.record(r, time.Millisecond)
	if got := testutil.ToFloat64(s.metrics.quorum.WithLabelValues("missing")); got != 2 {
		t.Fatalf("stellar_health_quorum_validators{state=missing} = %v", got)
	}
}
