// Package metallblog reads MetalLB's verdict on its configuration out of the JSON logs of its
// controller and speakers (and of frr-k8s and its reloader). MetalLB v0.15.2 has no
// ConfigurationState: without its webhook, its logs are the only place a refused configuration
// shows. The e2e and the controller suites use it to let MetalLB's own rules judge what the
// operator writes.
package metallblog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// Kind says how a log states a verdict on the configuration.
type Kind int

const (
	// MetalLB is a MetalLB controller's or speaker's JSON log.
	MetalLB Kind = iota
	// FRRK8s is an frr-k8s daemon's JSON log: any error is a configuration it could not apply.
	FRRK8s
	// Reloader is frr-k8s' reloader script's output: FRR's own verdict (frr-reload.py).
	Reloader
)

// Line is one JSON log line of a MetalLB binary (go-kit's JSON logger). Only these fields are ever
// printed: the "metallb CRs and Secrets" dump MetalLB adds to some errors may carry passwords.
type Line struct {
	Level      string `json:"level"`
	TS         string `json:"ts"`
	Controller string `json:"controller"`
	Op         string `json:"op"`
	Event      string `json:"event"`
	Msg        string `json:"msg"`
	Error      any    `json:"error"`
	Message    string `json:"message"`
	// raw is the whole line, for classification only: it may hold secrets, so it is never printed.
	raw string
}

func (l Line) String() string {
	parts := []string{l.TS, l.Level}
	for _, kv := range [][2]string{{"controller", l.Controller}, {"op", l.Op}, {"event", l.Event}, {"msg", l.Msg}, {"message", l.Message}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	if l.Error != nil {
		parts = append(parts, fmt.Sprintf("error=%v", l.Error))
	}
	return strings.Join(parts, " ")
}

// verdict classifies a line: a refusal of the configuration, an acceptance (the reconciler loaded
// it), or neither.
type verdict int

const (
	verdictNone verdict = iota
	verdictAccepted
	verdictRefused
	// verdictUnallocated is the controller failing to give a Service its address: a verdict on
	// one Service (two Services asking for one IP, an address no pool holds yet), not on the
	// configuration. MetalLB v0.15.2 does not say which Service.
	verdictUnallocated
	// verdictTransient is what MetalLB itself calls a TransientError: an object it references is
	// not in its cache yet (the operator writes the Secret or BFDProfile first; the informers may
	// deliver them later). MetalLB retries; it must end in acceptance.
	verdictTransient
)

// configReconcilers are the MetalLB reconcilers whose errors are a verdict on the configuration.
func configReconcilers() []string { return []string{"ConfigReconciler", "PoolReconciler"} }

// transientErrors are MetalLB's TransientError texts (internal/config of v0.15.2), and the
// speaker's complaint about a Service whose IP comes from a pool its configuration does not have
// yet (it holds the previous configuration while a transient error lasts, and re-checks every
// Service once a new one loads).
func transientErrors() []string {
	return []string{"secret ref not found", "referencing non existing bfd profile", "assigned IP not allowed by config",
		"service has no configuration under new config", "reload failed, retry"}
}

// reloaderRefusals are the reloader's lines for a configuration FRR did not take.
func reloaderRefusals() []string { return []string{"Failed to fully apply"} }

func classify(kind Kind, l Line) verdict {
	if kind == FRRK8s {
		// An optimistic-concurrency conflict writing its own status (FRRNodeState) is retried by
		// frr-k8s and says nothing about the configuration.
		if l.Level == "error" && !strings.Contains(l.raw, "the object has been modified") {
			return verdictRefused
		}
		return verdictNone
	}
	inConfig := slices.Contains(configReconcilers(), l.Controller) ||
		l.Op == "setConfig" || l.Op == "setBalancer" || l.Op == "allocateIPs" || l.Event == "loadbalancerIP"
	if !inConfig {
		return verdictNone
	}
	if l.Level == "error" && l.Op == "allocateIPs" {
		return verdictUnallocated
	}
	if l.Level == "error" {
		text := fmt.Sprint(l.Error) + " " + l.Msg + " " + l.Message + " " + l.Event
		for _, t := range transientErrors() {
			if strings.Contains(text, t) {
				return verdictTransient
			}
		}
		return verdictRefused
	}
	if l.Event == "config reloaded" {
		return verdictAccepted
	}
	return verdictNone
}

// Verdict is what one stretch of a log says.
type Verdict struct {
	// Refused are the configurations refused outright.
	Refused []Line
	// Pending are transient errors not yet followed by the same reconciler loading a configuration.
	Pending []Line
	// Unallocated are the Services the controller could not give an address.
	Unallocated []Line
	// Transients are every transient error, resolved or not.
	Transients []Line
	// Read is how many bytes were judged (complete lines only).
	Read int64
}

// Judge reads a log and returns its verdict.
func Judge(kind Kind, r io.Reader) (Verdict, error) {
	var v Verdict
	data, err := io.ReadAll(r)
	if err != nil {
		return v, err
	}
	// Only complete lines: a line still being written is judged next time.
	end := bytes.LastIndexByte(data, '\n') + 1
	open := map[string]Line{} // reconciler → last transient error not yet followed by acceptance
	for _, raw := range bytes.Split(data[:end], []byte{'\n'}) {
		if kind == Reloader {
			for _, t := range reloaderRefusals() {
				if strings.Contains(string(raw), t) {
					v.Refused = append(v.Refused, Line{Level: "error", Msg: string(raw)})
				}
			}
			continue
		}
		if len(raw) == 0 || raw[0] != '{' {
			continue
		}
		var l Line
		if json.Unmarshal(raw, &l) != nil {
			continue
		}
		l.raw = string(raw)
		switch classify(kind, l) {
		case verdictRefused:
			v.Refused = append(v.Refused, l)
		case verdictUnallocated:
			v.Unallocated = append(v.Unallocated, l)
		case verdictTransient:
			open[l.Controller+l.Op] = l
			v.Transients = append(v.Transients, l)
		case verdictAccepted:
			// A configuration loaded: everything that waited for one is settled (what is still
			// wrong is logged again after this line).
			clear(open)
		}
	}
	keys := make([]string, 0, len(open))
	for k := range open {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v.Pending = append(v.Pending, open[k])
	}
	v.Read = int64(end)
	return v, nil
}
