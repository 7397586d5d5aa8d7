package render

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/stellar"
)

// Volume names inside the pods.
const (
	volumeData    = "data"
	volumeConfig  = "config"
	volumeRuntime = "runtime"
	volumeSeed    = "seed"
)

// DefaultStorageSize is the data volume size per node type when spec.storage.size is unset
// (notes/stellar.md §6: core 100 GB, Horizon 100 GB, RPC 350 GB at 7 days).
func DefaultStorageSize(t stellarv1.NodeType) resource.Quantity {
	if t == stellarv1.NodeTypeSorobanRPC {
		return resource.MustParse("350Gi")
	}
	return resource.MustParse("100Gi")
}

func storageSize(node *stellarv1.StellarNode) resource.Quantity {
	if node.Spec.Storage.Size != nil {
		return *node.Spec.Storage.Size
	}
	return DefaultStorageSize(node.Spec.NodeType)
}

func ownerRefs(node *stellarv1.StellarNode) []metav1.OwnerReference {
	return []metav1.OwnerReference{{
		APIVersion: stellarv1.GroupVersion.String(), Kind: "StellarNode", Name: node.Name, UID: node.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}}
}

// owned is the ObjectMeta of a same-namespace child that goes away with its node.
func owned(node *stellarv1.StellarNode, name, component string) metav1.ObjectMeta {
	m := objectMeta(node, name, component)
	m.OwnerReferences = ownerRefs(node)
	return m
}

// claimTemplate is a StatefulSet's claim template, written with the volume mode the apiserver
// would default: the templates are one atomic field, so a defaulted value we did not send would
// look like a change on every comparison.
func claimTemplate(node *stellarv1.StellarNode, size resource.Quantity) corev1.PersistentVolumeClaim {
	return corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: volumeData, Labels: NodeLabels(node, Component(node.Spec.NodeType))},
		Spec: corev1.PersistentVolumeClaimSpec{
			VolumeMode:       ptr.To(corev1.PersistentVolumeFilesystem),
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: node.Spec.Storage.StorageClass,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
}

// claimRetention mirrors retentionPolicy into the StatefulSet so a real cluster's StatefulSet
// controller does the same as the operator's finalizer.
func claimRetention(node *stellarv1.StellarNode) *appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy {
	when := appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	if !node.RetainsData() {
		when = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	}
	return &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: when, WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
	}
}

func podTemplate(node *stellarv1.StellarNode, facts Facts, main corev1.Container, network stellar.Network) corev1.PodTemplateSpec {
	labels := NodeLabels(node, Component(node.Spec.NodeType))
	for k, v := range discoveryLabels(node) {
		labels[k] = v
	}
	annotations := map[string]string{}
	containers := []corev1.Container{main}
	if enabled, port := node.HealthCheck(); enabled {
		containers[0].ReadinessProbe = &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString(ContainerHealth)}},
			PeriodSeconds:    5,
			TimeoutSeconds:   3,
			FailureThreshold: 1,
			SuccessThreshold: 1,
		}
		containers = append(containers, healthContainer(node, facts, port, network))
		annotations["prometheus.io/scrape"] = "true"
		annotations["prometheus.io/port"] = strconv.Itoa(PortHealthStatus)
	}
	annotations[AnnotationConfigHash] = facts.configHash
	tpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
		Spec: corev1.PodSpec{
			Containers:                    containers,
			TerminationGracePeriodSeconds: ptr.To[int64](60),
			EnableServiceLinks:            ptr.To(false),
		},
	}
	withPlacement(&tpl.Spec, node)
	return tpl
}

// finishTemplate pins the health sidecar's image once the workload's template is complete.
func finishTemplate(tpl *corev1.PodTemplateSpec, node *stellarv1.StellarNode, facts Facts) {
	pinSidecar(tpl, node, facts.Workload)
}

