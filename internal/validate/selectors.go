package validate

import (
	corev1 "k8s.io/api/core/v1"
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

// PodsConfinedTo reports whether pods scheduled with nodeSelector and affinity's required node
// affinity can only land on Kubernetes nodes some selector of announcing selects. It answers for
// every node that may exist: a requirement it cannot prove (Gt, Lt, fields) counts as not confining.
func PodsConfinedTo(nodeSelector map[string]string, affinity *corev1.Affinity, announcing []metav1.LabelSelector) bool {
	if len(announcing) == 0 {
		return true
	}
	var terms []corev1.NodeSelectorTerm
	if affinity != nil && affinity.NodeAffinity != nil && affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		terms = affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	}
	if len(terms) == 0 {
		terms = []corev1.NodeSelectorTerm{{}}
	}
	for _, term := range terms {
		pod := podConstraints(nodeSelector, term)
		confined := false
		for i := range announcing {
			if implies(pod, constraints(&announcing[i])) {
				confined = true
				break
			}
		}
		if !confined {
			return false
		}
	}
	return true
}

// podConstraints are what a pod's nodeSelector and one required node-affinity term demand.
func podConstraints(nodeSelector map[string]string, term corev1.NodeSelectorTerm) map[string]*labelConstraint {
	sel := &metav1.LabelSelector{MatchLabels: nodeSelector}
	for _, e := range term.MatchExpressions {
		switch op := metav1.LabelSelectorOperator(e.Operator); op {
		case metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn, metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist:
			sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: e.Key, Operator: op, Values: e.Values})
		default: // Gt, Lt: the label exists, its value is not a set we can compare
			sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: e.Key, Operator: metav1.LabelSelectorOpExists})
		}
	}
	return constraints(sel)
}

// implies reports whether every label set meeting have also meets want.
func implies(have, want map[string]*labelConstraint) bool {
	for key, w := range want {
		h, ok := have[key]
		if !ok {
			h = &labelConstraint{}
		}
		if !constraintImplies(h, w) {
			return false
		}
	}
	return true
}

func constraintImplies(h, w *labelConstraint) bool {
	values := allowedValues(h) // nil: any value (or absence)
	if w.absent && !h.absent {
		return false
	}
	if w.present && !h.present && values == nil {
		return false
	}
	if w.in != nil {
		if values == nil {
			return false
		}
		for v := range values {
			if !w.in[v] {
				return false
			}
		}
	}
	for v := range w.notIn {
		if h.absent {
			continue
		}
		if values == nil {
			if !h.notIn[v] {
				return false
			}
			continue
		}
		if values[v] {
			return false
		}
	}
	return true
}

// allowedValues are the values a constraint leaves a present label, or nil when any is allowed.
func allowedValues(c *labelConstraint) map[string]bool {
	if c.in == nil {
		return nil
	}
	out := map[string]bool{}
	for v := range c.in {
		if !c.notIn[v] {
			out[v] = true
		}
	}
	return out
}
