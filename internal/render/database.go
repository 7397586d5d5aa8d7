package render

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
)

// Managed PostgreSQL for a Horizon node that names no database: the spec's Horizon examples name
// none and must still run as written.
const (
	PostgresUser     = "horizon"
	PostgresDatabase = "horizon"
)

// PostgresURL is the DATABASE_URL stored in the managed database's Secret.
func PostgresURL(node *stellarv1.StellarNode, password string) string {
	return fmt.Sprintf("postgres://%s:%s@%s.%s.svc:%d/%s?sslmode=disable",
		PostgresUser, password, PostgresName(node), node.Namespace, PortPostgres, PostgresDatabase)
}

func postgresStatefulSet(node *stellarv1.StellarNode) *appsv1.StatefulSet {
	spec := &stellarv1.ManagedDatabaseSpec{}
	if h := node.Spec.Horizon; h != nil && h.Database != nil {
		spec = h.Database
	}
	image := defaultString(spec.Image, ImagePostgres)
	size := resource.MustParse("100Gi")
	if spec.Size != nil {
		size = *spec.Size
	}
	labels := NodeLabels(node, ComponentPostgres)
	selector := map[string]string{LabelInstance: node.Name, LabelComponent: ComponentPostgres}
	claim := claimTemplate(node, size)
	claim.Labels = labels
	password := &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: PostgresSecretName(node)}, Key: PostgresPasswordKey}}
	sts := &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: owned(node, PostgresName(node), ComponentPostgres),
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To[int32](1),
			ServiceName: PostgresName(node),
			Selector:    &metav1.LabelSelector{MatchLabels: selector},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name:  ComponentPostgres,
						Image: image,
						Env: []corev1.EnvVar{
							{Name: "POSTGRES_USER", Value: PostgresUser},
							{Name: "POSTGRES_DB", Value: PostgresDatabase},
							{Name: "POSTGRES_PASSWORD", ValueFrom: password},
							// A subdirectory: the volume's root may hold lost+found, which initdb refuses.
							{Name: "PGDATA", Value: "/var/lib/postgresql/data/pgdata"},
						},
						Ports:        []corev1.ContainerPort{{Name: "postgres", ContainerPort: PortPostgres, Protocol: corev1.ProtocolTCP}},
						Resources:    spec.Resources,
						VolumeMounts: []corev1.VolumeMount{{Name: volumeData, MountPath: "/var/lib/postgresql/data"}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"pg_isready", "-U", PostgresUser, "-d", PostgresDatabase}}},
							PeriodSeconds: 10,
						},
						LivenessProbe: &corev1.Probe{
							ProbeHandler:        corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("postgres")}},
							InitialDelaySeconds: 30, PeriodSeconds: 20,
						},
					}},
					EnableServiceLinks: ptr.To(false),
				},
			},
			VolumeClaimTemplates:                 []corev1.PersistentVolumeClaim{claim},
			PersistentVolumeClaimRetentionPolicy: claimRetention(node),
		},
	}
	// The database runs where the node may run.
	withPlacement(&sts.Spec.Template.Spec, node)
	return sts
}

func postgresService(node *stellarv1.StellarNode) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: owned(node, PostgresName(node), ComponentPostgres),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: map[string]string{LabelInstance: node.Name, LabelComponent: ComponentPostgres},
			Ports:    []corev1.ServicePort{{Name: "postgres", Port: PortPostgres, TargetPort: intstr.FromString("postgres"), Protocol: corev1.ProtocolTCP}},
		},
	}
}