// healthContainer is the sidecar that reports whether the Stellar process is synced; the main
// container's readiness follows it, so an unsynced pod leaves the endpoints and MetalLB withdraws it.
func healthContainer(node *stellarv1.StellarNode, facts Facts, port int32, network stellar.Network) corev1.Container {
	target := fmt.Sprintf("http://127.0.0.1:%d", PortHorizon)
	switch node.Spec.NodeType {
	case stellarv1.NodeTypeValidator:
		target = fmt.Sprintf("http://127.0.0.1:%d", PortCoreHTTP)
	case stellarv1.NodeTypeSorobanRPC:
		target = fmt.Sprintf("http://127.0.0.1:%d", PortRPC)
	}
	args := []string{
		"health",
		"--node-type=" + string(node.Spec.NodeType),
		"--target=" + target,
		fmt.Sprintf("--listen=:%d", port),
		fmt.Sprintf("--status-listen=:%d", PortHealthStatus),
		"--network-passphrase=" + network.Passphrase,
	}
	if hc := node.Spec.HealthCheck; hc != nil {
		if hc.PeriodSeconds != nil {
			args = append(args, fmt.Sprintf("--period=%ds", *hc.PeriodSeconds))
		}
		if hc.TimeoutSeconds != nil {
			args = append(args, fmt.Sprintf("--timeout=%ds", *hc.TimeoutSeconds))
		}
		if hc.MaxLedgerAgeSeconds != nil {
			args = append(args, fmt.Sprintf("--max-ledger-age=%ds", *hc.MaxLedgerAgeSeconds))
		}
		if hc.MaxIngestLag != nil {
			args = append(args, fmt.Sprintf("--max-ingest-lag=%d", *hc.MaxIngestLag))
		}
	}
	return corev1.Container{
		Name:  ContainerHealth,
		Image: facts.OperatorImage,
		Args:  args,
		Ports: []corev1.ContainerPort{
			{Name: ContainerHealth, ContainerPort: port, Protocol: corev1.ProtocolTCP},
			{Name: PortNameHealthStatus, ContainerPort: PortHealthStatus, Protocol: corev1.ProtocolTCP},
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString(ContainerHealth)}},
			PeriodSeconds: 10,
		},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
		},
		SecurityContext: restrictedSecurityContext(),
	}
}

func restrictedSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

func configVolume(node *stellarv1.StellarNode) corev1.Volume {
	return corev1.Volume{Name: volumeConfig, VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName(node)}},
	}}
}

func tcpProbe(port string, period int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:        corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(port)}},
		InitialDelaySeconds: 30,
		PeriodSeconds:       period,
		FailureThreshold:    6,
	}
}

// validatorInitScript assembles the runtime config with the seed (sanitised to strkey characters
// so a malformed Secret cannot inject TOML), then creates the database only when it has never been
// created: `new-db` on a restart would wipe the node's state.
func validatorInitScript(publish string) string {
	var b strings.Builder
	b.WriteString(`set -eu
umask 077
seed=$(tr -cd 'A-Z2-7' < ` + SeedDir + `/seed)
{ printf 'NODE_SEED="%s self"\n' "$seed"; cat ` + ConfigDir + `/` + CoreConfigKey + `; } > ` + RuntimeConfigDir + `/` + CoreConfigKey + `
cfg=` + RuntimeConfigDir + `/` + CoreConfigKey + `
if [ -f ` + DataDir + `/.db-initialized ]; then
  stellar-core --conf "$cfg" upgrade-db
else
  stellar-core --conf "$cfg" new-db
  touch ` + DataDir + `/.db-initialized
fi
`)
	if publish != "" {
		b.WriteString(`if [ ! -f ` + DataDir + `/.history-initialized ]; then
  stellar-core --conf "$cfg" new-hist ` + publish + `
  touch ` + DataDir + `/.history-initialized
fi
`)
	}
	return b.String()
}

