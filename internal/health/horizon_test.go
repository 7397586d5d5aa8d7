package health

import (
	"net/http"
	"testing"
	"time"
)

func TestHorizonCheck(t *testing.T) {
	horizonNow := time.Unix(ledgerCloseUnix+5, 0)
	tests := []struct {
		name         string
		healthStatus int
		healthBody   string
		rootStatus   int
		rootBody     string
		passphrase   string
		now          time.Time
		want         want
	}{
		{
			name:         "a synced horizon is ready",
			healthStatus: http.StatusOK, healthBody: horizonHealthy,
			rootStatus: http.StatusOK, rootBody: horizonSyncedRoot,
			passphrase: testnetPassphrase,
			want:       want{ready: true, state: StateSynced, ledger: 3730795, lag: 1, reason: "ingested ledger 3730795"},
		},
		{
			name:         "a 503 with core_synced false is catching up and names the flag",
			healthStatus: http.StatusServiceUnavailable, healthBody: horizonCoreNotSynced,
			rootStatus: http.StatusOK, rootBody: horizonSyncedRoot,
			want: want{state: StateCatchingUp, ledger: 3730795, lag: 1, reason: "core_synced is false", failure: FailureNotSynced},
		},
		{
			name:         "a 503 with the database and core down names every false flag",
			healthStatus: http.StatusServiceUnavailable,
			healthBody:   `{"database_connected":false,"core_up":false,"core_synced":false}`,
			rootStatus:   http.StatusInternalServerError, rootBody: `{"status":500}`,
			want: want{state: StateUnknown, reason: "database_connected, core_up, core_synced are false", failure: FailureNotSynced},
		},
		{
			name:         "a health endpoint failing without flags is an HTTP status failure",
			healthStatus: http.StatusInternalServerError, healthBody: "oops",
			rootStatus: http.StatusOK, rootBody: horizonSyncedRoot,
			want: want{state: StateUnknown, ledger: 3730795, lag: 1, reason: "HTTP 500", failure: FailureHTTPStatus},
		},
		{
			name:         "a horizon lagging far behind core is catching up",
			healthStatus: http.StatusOK, healthBody: horizonHealthy,
			rootStatus: http.StatusOK, rootBody: horizonRootBody(3730000, 3730795, "2026-07-21T22:07:25Z", testnetPassphrase),
			want: want{state: StateCatchingUp, ledger: 3730000, lag: 795, reason: "795 ledgers behind", failure: FailureNotSynced},
		},
		{
			name:         "a lag at the limit is still ready",
			healthStatus: http.StatusOK, healthBody: horizonHealthy,
			rootStatus: http.StatusOK, rootBody: horizonRootBody(3730785, 3730795, "2026-07-21T22:07:25Z", testnetPassphrase),
			want: want{ready: true, state: StateSynced, ledger: 3730785, lag: 10, reason: "10 behind core"},
		},
		{
			name:         "a fresh horizon that never ingested is catching up",
			healthStatus: http.StatusOK, healthBody: horizonHealthy,
			rootStatus: http.StatusOK, rootBody: horizonRootBody(0, 0, "0001-01-01T00:00:00Z", testnetPassphrase),
			want: want{state: StateCatchingUp, reason: "not ingested any ledger", failure: FailureNotSynced},
		},
		{
			name:         "a horizon whose core is down is not ready",
			healthStatus: http.StatusOK, healthBody: horizonHealthy,
			rootStatus: http.StatusOK, rootBody: horizonRootBody(3730795, 0, "2026-07-21T22:07:25Z", testnetPassphrase),
			want: want{state: StateUnknown, ledger: 3730795, reason: "core is down", failure: FailureNotSynced},
		},
		{
			name:         "a horizon on another network is not ready",
			healthStatus: http.StatusOK, healthBody: horizonHealthy,
			rootStatus: http.StatusOK, rootBody: horizonRootBody(3730795, 3730796, "2026-07-21T22:07:25Z", pubnetPassphrase),
			passphrase: testnetPassphrase,
			want:       want{state: StateSynced, ledger: 3730795, lag: 1, reason: "network", failure: FailureWrongNetwork},
		},
		{
			name:         "a horizon whose last ledger closed long ago is stale",
			healthStatus: http.StatusOK, healthBody: horizonHealthy,
			rootStatus: http.StatusOK, rootBody: horizonSyncedRoot,
			now:  time.Unix(ledgerCloseUnix+600, 0),
			want: want{state: StateCatchingUp, ledger: 3730795, lag: 1, reason: "stale", failure: FailureStale},
		},
		{
			name:         "a garbage root document is an invalid response",
			healthStatus: http.StatusOK, healthBody: horizonHealthy,
			rootStatus: http.StatusOK, rootBody: "not json at all",
			want: want{state: StateUnknown, reason: "invalid JSON", failure: FailureInvalidResponse},
		},
		{
			name:         "an unparsable close time is an invalid response",
			healthStatus: http.StatusOK, healthBody: horizonHealthy,
			rootStatus: http.StatusOK, rootBody: horizonRootBody(3730795, 3730796, "yesterday", testnetPassphrase),
			want: want{state: StateUnknown, ledger: 3730795, lag: 1, reason: "RFC3339", failure: FailureInvalidResponse},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeHorizon{}
			fake.set(tt.healthStatus, tt.healthBody, tt.rootStatus, tt.rootBody)
			srv := serve(t, fake)
			now := tt.now
			if now.IsZero() {
				now = horizonNow
			}
			got := check(t, Config{NodeType: NodeTypeHorizon, TargetURL: srv.URL, NetworkPassphrase: tt.passphrase}, now)
			assertResult(t, got, tt.want)
		})
	}
}

func TestHorizonCheckConnectionRefused(t *testing.T) {
	got := check(t, Config{NodeType: NodeTypeHorizon, TargetURL: refusedURL(t)}, coreNow)
	assertResult(t, got, want{state: StateUnknown, reason: "horizon /health: connection refused", failure: FailureTransport})
}
