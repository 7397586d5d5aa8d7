// Package validate holds the semantic checks of a StellarNode, alone and against its cluster: what
// the CRD schema and CEL cannot say. The controller, the CLI and the tests share it, so they agree.
package validate

// Severity says whether a Problem stops the node from being applied.
type Severity string

const (
	// SeverityError means the spec cannot be realised as written: the concern is not applied.
	SeverityError Severity = "Error"
	// SeverityWarning means the spec is realised but part of it cannot take effect or is risky.
	SeverityWarning Severity = "Warning"
)

// Problem is one thing wrong with a spec in its cluster, named by field path.
type Problem struct {
	Field    string
	Reason   string
	Message  string
	Severity Severity
}

func (p Problem) String() string { return p.Field + ": " + p.Message }

// HasErrors reports whether any problem blocks applying.
func HasErrors(problems []Problem) bool {
	for _, p := range problems {
		if p.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Errorf and Warnf build problems.
func Errorf(field, reason, msg string) Problem {
	return Problem{Field: field, Reason: reason, Message: msg, Severity: SeverityError}
}

func Warnf(field, reason, msg string) Problem {
	return Problem{Field: field, Reason: reason, Message: msg, Severity: SeverityWarning}
}