func validatorStatefulSet(node *stellarv1.StellarNode, facts Facts, network stellar.Network) *appsv1.StatefulSet {
	runtimeCfg := RuntimeConfigDir + "/" + CoreConfigKey
	publish := ""
	if v := node.Spec.Validator; v != nil && v.History != nil {
		publish = defaultString(v.History.Name, "local")
	}
	mounts := []corev1.VolumeMount{
		{Name: volumeData, MountPath: DataDir},
		{Name: volumeRuntime, MountPath: RuntimeConfigDir},
	}
	main := corev1.Container{
		Name:       ComponentCore,
		Image:      Image(node),
		Args:       []string{"run", "--conf", runtimeCfg, "--console"},
		WorkingDir: DataDir,
		Ports: []corev1.ContainerPort{
			{Name: "peer", ContainerPort: PortCorePeer, Protocol: corev1.ProtocolTCP},
			{Name: "http", ContainerPort: PortCoreHTTP, Protocol: corev1.ProtocolTCP},
		},
		Resources:    node.Spec.Resources,
		VolumeMounts: mounts,
		ReadinessProbe: &corev1.Probe{
			// Core binds its HTTP port to 127.0.0.1 (PUBLIC_HTTP_PORT=false): probe from inside.
			ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c",
				fmt.Sprintf(`curl -sf http://127.0.0.1:%d/info | grep -q '"state" : "Synced!"'`, PortCoreHTTP)}}},
			PeriodSeconds: 10, TimeoutSeconds: 5,
		},
		LivenessProbe: tcpProbe("peer", 20),
	}
	tpl := podTemplate(node, facts, main, network)
	tpl.Spec.InitContainers = []corev1.Container{{
		Name:       "init",
		Image:      Image(node),
		Command:    []string{"/bin/sh", "-c", validatorInitScript(publish)},
		WorkingDir: DataDir,
		VolumeMounts: append(append([]corev1.VolumeMount{}, mounts...),
			corev1.VolumeMount{Name: volumeConfig, MountPath: ConfigDir, ReadOnly: true},
			corev1.VolumeMount{Name: volumeSeed, MountPath: SeedDir, ReadOnly: true}),
		Resources: node.Spec.Resources,
	}}
	tpl.Spec.Volumes = []corev1.Volume{
		configVolume(node),
		{Name: volumeRuntime, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("1Mi"))}}},
		{Name: volumeSeed, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName:  facts.ValidatorSeedSecret.Name,
			Items:       []corev1.KeyToPath{{Key: facts.ValidatorSeedSecret.Key, Path: "seed"}},
			DefaultMode: ptr.To[int32](0o400),
		}}},
	}
	meta := owned(node, WorkloadName(node), ComponentCore)
	if facts.ValidatorPublicKey != "" {
		meta.Annotations = map[string]string{AnnotationPublicKey: facts.ValidatorPublicKey}
	}
	finishTemplate(&tpl, node, facts)
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: meta,
		Spec: appsv1.StatefulSetSpec{
			Replicas:                             ptr.To(node.EffectiveReplicas()),
			ServiceName:                          HeadlessServiceName(node),
			Selector:                             &metav1.LabelSelector{MatchLabels: SelectorLabels(node)},
			Template:                             tpl,
			VolumeClaimTemplates:                 []corev1.PersistentVolumeClaim{claimTemplate(node, storageSize(node))},
			PersistentVolumeClaimRetentionPolicy: claimRetention(node),
			UpdateStrategy:                       appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
		},
	}
}

func captiveEnv(network stellar.Network) []corev1.EnvVar {
	return []corev1.EnvVar{
		{Name: "NETWORK_PASSPHRASE", Value: network.Passphrase},
		{Name: "HISTORY_ARCHIVE_URLS", Value: strings.Join(network.HistoryArchiveURLs, ",")},
		{Name: "CAPTIVE_CORE_CONFIG_PATH", Value: ConfigDir + "/" + CaptiveConfigKey},
		{Name: "CAPTIVE_CORE_STORAGE_PATH", Value: CaptiveStorageDir},
	}
}

// horizonUsesClaim: one Horizon pod keeps captive core's buckets on a volume claim; several pods
// cannot share a ReadWriteOnce claim, so each gets an ephemeral volume and rebuilds from archives.
func horizonUsesClaim(node *stellarv1.StellarNode) bool { return node.EffectiveReplicas() <= 1 }

func horizonDeployment(node *stellarv1.StellarNode, facts Facts, network stellar.Network) *appsv1.Deployment {
	ingest := node.Spec.Horizon.EffectiveIngest()
	var retention int64
	if h := node.Spec.Horizon; h != nil {
		retention = h.HistoryRetentionCount
	}
	env := append(captiveEnv(network),
		corev1.EnvVar{Name: "DATABASE_URL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: facts.DatabaseSecret.Name}, Key: facts.DatabaseSecret.Key}}},
		corev1.EnvVar{Name: "CAPTIVE_CORE_HTTP_PORT", Value: strconv.Itoa(PortCoreHTTP)},
		corev1.EnvVar{Name: "CAPTIVE_CORE_PEER_PORT", Value: strconv.Itoa(PortCorePeer)},
		corev1.EnvVar{Name: "PORT", Value: strconv.Itoa(PortHorizon)},
		corev1.EnvVar{Name: "ADMIN_PORT", Value: strconv.Itoa(PortHorizonAdmin)},
		corev1.EnvVar{Name: "INGEST", Value: strconv.FormatBool(ingest)},
		// Migrations run on ingesting instances only; API-only replicas must not race them.
		corev1.EnvVar{Name: "APPLY_MIGRATIONS", Value: strconv.FormatBool(ingest)},
		corev1.EnvVar{Name: "HISTORY_RETENTION_COUNT", Value: strconv.FormatInt(retention, 10)},
	)
	if !ingest {
		// Without captive core there is no local core to submit transactions to.
		env = append(env, corev1.EnvVar{Name: "DISABLE_TX_SUB", Value: "true"})
	}
	main := apiContainer(node, ComponentHorizon, env, PortHorizon, PortHorizonAdmin, corev1.ProbeHandler{
		HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromString("http")}})
	tpl := podTemplate(node, facts, main, network)
	data := corev1.Volume{Name: volumeData, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	strategy := appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType}
	if horizonUsesClaim(node) {
		data.VolumeSource = corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: DataClaimName(node)}}
		// A ReadWriteOnce claim cannot be mounted by the old and the new pod at once.
		strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	}
	tpl.Spec.Volumes = []corev1.Volume{configVolume(node), data}
	finishTemplate(&tpl, node, facts)
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: owned(node, WorkloadName(node), ComponentHorizon),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(node.EffectiveReplicas()),
			Selector: &metav1.LabelSelector{MatchLabels: SelectorLabels(node)},
			Template: tpl,
			Strategy: strategy,
		},
	}
}

