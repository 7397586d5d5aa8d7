package controller

import (
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// maxAPIMessage caps the apiserver's answer quoted in a condition or Event.
const maxAPIMessage = 1024

// applyError is a write the apiserver refused. It is reported on the node (Ready=False,
// ApplyFailed, an Event) with the apiserver's answer, and returned so the pass is retried with
// backoff: a webhook's or policy's verdict may change when other objects do.
type applyError struct {
	kind, name string
	err        error
}

func (e *applyError) Error() string { return e.err.Error() }
func (e *applyError) Unwrap() error { return e.err }

// message is what the user reads: which object, and the apiserver's reason, capped.
func (e *applyError) message() string {
	reason := e.err.Error()
	var status apierrors.APIStatus
	if errors.As(e.err, &status) && status.Status().Message != "" {
		reason = status.Status().Message
	}
	return truncate(fmt.Sprintf("writing %s %s: %s", e.kind, e.name, reason), maxAPIMessage)
}

// refused records a failed write on the scope and returns it.
func (s *scope) refused(obj client.Object, err error) error {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	if kind == "" {
		kind = fmt.Sprintf("%T", obj)
	}
	s.applyErr = &applyError{kind: kind, name: client.ObjectKeyFromObject(obj).String(), err: err}
	return s.applyErr
}
