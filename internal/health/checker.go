package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxBodyBytes caps every response read: the target is local but not
// trusted to be sane, and a runaway body must not take the sidecar down.
const maxBodyBytes = 1 << 20

// maxReasonRunes keeps target-provided text (core status lines, RPC error
// messages) from bloating probe bodies, logs and /status.
const maxReasonRunes = 200

// Result is one check's verdict.
type Result struct {
	NodeType NodeType `json:"nodeType"`
	// State is the sync state the target reports after our freshness and
	// lag rules; a node on the wrong network can be Synced yet not Ready.
	State        SyncState `json:"state"`
	Ready        bool      `json:"ready"`
	LatestLedger int64     `json:"latestLedger"`
	// Lag is how many ledgers the target is behind, where known (Horizon).
	Lag    int64  `json:"lag"`
	Reason string `json:"reason"`
	// Failure classifies a not-ready result; empty when Ready.
	Failure FailureReason `json:"failure,omitempty"`
	// Quorum is what a validator's core says of its quorum set in the last ledger it voted on.
	Quorum          *Quorum   `json:"quorum,omitempty"`
	CheckedAt       time.Time `json:"checkedAt"`
	DurationSeconds float64   `json:"durationSeconds"`
}

// Quorum is stellar-core's view of its quorum set (/info quorum.qset): how many validators agree
// with it, disagree, are delayed or missing, and how many failures it can survive (fail_at).
type Quorum struct {
	Agree    int64  `json:"agree"`
	Disagree int64  `json:"disagree"`
	Delayed  int64  `json:"delayed"`
	Missing  int64  `json:"missing"`
	FailAt   int64  `json:"fail_at"`
	Phase    string `json:"phase,omitempty"`
}

// Checker performs one sync check. Implementations must honour ctx and
// never panic on bad input from the target.
type Checker interface {
	Check(ctx context.Context) Result
}

// NewChecker returns the Checker for cfg.NodeType. A nil client gets a
// private one; a nil now uses time.Now.
func NewChecker(cfg Config, client *http.Client, now func() time.Time) (Checker, error) {
	cfg = cfg.withDefaults()
	base, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if client == nil {
		client = newHTTPClient()
	}
	if now == nil {
		now = time.Now
	}
	c := &checker{cfg: cfg, base: base, client: client, now: now}
	switch cfg.NodeType {
	case NodeTypeValidator:
		c.probe = c.checkCore
	case NodeTypeHorizon:
		c.probe = c.checkHorizon
	case NodeTypeSorobanRPC:
		c.probe = c.checkRPC
	}
	return c, nil
}

func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// The target is on loopback next to us; a proxy from the pod's
	// environment would only add a way to fail.
	t.Proxy = nil
	t.MaxIdleConns = 4
	t.MaxIdleConnsPerHost = 2
	t.IdleConnTimeout = 30 * time.Second
	return &http.Client{
		Transport: t,
		// Redirects are never part of these APIs; following one could take
		// us to something that is not the local process.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type checker struct {
	cfg    Config
	base   *url.URL
	client *http.Client
	now    func() time.Time
	probe  func(ctx context.Context) Result
}

func (c *checker) Check(ctx context.Context) Result {
	start := time.Now()
	r := c.probe(ctx)
	r.NodeType = c.cfg.NodeType
	if r.Ready {
		r.Failure = ""
	}
	r.CheckedAt = c.now()
	r.DurationSeconds = time.Since(start).Seconds()
	return r
}

// CloseIdleConnections lets Server.Run drop keep-alive connections (and
// their goroutines) once it stops checking.
func (c *checker) CloseIdleConnections() { c.client.CloseIdleConnections() }

// endpoint joins the base URL and an absolute path such as "/info".
func (c *checker) endpoint(path string) string {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath = ""
	return u.String()
}

// fetchError is a failed HTTP exchange already classified for the Result.
type fetchError struct {
	failure FailureReason
	msg     string
}

func (e *fetchError) Error() string { return e.msg }

// fetch performs one bounded HTTP call. what names the call in reasons,
// e.g. "core /info".
func (c *checker) fetch(ctx context.Context, what, method, endpoint string, payload []byte) (int, []byte, *fetchError) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, body)
	if err != nil {
		return 0, nil, &fetchError{FailureTransport, fmt.Sprintf("%s: cannot build request: %v", what, err)}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "stellar-operator-health")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, &fetchError{FailureTransport, what + ": " + describeTransportError(err, c.cfg.Timeout)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return resp.StatusCode, nil, &fetchError{FailureTransport, what + ": reading body: " + describeTransportError(err, c.cfg.Timeout)}
	}
	if len(data) > maxBodyBytes {
		return resp.StatusCode, nil, &fetchError{FailureInvalidResponse, what + ": response body exceeds 1 MiB"}
	}
	return resp.StatusCode, data, nil
}

// describeTransportError turns a client error into a short phrase without
// the URL (callers name the endpoint) or wrapped noise.
func describeTransportError(err error, timeout time.Duration) string {
	var nerr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return fmt.Sprintf("timed out after %s", timeout)
	case errors.Is(err, context.Canceled):
		return "check cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed unexpectedly"
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return clip(err.Error())
}

// clip makes untrusted text safe for a one-line reason: no control
// characters, valid UTF-8, bounded length.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxReasonRunes {
		s = string([]rune(s)[:maxReasonRunes]) + "…"
	}
	return s
}

func notReady(state SyncState, failure FailureReason, format string, args ...any) Result {
	return Result{State: state, Failure: failure, Reason: fmt.Sprintf(format, args...)}
}

func (e *fetchError) result() Result {
	return Result{State: StateUnknown, Failure: e.failure, Reason: e.msg}
}

// ageString renders an age in whole seconds; sub-second precision is
// noise next to 5-second ledgers.
func ageString(d time.Duration) string {
	return d.Round(time.Second).String()
}
