package main

import (
	"math"
	"strings"
	"testing"
)

const apiserverScrape = `# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="services",scope="resource",subresource="",verb="APPLY",version="v1"} 10
apiserver_request_total{code="409",component="apiserver",dry_run="",group="",resource="services",scope="resource",subresource="",verb="APPLY",version="v1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="stellar.org",resource="stellarnodes",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 5
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="services",scope="cluster",subresource="",verb="LIST",version="v1"} 99
apiserver_request_total{code="201",component="apiserver",dry_run="All",group="",resource="services",scope="resource",subresource="",verb="POST",version="v1"} 3
`

func TestApiserverWritesCountWritesByVerbAndResourceOnly(t *testing.T) {
	f, err := parseMetrics(strings.NewReader(apiserverScrape))
	if err != nil {
		t.Fatal(err)
	}
	got := apiserverWrites(f, map[string]bool{"leases": true})
	want := writeCounts{
		{Verb: "APPLY", Resource: "services"}:                        {Total: 12, Failed: 2},
		{Verb: "PATCH", Resource: "stellarnodes.stellar.org/status"}: {Total: 5},
	}
	if len(got) != len(want) {
		t.Fatalf("writes = %v, want %v (reads, dry runs and skipped resources left out)", got, want)
	}
	for k, c := range want {
		if got[k] != c {
			t.Errorf("%v = %+v, want %+v", k, got[k], c)
		}
	}
	if got.total() != 17 {
		t.Errorf("total = %v, want 17", got.total())
	}
}

func TestMinusKeepsOnlyWhatHappenedSince(t *testing.T) {
	svc := writeKey{Verb: "APPLY", Resource: "services"}
	cm := writeKey{Verb: "APPLY", Resource: "configmaps"}
	before := writeCounts{svc: {Total: 10, Failed: 1}, cm: {Total: 4}}
	after := writeCounts{svc: {Total: 13, Failed: 1}, cm: {Total: 4}}
	got := after.minus(before)
	if len(got) != 1 || got[svc] != (writeCount{Total: 3}) {
		t.Errorf("delta = %v, want only 3 service applies", got)
	}
}

func TestQuantileInterpolatesInsideTheBucketLikePrometheus(t *testing.T) {
	h := histogram{count: 100, buckets: []bucket{{0.01, 50}, {0.1, 90}, {1, 100}, {math.Inf(1), 100}}}
	for _, tc := range []struct {
		name string
		q    float64
		want float64
	}{
		{"the median at the top of the first bucket", 0.5, 0.01},
		{"a rank inside a bucket is interpolated linearly", 0.7, 0.01 + (0.1-0.01)*0.5},
		{"p99 in the last finite bucket", 0.99, 0.1 + (1-0.1)*0.9},
		{"a rank within the first bucket starts from zero", 0.25, 0.005},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.quantile(tc.q); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestQuantileBeyondTheLastFiniteBoundIsThatBound(t *testing.T) {
	h := histogram{count: 10, buckets: []bucket{{1, 5}, {math.Inf(1), 10}}}
	if got := h.quantile(0.99); got != 1 {
		t.Errorf("quantile = %v, want 1", got)
	}
}

func TestQuantileOfAnEmptyHistogramIsNaN(t *testing.T) {
	if got := (histogram{}).quantile(0.5); !math.IsNaN(got) {
		t.Errorf("quantile = %v, want NaN", got)
	}
}

func TestHistogramOfMergesEverySeries(t *testing.T) {
	scrape := `# TYPE controller_runtime_reconcile_time_seconds histogram
controller_runtime_reconcile_time_seconds_bucket{controller="a",le="0.1"} 3
controller_runtime_reconcile_time_seconds_bucket{controller="a",le="+Inf"} 4
controller_runtime_reconcile_time_seconds_sum{controller="a"} 1
controller_runtime_reconcile_time_seconds_count{controller="a"} 4
controller_runtime_reconcile_time_seconds_bucket{controller="b",le="0.1"} 1
controller_runtime_reconcile_time_seconds_bucket{controller="b",le="+Inf"} 1
controller_runtime_reconcile_time_seconds_sum{controller="b"} 0.05
controller_runtime_reconcile_time_seconds_count{controller="b"} 1
`
	f, err := parseMetrics(strings.NewReader(scrape))
	if err != nil {
		t.Fatal(err)
	}
	h := f.histogramOf("controller_runtime_reconcile_time_seconds")
	if h.count != 5 || len(h.buckets) != 2 || h.buckets[0] != (bucket{0.1, 4}) {
		t.Errorf("merged histogram = %+v, want 5 samples, 4 of them ≤ 0.1", h)
	}
}

func TestParseCPUSecondsCountsFieldsAfterTheCommandName(t *testing.T) {
	// The command name holds a space and a parenthesis; utime 250 and stime 50 ticks.
	stat := "1234 (stellar (op) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 1000 200"
	got, err := parseCPUSeconds(stat)
	if err != nil {
		t.Fatal(err)
	}
	if got != 3 {
		t.Errorf("cpu = %v s, want 3", got)
	}
	if _, err := parseCPUSeconds("garbage"); err == nil {
		t.Error("a line without a command name parsed")
	}
}

func TestParseMemoryReadsCurrentAndPeakResidentSet(t *testing.T) {
	status := "Name:\tstellar-operator\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t12\n"
	rss, peak, err := parseMemory(status)
	if err != nil {
		t.Fatal(err)
	}
	if rss != 100*mib || peak != 200*mib {
		t.Errorf("rss, peak = %v, %v MiB; want 100, 200", rss/mib, peak/mib)
	}
	if _, _, err := parseMemory("Name:\tx\n"); err == nil {
		t.Error("a status without memory lines parsed")
	}
}

func TestClientWritesCountTheProcesssWriteMethodsOnly(t *testing.T) {
	scrape := `# TYPE rest_client_requests_total counter
rest_client_requests_total{code="200",host="h",method="GET"} 100
rest_client_requests_total{code="200",host="h",method="PATCH"} 7
rest_client_requests_total{code="409",host="h",method="PATCH"} 1
rest_client_requests_total{code="201",host="h",method="POST"} 2
rest_client_requests_total{code="200",host="h",method="DELETE"} 1
`
	f, err := parseMetrics(strings.NewReader(scrape))
	if err != nil {
		t.Fatal(err)
	}
	if got := clientWrites(f); got != 11 {
		t.Errorf("client writes = %v, want 11", got)
	}
}