// apiContainer is the main container of Horizon and RPC: an HTTP API and an admin port, data and
// captive-core config mounted, readiness from the service's own health check (replaced by the
// sidecar's /readyz when the health check is enabled).
func apiContainer(node *stellarv1.StellarNode, name string, env []corev1.EnvVar, port, adminPort int32, readiness corev1.ProbeHandler) corev1.Container {
	return corev1.Container{
		Name:  name,
		Image: Image(node),
		Env:   env,
		Ports: []corev1.ContainerPort{
			{Name: "http", ContainerPort: port, Protocol: corev1.ProtocolTCP},
			{Name: "admin", ContainerPort: adminPort, Protocol: corev1.ProtocolTCP},
		},
		Resources: node.Spec.Resources,
		VolumeMounts: []corev1.VolumeMount{
			{Name: volumeData, MountPath: DataDir},
			{Name: volumeConfig, MountPath: ConfigDir, ReadOnly: true},
		},
		ReadinessProbe: &corev1.Probe{ProbeHandler: readiness, PeriodSeconds: 10, TimeoutSeconds: 5},
		LivenessProbe:  tcpProbe("http", 20),
	}
}

// dataClaim is a standalone claim (Horizon's captive-core storage). It carries no owner reference:
// with retentionPolicy Retain it must outlive the node; with Delete the finalizer removes it.
func dataClaim(node *stellarv1.StellarNode) *corev1.PersistentVolumeClaim {
	pvc := claimTemplate(node, storageSize(node))
	pvc.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"}
	pvc.ObjectMeta = objectMeta(node, DataClaimName(node), Component(node.Spec.NodeType))
	return &pvc
}

func rpcStatefulSet(node *stellarv1.StellarNode, facts Facts, network stellar.Network) *appsv1.StatefulSet {
	window := int32(120960)
	if r := node.Spec.SorobanRPC; r != nil && r.HistoryRetentionWindow > 0 {
		window = r.HistoryRetentionWindow
	}
	env := append(captiveEnv(network),
		corev1.EnvVar{Name: "ENDPOINT", Value: fmt.Sprintf("0.0.0.0:%d", PortRPC)},
		corev1.EnvVar{Name: "ADMIN_ENDPOINT", Value: fmt.Sprintf("0.0.0.0:%d", PortRPCAdmin)},
		corev1.EnvVar{Name: "STELLAR_CAPTIVE_CORE_HTTP_PORT", Value: strconv.Itoa(PortCoreHTTP)},
		corev1.EnvVar{Name: "DB_PATH", Value: DataDir + "/soroban_rpc.sqlite"},
		corev1.EnvVar{Name: "HISTORY_RETENTION_WINDOW", Value: strconv.Itoa(int(window))},
	)
	// getHealth is a JSON-RPC POST; the image ships curl.
	main := apiContainer(node, ComponentRPC, env, PortRPC, PortRPCAdmin, corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c",
		fmt.Sprintf(`curl -sf -X POST -H 'Content-Type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"getHealth"}' http://127.0.0.1:%d/ | grep -q '"status":"healthy"'`, PortRPC)}}})

	tpl := podTemplate(node, facts, main, network)
	tpl.Spec.Volumes = []corev1.Volume{configVolume(node)}
	finishTemplate(&tpl, node, facts)
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: owned(node, WorkloadName(node), ComponentRPC),
		Spec: appsv1.StatefulSetSpec{
			Replicas:                             ptr.To(node.EffectiveReplicas()),
			ServiceName:                          HeadlessServiceName(node),
			Selector:                             &metav1.LabelSelector{MatchLabels: SelectorLabels(node)},
			Template:                             tpl,
			VolumeClaimTemplates:                 []corev1.PersistentVolumeClaim{claimTemplate(node, storageSize(node))},
			PersistentVolumeClaimRetentionPolicy: claimRetention(node),
			PodManagementPolicy:                  appsv1.ParallelPodManagement,
		},
	}
}
