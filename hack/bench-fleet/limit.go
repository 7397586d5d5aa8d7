package main

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stellar-operator/stellar-operator/internal/controller"
)

// limitRun is one measurement of the plain client.
type limitRun struct {
	concurrency int
	objects     int
	seconds     float64
	writes      writeCounts
}

// applyPlain server-side applies every object once, with the operator's field manager and the
// operator's exact request (controller.ApplyAlways), on concurrency workers, as the operator's
// ServiceAccount with no client-side rate limit: as fast as this apiserver takes these objects.
func (c *cluster) applyPlain(ctx context.Context, objects []client.Object, concurrency int) (time.Duration, error) {
	k8s, err := client.New(unthrottled(c.operatorConfig), client.Options{Scheme: c.scheme})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	err = forEach(ctx, len(objects), concurrency, func(i int) error {
		obj := objects[i]
		if err := controller.ApplyAlways(ctx, k8s, c.scheme, obj); err != nil {
			return fmt.Errorf("applying %s %s/%s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName(), err)
		}
		return nil
	})
	return time.Since(start), err
}
