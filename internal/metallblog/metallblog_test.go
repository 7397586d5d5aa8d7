package metallblog

import (
	"strings"
	"testing"
)

func TestJudge(t *testing.T) {
	const (
		refused    = `{"level":"error","ts":"t1","controller":"ConfigReconciler","error":"CIDR \"198.51.100.0/28\" in pool \"b\" overlaps with already defined CIDR \"198.51.100.7/32\"","msg":"failed to parse the configuration","password":"s3cret"}`
		transient  = `{"level":"error","ts":"t2","controller":"ConfigReconciler","error":"peer p referencing non existing bfd profile stellar-bfd","msg":"failed to parse the configuration"}`
		reloaded   = `{"level":"info","ts":"t3","controller":"ConfigReconciler","event":"config reloaded","msg":"config reloaded"}`
		unassigned = `{"level":"error","ts":"t5","op":"allocateIPs","error":"[\"192.0.2.7\"] is not allowed in config","msg":"IP allocation failed"}`
		unrelated  = `{"level":"error","ts":"t4","controller":"NodeReconciler","msg":"failed to get node"}`
	)
	cases := []struct {
		name                   string
		kind                   Kind
		log                    string
		refused, pending, seen int
		unallocated            int
	}{
		{"an accepted configuration has no refusal", MetalLB, reloaded + "\n", 0, 0, 0, 0},
		{"an overlap is a refusal", MetalLB, refused + "\n", 1, 0, 0, 0},
		{"a transient error followed by a reload is settled", MetalLB, transient + "\n" + reloaded + "\n", 0, 0, 1, 0},
		{"a transient error without a reload is pending", MetalLB, reloaded + "\n" + transient + "\n", 0, 1, 1, 0},
		{"a Service without its address is no verdict on the configuration", MetalLB, unassigned + "\n" + reloaded + "\n", 0, 0, 0, 1},
		{"other reconcilers' errors are no verdict on the configuration", MetalLB, unrelated + "\n", 0, 0, 0, 0},
		{"a line still being written is judged next time", MetalLB, reloaded + "\n" + refused, 0, 0, 0, 0},
		{"frr-k8s' own status conflicts are retried, not refusals", FRRK8s, `{"level":"error","msg":"x","error":"the object has been modified"}` + "\n", 0, 0, 0, 0},
		{"any other frr-k8s error is a refusal", FRRK8s, `{"level":"error","msg":"failed to apply"}` + "\n", 1, 0, 0, 0},
		{"the reloader's failure is FRR's refusal", Reloader, "reload: Failed to fully apply configuration file\n", 1, 0, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Judge(tc.kind, strings.NewReader(tc.log))
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Refused) != tc.refused || len(v.Pending) != tc.pending || len(v.Transients) != tc.seen || len(v.Unallocated) != tc.unallocated {
				t.Fatalf("refused %d pending %d transients %d unallocated %d, want %d %d %d %d", len(v.Refused), len(v.Pending), len(v.Transients), len(v.Unallocated),
					tc.refused, tc.pending, tc.seen, tc.unallocated)
			}
			for _, l := range v.Refused {
				if strings.Contains(l.String(), "s3cret") {
					t.Fatal("a judged line prints a field that may hold a password")
				}
			}
		})
	}
}
