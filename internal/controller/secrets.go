package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
	"github.com/stellar-operator/stellar-operator/internal/stellar"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// resolveSecrets finds (or generates) the Secrets the workload references and records them in the
// scope's facts. A missing user Secret is a problem on the node, retried later, not an error.
func (r *Reconciler) resolveSecrets(ctx context.Context, s *scope) error {
	switch s.node.Spec.NodeType {
	case stellarv1.NodeTypeValidator:
		return r.resolveSeed(ctx, s)
	case stellarv1.NodeTypeHorizon:
		return r.resolveDatabase(ctx, s)
	}
	return nil
}

func (r *Reconciler) resolveSeed(ctx context.Context, s *scope) error {
	ref, generated := render.SeedSecret(s.node)
	s.facts.ValidatorSeedSecret = ref
	field := "spec.validator.seedSecretRef"
	if generated {
		field = "the generated Secret " + ref.Name
		missing, err := r.secretMissing(ctx, s.node.Namespace, ref.Name)
		if err != nil {
			return err
		}
		if missing {
			had, err := r.hadIdentity(ctx, s.node)
			if err != nil {
				return err
			}
			if had {
				// A new seed would be a new validator on the network, silently: refuse.
				s.problems = append(s.problems, validate.Errorf("spec.validator", stellarv1.ReasonSeedSecretLost, fmt.Sprintf(
					"the seed Secret %s of validator %s is gone; the operator does not mint a new identity for a validator that had one: restore the Secret (key %q), or delete the StellarNode and its data to start a new validator",
					ref.Name, s.node.Status.PublicKey, ref.Key)))
				s.requeueAtMost(r.Options.retryInterval())
				return nil
			}
			if err := r.createGenerated(ctx, s.node, ref.Name, render.ComponentCore, func(secret *corev1.Secret) error {
				seed, address, err := stellar.NewSeed()
				if err != nil {
					return fmt.Errorf("generating a validator seed: %w", err)
				}
				secret.StringData = map[string]string{ref.Key: seed}
				secret.Annotations = map[string]string{render.AnnotationPublicKey: address}
				return nil
			}); err != nil {
				return err
			}
		}
	}
	value, problem, err := r.secretValue(ctx, s.node.Namespace, ref, field)
	if err != nil || problem != nil {
		if problem != nil {
			s.problems = append(s.problems, *problem)
			s.requeueAtMost(r.Options.retryInterval())
		}
		return err
	}
	address, err := stellar.AddressFromSeed(string(value))
	if err != nil {
		s.problems = append(s.problems, validate.Errorf(field, stellarv1.ReasonInvalidSeed,
			fmt.Sprintf("key %q of Secret %s is not a valid Stellar secret seed", ref.Key, ref.Name)))
		return nil
	}
	s.publicKey = address
	s.facts.ValidatorPublicKey = address
	return nil
}

// hadIdentity reports whether a validator ever ran with a seed: it reported a public key, or its
// StatefulSet or data volume exists. Observed again each pass; status is only one of the clues.
func (r *Reconciler) hadIdentity(ctx context.Context, node *stellarv1.StellarNode) (bool, error) {
	if node.Status.PublicKey != "" {
		return true, nil
	}
	return r.workloadOrDataExists(ctx, node, render.WorkloadName(node), &appsv1.StatefulSet{})
}

// workloadOrDataExists reports whether the StatefulSet name, or its first pod's data claim, exists.
func (r *Reconciler) workloadOrDataExists(ctx context.Context, node *stellarv1.StellarNode, name string, sts *appsv1.StatefulSet) (bool, error) {
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: node.Namespace, Name: name}, sts)
	if err == nil {
		return true, nil
	}
	if !apierrors.IsNotFound(err) {
		return false, err
	}
	claim := &metav1.PartialObjectMetadata{}
	claim.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"))
	err = r.APIReader.Get(ctx, client.ObjectKey{Namespace: node.Namespace, Name: "data-" + name + "-0"}, claim)
	if err == nil {
		return true, nil
	}
	return false, client.IgnoreNotFound(err)
}

