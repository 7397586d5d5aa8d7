package validate

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SelectorsMayOverlap reports whether some Kubernetes node could match both a and b (each a list
// of selectors, any of which selects; an empty list selects every node). MetalLB checks its
// FRR-mode peer rules on the nodes that exist now; the operator answers for every node that may
// join later, so it says "may overlap" unless the selectors provably exclude each other.
func SelectorsMayOverlap(a, b []metav1.LabelSelector) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for i := range a {
		for j := range b {
			if !selectorsExclude(&a[i], &b[j]) {
				return true
			}
		}
	}
	return false
}

// labelConstraint is what one selector demands of one label key.
type labelConstraint struct {
	// in is the set the value must be in (nil: any value, if present).
	in map[string]bool
	// notIn are values the label must not have.
	notIn map[string]bool
	// present and absent say whether the label must (not) exist.
	present, absent bool
}

func constraints(sel *metav1.LabelSelector) map[string]*labelConstraint {
	out := map[string]*labelConstraint{}
	get := func(k string) *labelConstraint {
		if out[k] == nil {
			out[k] = &labelConstraint{}
		}
		return out[k]
	}
	restrict := func(c *labelConstraint, values []string) {
		allowed := map[string]bool{}
		for _, v := range values {
			if c.in == nil || c.in[v] {
				allowed[v] = true
			}
		}
		c.in = allowed
		c.present = true
	}
	for k, v := range sel.MatchLabels {
		restrict(get(k), []string{v})
	}
	for _, req := range sel.MatchExpressions {
		c := get(req.Key)
		switch req.Operator {
		case metav1.LabelSelectorOpIn:
			restrict(c, req.Values)
		case metav1.LabelSelectorOpNotIn:
			if c.notIn == nil {
				c.notIn = map[string]bool{}
			}
			for _, v := range req.Values {
				c.notIn[v] = true
			}
		case metav1.LabelSelectorOpExists:
			c.present = true
		case metav1.LabelSelectorOpDoesNotExist:
			c.absent = true
		}
	}
	return out
}

// selectorsExclude reports whether no label set can match both selectors.
func selectorsExclude(a, b *metav1.LabelSelector) bool {
	ca, cb := constraints(a), constraints(b)
	for key, x := range ca {
		y, ok := cb[key]
		if !ok {
			y = &labelConstraint{}
		}
		if conflicting(merge(x, y)) {
			return true
		}
	}
	for key, y := range cb {
		if _, ok := ca[key]; !ok && conflicting(y) {
			return true
		}
	}
	return false
}

func merge(x, y *labelConstraint) *labelConstraint {
	m := &labelConstraint{present: x.present || y.present, absent: x.absent || y.absent, notIn: map[string]bool{}}
	for v := range x.notIn {
		m.notIn[v] = true
	}
	for v := range y.notIn {
		m.notIn[v] = true
	}
	switch {
	case x.in == nil:
		m.in = y.in
	case y.in == nil:
		m.in = x.in
	default:
		m.in = map[string]bool{}
		for v := range x.in {
			if y.in[v] {
				m.in[v] = true
			}
		}
	}
	return m
}

// conflicting reports whether no value (or absence) of one label satisfies c.
func conflicting(c *labelConstraint) bool {
	if c.present && c.absent {
		return true
	}
	if c.in == nil {
		return false
	}
	if c.absent {
		return true // a value is required and the label must be absent
	}
	for v := range c.in {
		if !c.notIn[v] {
			return false
		}
	}
	return true
}
