package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricFamilies is one scrape of a Prometheus endpoint.
type metricFamilies map[string]*dto.MetricFamily

func parseMetrics(r io.Reader) (metricFamilies, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parsing metrics: %w", err)
	}
	return families, nil
}

func labelsOf(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// sum adds the counter or gauge values of every series of a family (0 when it is absent: a
// counter that was never incremented is often not exported yet).
func (f metricFamilies) sum(name string) float64 {
	total := 0.0
	for _, m := range f[name].GetMetric() {
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Untyped != nil:
			total += m.GetUntyped().GetValue()
		case m.Histogram != nil:
			total += m.GetHistogram().GetSampleSum()
		}
	}
	return total
}

// sumBy adds a counter family's values grouped by one label.
func (f metricFamilies) sumBy(name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range f[name].GetMetric() {
		out[labelsOf(m)[label]] += m.GetCounter().GetValue()
	}
	return out
}

// writeVerbs are the verbs of apiserver_request_total that change state.
func writeVerbs() map[string]bool {
	return map[string]bool{"POST": true, "PUT": true, "PATCH": true, "APPLY": true, "DELETE": true, "DELETECOLLECTION": true}
}

// clientWrites are the write requests a process sent, from its client-go metrics
// (rest_client_requests_total by method; server-side apply is a PATCH). Every REST client of the
// process counts there, the event recorder's too, so it attributes writes to the operator exactly,
// where the apiserver's counters also hold the apiserver's own writes.
func clientWrites(f metricFamilies) float64 {
	total := 0.0
	for method, n := range f.sumBy("rest_client_requests_total", "method") {
		if writeVerbs()[method] {
			total += n
		}
	}
	return total
}

// writeKey is one row of the write table: verb and resource (resource.group/subresource).
type writeKey struct {
	Verb     string
	Resource string
}

// writeCount is how many requests of a row were made, and how many of them failed (HTTP ≥ 400,
// e.g. conflicts).
type writeCount struct {
	Total, Failed float64
}

// writeCounts are apiserver write requests by verb and resource.
type writeCounts map[writeKey]writeCount

// apiserverWrites reads the write requests from the apiserver's apiserver_request_total. Requests
// to resources in skip are left out (the apiserver's own lease renewals, which happen whether an
// operator runs or not).
func apiserverWrites(f metricFamilies, skip map[string]bool) writeCounts {
	out := writeCounts{}
	for _, m := range f["apiserver_request_total"].GetMetric() {
		l := labelsOf(m)
		if !writeVerbs()[l["verb"]] || skip[l["resource"]] || l["dry_run"] != "" {
			continue
		}
		resource := l["resource"]
		if l["group"] != "" {
			resource += "." + l["group"]
		}
		if l["subresource"] != "" {
			resource += "/" + l["subresource"]
		}
		key := writeKey{Verb: l["verb"], Resource: resource}
		c := out[key]
		c.Total += m.GetCounter().GetValue()
		if !strings.HasPrefix(l["code"], "2") {
			c.Failed += m.GetCounter().GetValue()
		}
		out[key] = c
	}
	return out
}

// minus is what happened between before and w (counters only grow while one apiserver runs).
func (w writeCounts) minus(before writeCounts) writeCounts {
	out := writeCounts{}
	for k, c := range w {
		d := writeCount{Total: c.Total - before[k].Total, Failed: c.Failed - before[k].Failed}
		if d.Total > 0 {
			out[k] = d
		}
	}
	return out
}

func (w writeCounts) total() float64 {
	t := 0.0
	for _, c := range w {
		t += c.Total
	}
	return t
}

// rows are the table rows, largest first.
func (w writeCounts) rows() []writeKey {
	keys := make([]writeKey, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if w[keys[i]].Total != w[keys[j]].Total {
			return w[keys[i]].Total > w[keys[j]].Total
		}
		if keys[i].Resource != keys[j].Resource {
			return keys[i].Resource < keys[j].Resource
		}
		return keys[i].Verb < keys[j].Verb
	})
	return keys
}

// bucket is one cumulative histogram bucket.
type bucket struct {
	upper float64
	count float64
}

// histogram is a Prometheus histogram merged over its label sets.
type histogram struct {
	buckets []bucket
	count   float64
}

// histogramOf merges every series of a histogram family (they share their bucket bounds).
func (f metricFamilies) histogramOf(name string) histogram {
	byUpper := map[float64]float64{}
	h := histogram{}
	for _, m := range f[name].GetMetric() {
		hist := m.GetHistogram()
		if hist == nil {
			continue
		}
		h.count += float64(hist.GetSampleCount())
		for _, b := range hist.GetBucket() {
			byUpper[b.GetUpperBound()] += float64(b.GetCumulativeCount())
		}
	}
	for upper, count := range byUpper {
		h.buckets = append(h.buckets, bucket{upper: upper, count: count})
	}
	sort.Slice(h.buckets, func(i, j int) bool { return h.buckets[i].upper < h.buckets[j].upper })
	return h
}

// quantile estimates the q-quantile as Prometheus' histogram_quantile does: linear interpolation
// inside the bucket holding the rank; a rank beyond the last finite bound is that bound. NaN
// when the histogram is empty.
func (h histogram) quantile(q float64) float64 {
	if h.count == 0 || len(h.buckets) == 0 {
		return math.NaN()
	}
	rank := q * h.count
	lower, below := 0.0, 0.0
	for _, b := range h.buckets {
		if math.IsInf(b.upper, 1) {
			break
		}
		if b.count >= rank {
			if b.count == below {
				return b.upper
			}
			return lower + (b.upper-lower)*(rank-below)/(b.count-below)
		}
		lower, below = b.upper, b.count
	}
	return lower
}