func (r *Reconciler) resolveDatabase(ctx context.Context, s *scope) error {
	ref, managed := render.DatabaseSecret(s.node)
	s.facts.DatabaseSecret = ref
	if managed {
		missing, err := r.secretMissing(ctx, s.node.Namespace, ref.Name)
		if err != nil || !missing {
			return err
		}
		initialised, err := r.workloadOrDataExists(ctx, s.node, render.PostgresName(s.node), &appsv1.StatefulSet{})
		if err != nil {
			return err
		}
		if initialised {
			// PostgreSQL keeps the password it was initialised with: a new one would lock Horizon out.
			s.problems = append(s.problems, validate.Errorf("spec.horizon", stellarv1.ReasonDatabaseSecretLost, fmt.Sprintf(
				"the managed database's Secret %s is gone while its database exists; a new password would not open it: restore the Secret, or delete the database volume %s to start afresh",
				ref.Name, "data-"+render.PostgresName(s.node)+"-0")))
			s.requeueAtMost(r.Options.retryInterval())
			return nil
		}
		return r.createGenerated(ctx, s.node, ref.Name, render.ComponentPostgres, func(secret *corev1.Secret) error {
			buf := make([]byte, 24)
			if _, err := rand.Read(buf); err != nil {
				return fmt.Errorf("generating a database password: %w", err)
			}
			password := hex.EncodeToString(buf)
			secret.StringData = map[string]string{
				render.PostgresPasswordKey: password,
				render.DatabaseURLKey:      render.PostgresURL(s.node, password),
			}
			return nil
		})
	}
	_, problem, err := r.secretValue(ctx, s.node.Namespace, ref, "spec.horizon.databaseSecretRef")
	if problem != nil {
		s.problems = append(s.problems, *problem)
		s.requeueAtMost(r.Options.retryInterval())
	}
	return err
}

// secretMissing reports whether a Secret does not exist (read by metadata only).
func (r *Reconciler) secretMissing(ctx context.Context, namespace, name string) (bool, error) {
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, meta)
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading Secret %s: %w", name, err)
	}
	return false, nil
}

// createGenerated creates a Secret once, filled by fill; it is never rewritten. It has no owner
// reference: with retentionPolicy Retain it outlives the node together with the data it unlocks;
// with Delete the finalizer removes it.
func (r *Reconciler) createGenerated(ctx context.Context, node *stellarv1.StellarNode, name, component string, fill func(*corev1.Secret) error) error {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: node.Namespace, Labels: render.NodeLabels(node, component)},
		Type:       corev1.SecretTypeOpaque,
	}
	if err := fill(secret); err != nil {
		return err
	}
	if err := r.Client.Create(ctx, secret, client.FieldOwner(FieldOwner)); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return fmt.Errorf("creating Secret %s: %w", name, err)
	}
	r.createdSecrets.add(secret.UID, time.Now())
	return nil
}

// ownCreations remembers the objects the operator just created, until the watch shows them: their
// creation is no news to the node whose pass made them (a second pass for every new node
// otherwise). An entry the watch never takes (it came first) goes after ownCreationMemory.
type ownCreations struct {
	mu   sync.Mutex
	uids map[types.UID]time.Time
}

const ownCreationMemory = 2 * time.Minute

func (c *ownCreations) add(uid types.UID, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.uids == nil {
		c.uids = map[types.UID]time.Time{}
	}
	for old, at := range c.uids {
		if now.Sub(at) > ownCreationMemory {
			delete(c.uids, old)
		}
	}
	c.uids[uid] = now
}

// take reports whether uid is one of the operator's own creations, and forgets it.
func (c *ownCreations) take(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.uids[uid]
	delete(c.uids, uid)
	return ok
}

// secretValue reads one key of a Secret. Its value never leaves this function's caller.
func (r *Reconciler) secretValue(ctx context.Context, namespace string, ref render.SecretRef, field string) ([]byte, *validate.Problem, error) {
	secret := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &validate.Problem{Field: field, Reason: stellarv1.ReasonSecretMissing, Severity: validate.SeverityError,
				Message: fmt.Sprintf("Secret %s/%s does not exist", namespace, ref.Name)}, nil
		}
		return nil, nil, fmt.Errorf("reading Secret %s: %w", ref.Name, err)
	}
	value, ok := secret.Data[ref.Key]
	if !ok || len(value) == 0 {
		return nil, &validate.Problem{Field: field, Reason: stellarv1.ReasonSecretKeyMissing, Severity: validate.SeverityError,
			Message: fmt.Sprintf("Secret %s/%s has no key %q", namespace, ref.Name, ref.Key)}, nil
	}
	return value, nil, nil
}
