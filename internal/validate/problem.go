// Package validate holds the semantic checks of a StellarNode, alone and against its cluster: what
// the CRD schema and CEL cannot say. The controller, the CLI and the tests share it, so they agree.
// Each rule is a small named check with its own table test.
package validate

// Severity says whether a Problem stops (part of) the node from being applied.
type Severity string

const (
	// SeverityError means the spec cannot be realised as written: its scope is not applied.
	SeverityError Severity = "Error"
	// SeverityWarning means the spec is realised but part of it cannot take effect or is risky.
	SeverityWarning Severity = "Warning"
)

// Scope is what an error stops.
type Scope string

const (
	// ScopeNode errors stop the whole node: nothing is applied (no half-valid workload).
	ScopeNode Scope = ""
	// ScopeLoadBalancer errors stop the load balancer only: the workload runs, no LoadBalancer
	// Service or MetalLB object is written for the node.
	ScopeLoadBalancer Scope = "LoadBalancer"
)

// Problem is one thing wrong with a spec in its cluster, named by field path.
type Problem struct {
	Field    string
	Reason   string
	Message  string
	Severity Severity
	Scope    Scope
}

func (p Problem) String() string { return p.Field + ": " + p.Message }

// Blocking reports whether the problem stops what its scope covers.
func (p Problem) Blocking() bool { return p.Severity == SeverityError }

// HasErrors reports whether any problem stops the whole node.
func HasErrors(problems []Problem) bool {
	for _, p := range problems {
		if p.Blocking() && p.Scope == ScopeNode {
			return true
		}
	}
	return false
}

// BlocksLoadBalancer reports whether any problem stops the node's load balancer.
func BlocksLoadBalancer(problems []Problem) bool {
	for _, p := range problems {
		if p.Blocking() {
			return true
		}
	}
	return false
}

// InScope returns the problems with scope s.
func InScope(problems []Problem, s Scope) []Problem {
	var out []Problem
	for _, p := range problems {
		if p.Scope == s {
			out = append(out, p)
		}
	}
	return out
}

// WithScope returns the problems moved to scope s.
func WithScope(problems []Problem, s Scope) []Problem {
	out := make([]Problem, len(problems))
	for i, p := range problems {
		p.Scope = s
		out[i] = p
	}
	return out
}

// Errorf and Warnf build problems of the node scope.
func Errorf(field, reason, msg string) Problem {
	return Problem{Field: field, Reason: reason, Message: msg, Severity: SeverityError}
}

func Warnf(field, reason, msg string) Problem {
	return Problem{Field: field, Reason: reason, Message: msg, Severity: SeverityWarning}
}

// LBErrorf builds an error that stops the load balancer only.
func LBErrorf(field, reason, msg string) Problem {
	return Problem{Field: field, Reason: reason, Message: msg, Severity: SeverityError, Scope: ScopeLoadBalancer}
}
