package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/render"
	"github.com/stellar-operator/stellar-operator/internal/stellar"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// AnnotationPublicKey is set on a generated seed Secret so a human can tell which validator it is
// without reading the seed.
const AnnotationPublicKey = "stellar.org/public-key"

// resolveSecrets finds (or generates) the Secrets the workload references and records them in the
// scope's facts. A missing user Secret is a problem on the node, retried later, not an error.
func (r *Reconciler) resolveSecrets(ctx context.Context, s *scope) (time.Duration, error) {
	switch s.node.Spec.NodeType {
	case stellarv1.NodeTypeValidator:
		return r.resolveSeed(ctx, s)
	case stellarv1.NodeTypeHorizon:
		return r.resolveDatabase(ctx, s)
	}
	return 0, nil
}

func (r *Reconciler) resolveSeed(ctx context.Context, s *scope) (time.Duration, error) {
	ref, generated := render.SeedSecret(s.node)
	s.facts.ValidatorSeedSecret = ref
	field := "spec.validator.seedSecretRef"
	if generated {
		err := r.ensureGenerated(ctx, s.node, ref.Name, render.ComponentCore, func(secret *corev1.Secret) error {
			seed, address, err := stellar.NewSeed()
			if err != nil {
				return fmt.Errorf("generating a validator seed: %w", err)
			}
			secret.StringData = map[string]string{ref.Key: seed}
			secret.Annotations = map[string]string{AnnotationPublicKey: address}
			return nil
		})
		if err != nil {
			return 0, err
		}
		field = "the generated Secret " + ref.Name
	}
	value, problem, err := r.secretValue(ctx, s.node.Namespace, ref, field)
	if err != nil || problem != nil {
		if problem != nil {
			s.problems = append(s.problems, *problem)
		}
		return r.Options.retryInterval(), err
	}
	address, err := stellar.AddressFromSeed(string(value))
	if err != nil {
		s.problems = append(s.problems, validate.Problem{Field: field, Reason: stellarv1.ReasonInvalidSeed, Severity: validate.SeverityError,
			Message: fmt.Sprintf("key %q of Secret %s is not a valid Stellar secret seed", ref.Key, ref.Name)})
		return 0, nil
	}
	s.publicKey = address
	return 0, nil
}

func (r *Reconciler) resolveDatabase(ctx context.Context, s *scope) (time.Duration, error) {
	ref, managed := render.DatabaseSecret(s.node)
	s.facts.DatabaseSecret = ref
	if managed {
		return 0, r.ensureGenerated(ctx, s.node, ref.Name, render.ComponentPostgres, func(secret *corev1.Secret) error {
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
		return r.Options.retryInterval(), err
	}
	return 0, err
}

// ensureGenerated creates a Secret once, filled by fill, and never rewrites it. It has no owner
// reference: with retentionPolicy Retain it outlives the node together with the data it unlocks;
// with Delete the finalizer removes it.
func (r *Reconciler) ensureGenerated(ctx context.Context, node *stellarv1.StellarNode, name, component string, fill func(*corev1.Secret) error) error {
	key := client.ObjectKey{Namespace: node.Namespace, Name: name}
	err := r.APIReader.Get(ctx, key, &corev1.Secret{})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading Secret %s: %w", name, err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: node.Namespace, Labels: render.NodeLabels(node, component)},
		Type:       corev1.SecretTypeOpaque,
	}
	if err := fill(secret); err != nil {
		return err
	}
	if err := r.Client.Create(ctx, secret, client.FieldOwner(FieldOwner)); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating Secret %s: %w", name, err)
	}
	return nil
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
