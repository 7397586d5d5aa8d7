package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodeType is the Stellar service a StellarNode runs.
// +kubebuilder:validation:Enum=Validator;Horizon;SorobanRpc
type NodeType string

const (
	NodeTypeValidator  NodeType = "Validator"
	NodeTypeHorizon    NodeType = "Horizon"
	NodeTypeSorobanRPC NodeType = "SorobanRpc"
)

// Network names a Stellar network. Custom needs spec.customNetwork.
// +kubebuilder:validation:Enum=Mainnet;Testnet;Futurenet;Custom
type Network string

const (
	NetworkMainnet   Network = "Mainnet"
	NetworkTestnet   Network = "Testnet"
	NetworkFuturenet Network = "Futurenet"
	NetworkCustom    Network = "Custom"
)

// StellarNodeSpec is the desired state of one Stellar service.
// +kubebuilder:validation:XValidation:rule="self.nodeType != 'Validator' || !has(self.replicas) || self.replicas <= 1",fieldPath=".replicas",message="a Validator runs at most 1 replica: each validator needs its own seed"
// +kubebuilder:validation:XValidation:rule="self.network != 'Custom' || has(self.customNetwork)",fieldPath=".customNetwork",message="customNetwork (passphrase and historyArchiveURLs) is required when network is Custom"
// +kubebuilder:validation:XValidation:rule="!has(self.customNetwork) || self.network == 'Custom'",fieldPath=".customNetwork",message="customNetwork is only allowed when network is Custom"
// +kubebuilder:validation:XValidation:rule="!has(self.validator) || self.nodeType == 'Validator'",fieldPath=".validator",message="validator settings are only allowed when nodeType is Validator"
// +kubebuilder:validation:XValidation:rule="!has(self.horizon) || self.nodeType == 'Horizon'",fieldPath=".horizon",message="horizon settings are only allowed when nodeType is Horizon"
// +kubebuilder:validation:XValidation:rule="!has(self.sorobanRpc) || self.nodeType == 'SorobanRpc'",fieldPath=".sorobanRpc",message="sorobanRpc settings are only allowed when nodeType is SorobanRpc"
// +kubebuilder:validation:XValidation:rule="self.nodeType == 'Validator' || self.network != 'Custom' || (has(self.customNetwork) && has(self.customNetwork.quorumSet) && size(self.customNetwork.quorumSet.validators) > 0)",fieldPath=".customNetwork.quorumSet",message="a Horizon or SorobanRpc node on a Custom network needs customNetwork.quorumSet for its captive core"
// +kubebuilder:validation:XValidation:rule="self.nodeType != 'Validator' || self.network != 'Custom' || (has(self.customNetwork) && has(self.customNetwork.quorumSet) && size(self.customNetwork.quorumSet.validators) > 0) || (has(self.validator) && has(self.validator.quorumSet))",fieldPath=".validator.quorumSet",message="a Validator on a Custom network needs validator.quorumSet or customNetwork.quorumSet"
// +kubebuilder:validation:XValidation:rule="self.nodeType != 'Validator' || (has(self.validator) && size(self.validator.homeDomain) > 0)",fieldPath=".validator.homeDomain",message="validator.homeDomain is required for a Validator (stellar-core refuses to start without NODE_HOME_DOMAIN)"
// +kubebuilder:validation:XValidation:rule="!has(self.loadBalancer) || !has(self.loadBalancer.healthCheckPort) || !(self.loadBalancer.healthCheckPort in (self.nodeType == 'Horizon' ? [11625, 11626, 9101, 8000, 6000] : (self.nodeType == 'SorobanRpc' ? [11625, 11626, 9101, 8000, 6061] : [11625, 11626, 9101])))",fieldPath=".loadBalancer.healthCheckPort",message="healthCheckPort must not be a port the node's own containers use (core 11625 and 11626, the health status port 9101, Horizon 8000 and 6000, RPC 8000 and 6061)"
type StellarNodeSpec struct {
	// nodeType is the Stellar service to run: Validator (stellar-core), Horizon or SorobanRpc (stellar-rpc).
	// +required
	NodeType NodeType `json:"nodeType"`

	// network is the Stellar network to join.
	// +required
	Network Network `json:"network"`

	// customNetwork describes a network that is not Mainnet, Testnet or Futurenet.
	// +optional
	CustomNetwork *CustomNetworkSpec `json:"customNetwork,omitempty"`

	// version is the image tag of the Stellar service, e.g. "21.0.0"; a leading "v" is dropped
	// because Stellar's images are tagged without it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^v?[A-Za-z0-9_][A-Za-z0-9_.-]*$`
	Version string `json:"version"`

	// image overrides the whole image reference (repository and tag); version is then informative only.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// replicas is the number of pods (a Validator: 0 or 1). `kubectl scale stellarnode` sets it; the
	// operator owns the workload's replicas, so scaling the Deployment or StatefulSet directly is undone.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Replicas *int32 `json:"replicas,omitempty"`

	// resources of the main container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// storage of the node's data volume.
	// +optional
	Storage StorageSpec `json:"storage,omitempty"`

	// validator settings (nodeType Validator).
	// +optional
	Validator *ValidatorSpec `json:"validator,omitempty"`

	// horizon settings (nodeType Horizon).
	// +optional
	Horizon *HorizonSpec `json:"horizon,omitempty"`

	// sorobanRpc settings (nodeType SorobanRpc).
	// +optional
	SorobanRPC *SorobanRPCSpec `json:"sorobanRpc,omitempty"`

	// loadBalancer exposes the node through MetalLB, in L2 mode or as a BGP (anycast) announcement.
	// +optional
	LoadBalancer *LoadBalancerSpec `json:"loadBalancer,omitempty"`

	// globalDiscovery places the node in a region/zone for cross-region routing and DNS.
	// +optional
	GlobalDiscovery *GlobalDiscoverySpec `json:"globalDiscovery,omitempty"`

	// healthCheck tunes the health sidecar (loadBalancer.healthCheckEnabled) that decides whether a
	// pod is synced, and so ready and announced.
	// +optional
	HealthCheck *HealthCheckSpec `json:"healthCheck,omitempty"`

	// placement decides where the node's pods (and its managed database's) may run. With BGP and
	// externalTrafficPolicy Local, keep them on the nodes advertisement.nodeSelectors announce from.
	// +optional
	Placement *PlacementSpec `json:"placement,omitempty"`

	// imagePullSecrets for the node's images (the Stellar image, the health sidecar, PostgreSQL).
	// +optional
	// +kubebuilder:validation:MaxItems=16
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`
}

// PlacementSpec holds the scheduling fields of the node's pods, with Kubernetes' own types.
type PlacementSpec struct {
	// nodeSelector: labels a Kubernetes node must carry.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// affinity rules of the pods.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// tolerations of the pods.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// topologySpreadConstraints of the pods.
	// +optional
	// +kubebuilder:validation:MaxItems=8
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	// priorityClassName of the pods.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PriorityClassName string `json:"priorityClassName,omitempty"`
}

// HealthCheckSpec are the sync thresholds of the health sidecar.
type HealthCheckSpec struct {
	// periodSeconds between checks (default 5).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=300
	PeriodSeconds *int32 `json:"periodSeconds,omitempty"`
	// timeoutSeconds of each call to the Stellar process (default 2).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=60
	TimeoutSeconds *int32 `json:"timeoutSeconds,omitempty"`
	// maxLedgerAgeSeconds: an older last closed ledger means not synced (default 60).
	// +optional
	// +kubebuilder:validation:Minimum=5
	// +kubebuilder:validation:Maximum=86400
	MaxLedgerAgeSeconds *int32 `json:"maxLedgerAgeSeconds,omitempty"`
	// maxIngestLag: Horizon is not synced when ingestion trails core by more ledgers (default 10).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100000
	MaxIngestLag *int64 `json:"maxIngestLag,omitempty"`

	// sidecarUpdate: when the health sidecar moves to a new operator image. OnPodChange (the
	// default) keeps the image the running pods have until their template changes for another
	// reason (a spec or configuration change), so an operator upgrade alone restarts no pod and
	// never takes every region down at once; Immediate follows the operator at once.
	// +optional
	// +kubebuilder:validation:Enum=OnPodChange;Immediate
	SidecarUpdate SidecarUpdatePolicy `json:"sidecarUpdate,omitempty"`
}

// SidecarUpdatePolicy says when the health sidecar follows a new operator image.
type SidecarUpdatePolicy string

const (
	SidecarUpdateOnPodChange SidecarUpdatePolicy = "OnPodChange"
	SidecarUpdateImmediate   SidecarUpdatePolicy = "Immediate"
)

// CustomNetworkSpec describes a private or test network.
type CustomNetworkSpec struct {
	// passphrase is the network passphrase.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Passphrase string `json:"passphrase"`

	// historyArchiveURLs are the archives captive core and Horizon read history from.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=512
	// +kubebuilder:validation:items:Pattern=`^https?://`
	HistoryArchiveURLs []string `json:"historyArchiveURLs"`

	// quorumSet is the network's quorum set, used by every node type on this network.
	// +optional
	QuorumSet *QuorumSetSpec `json:"quorumSet,omitempty"`
}

// RetentionPolicy says what happens to a node's data volumes when the StellarNode is deleted.
// +kubebuilder:validation:Enum=Delete;Retain
type RetentionPolicy string

const (
	RetentionDelete RetentionPolicy = "Delete"
	RetentionRetain RetentionPolicy = "Retain"
)

// StorageSpec is the node's persistent data volume.
type StorageSpec struct {
	// size of the data volume; the default depends on nodeType (Validator 100Gi, Horizon 100Gi, SorobanRpc 350Gi).
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`

	// storageClass of the volume claims; empty uses the cluster default.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	StorageClass *string `json:"storageClass,omitempty"`

	// retentionPolicy: Retain keeps the data volumes when the StellarNode is deleted, Delete removes them.
	// +optional
	// +kubebuilder:default=Retain
	RetentionPolicy RetentionPolicy `json:"retentionPolicy,omitempty"`
}

// SecretKeyRef names a key of a Secret in the StellarNode's namespace.
type SecretKeyRef struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key in the Secret; the default depends on the field.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// CatchupMode chooses how much history a new validator replays.
// +kubebuilder:validation:Enum=Minimal;Recent;Complete
type CatchupMode string

const (
	CatchupMinimal  CatchupMode = "Minimal"
	CatchupRecent   CatchupMode = "Recent"
	CatchupComplete CatchupMode = "Complete"
)

// ValidatorSpec configures stellar-core as a validator.
// +kubebuilder:validation:XValidation:rule="!has(self.catchupRecent) || self.catchupMode == 'Recent'",fieldPath=".catchupRecent",message="catchupRecent is only used when catchupMode is Recent"
type ValidatorSpec struct {
	// seedSecretRef names the Secret holding the validator's secret seed (key default "seed").
	// When absent the operator generates a seed into a Secret it owns, named <node>-seed.
	// +optional
	SeedSecretRef *SecretKeyRef `json:"seedSecretRef,omitempty"`

	// homeDomain is the validator's NODE_HOME_DOMAIN.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`
	HomeDomain string `json:"homeDomain,omitempty"`

	// quorumSet overrides the network's default quorum set.
	// +optional
	QuorumSet *QuorumSetSpec `json:"quorumSet,omitempty"`

	// quality of this validator's own organisation (homeDomain) when the quorum set does not list
	// it; stellar-core needs one for every validator, itself included. LOW suits a new organisation:
	// HIGH and CRITICAL need three validators that publish history.
	// +optional
	// +kubebuilder:default=LOW
	Quality Quality `json:"quality,omitempty"`

	// catchupMode: Minimal (default, start from the latest checkpoint), Recent (replay catchupRecent ledgers)
	// or Complete (replay all history; takes weeks on Mainnet).
	// +optional
	// +kubebuilder:default=Minimal
	CatchupMode CatchupMode `json:"catchupMode,omitempty"`

	// catchupRecent is the number of ledgers to replay with catchupMode Recent.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000000
	CatchupRecent *int32 `json:"catchupRecent,omitempty"`

	// history publishes this validator's history to an archive.
	// +optional
	History *HistoryArchiveSpec `json:"history,omitempty"`
}

// HistoryArchiveSpec publishes history with shell command templates ({0} and {1} are substituted by core).
type HistoryArchiveSpec struct {
	// name of the archive in the core config ([HISTORY.<name>]).
	// +optional
	// +kubebuilder:default=local
	// +kubebuilder:validation:Pattern=`^[a-z0-9_]{1,32}$`
	Name string `json:"name,omitempty"`

	// get command, e.g. "curl -sf https://archive.example.com/{0} -o {1}".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Get string `json:"get"`

	// put command, e.g. "aws s3 cp {0} s3://bucket/{1}".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Put string `json:"put"`

	// mkdir command, when the archive needs directories created.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Mkdir string `json:"mkdir,omitempty"`
}

// Quality is a stellar-core validator quality.
// +kubebuilder:validation:Enum=CRITICAL;HIGH;MEDIUM;LOW
type Quality string

// QuorumSetSpec is a stellar-core quorum set in the [[HOME_DOMAINS]] / [[VALIDATORS]] form.
type QuorumSetSpec struct {
	// homeDomains give the quality of each organisation.
	// +optional
	// +listType=map
	// +listMapKey=homeDomain
	// +kubebuilder:validation:MaxItems=64
	HomeDomains []QuorumHomeDomain `json:"homeDomains,omitempty"`

	// validators of the quorum set.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=128
	Validators []QuorumValidator `json:"validators"`

	// unsafeQuorum allows a quorum set without fault tolerance (fewer than 4 organisations).
	// +optional
	UnsafeQuorum bool `json:"unsafeQuorum,omitempty"`

	// failureSafety overrides FAILURE_SAFETY (-1 automatic).
	// +optional
	// +kubebuilder:validation:Minimum=-1
	// +kubebuilder:validation:Maximum=100
	FailureSafety *int32 `json:"failureSafety,omitempty"`
}

// QuorumHomeDomain is one organisation of a quorum set.
type QuorumHomeDomain struct {
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	HomeDomain string `json:"homeDomain"`
	// +required
	Quality Quality `json:"quality"`
}

// QuorumValidator is one validator of a quorum set.
type QuorumValidator struct {
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name"`
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	HomeDomain string `json:"homeDomain"`
	// publicKey is the validator's G... address.
	// +required
	// +kubebuilder:validation:Pattern=`^G[A-Z2-7]{55}$`
	PublicKey string `json:"publicKey"`
	// quality, when the home domain has none.
	// +optional
	Quality Quality `json:"quality,omitempty"`
	// address is host[:port] of the validator's peer port.
	// +optional
	// +kubebuilder:validation:MaxLength=260
	Address string `json:"address,omitempty"`
	// history is the base URL of the validator's history archive.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^https?://`
	History string `json:"history,omitempty"`
}

// HorizonSpec configures Horizon.
type HorizonSpec struct {
	// databaseSecretRef names the Secret holding the PostgreSQL URL (key default "DATABASE_URL").
	// When absent the operator runs a managed PostgreSQL for this node.
	// +optional
	DatabaseSecretRef *SecretKeyRef `json:"databaseSecretRef,omitempty"`

	// ingest turns ingestion on (the default) or off (API-only instances).
	// +optional
	// +kubebuilder:default=true
	Ingest *bool `json:"ingest,omitempty"`

	// historyRetentionCount is the number of ledgers of history kept; 0 keeps everything.
	// +optional
	// +kubebuilder:validation:Minimum=0
	HistoryRetentionCount int64 `json:"historyRetentionCount,omitempty"`

	// database tunes the managed PostgreSQL used when databaseSecretRef is absent.
	// +optional
	Database *ManagedDatabaseSpec `json:"database,omitempty"`
}

// ManagedDatabaseSpec tunes the managed PostgreSQL of a Horizon node.
type ManagedDatabaseSpec struct {
	// image of PostgreSQL.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`
	// size of the database volume (default 100Gi).
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`
	// resources of the database container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
}

// SorobanRPCSpec configures Stellar RPC.
type SorobanRPCSpec struct {
	// historyRetentionWindow is the number of ledgers kept (default 120960, about 7 days).
	// +optional
	// +kubebuilder:default=120960
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000000
	HistoryRetentionWindow int32 `json:"historyRetentionWindow,omitempty"`
}

// LoadBalancerMode is how MetalLB announces the node's IP.
// +kubebuilder:validation:Enum=L2;BGP
type LoadBalancerMode string

const (
	LoadBalancerL2  LoadBalancerMode = "L2"
	LoadBalancerBGP LoadBalancerMode = "BGP"
)

// LoadBalancerSpec exposes the node through a LoadBalancer Service announced by MetalLB.
// +kubebuilder:validation:XValidation:rule="!has(self.mode) || self.mode != 'BGP' || has(self.bgp)",fieldPath=".bgp",message="bgp is required when mode is BGP"
// +kubebuilder:validation:XValidation:rule="!has(self.mode) || self.mode != 'L2' || !has(self.bgp)",fieldPath=".bgp",message="bgp is only used when mode is BGP; remove it or set mode: BGP"
// +kubebuilder:validation:XValidation:rule="has(self.loadBalancerClass) == has(oldSelf.loadBalancerClass)",fieldPath=".loadBalancerClass",message="loadBalancerClass cannot be added or removed: the Service's field is immutable (delete and recreate the node)"
// +kubebuilder:validation:XValidation:rule="(has(self.enabled) && !self.enabled) || has(self.loadBalancerIP) || has(self.addressPool)",message="loadBalancer needs loadBalancerIP or addressPool: without either MetalLB would pick any pool, and the advertisement could not be limited to it"
type LoadBalancerSpec struct {
	// enabled turns the load balancer on; it defaults to true when the loadBalancer block is present.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// mode is L2 or BGP; when omitted it is BGP if bgp is set and L2 otherwise.
	// +optional
	Mode LoadBalancerMode `json:"mode,omitempty"`

	// addressPool is the MetalLB IPAddressPool the IP comes from.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	AddressPool string `json:"addressPool,omitempty"`

	// loadBalancerIP is the IP to announce; several StellarNodes in different regions share it for anycast.
	// +optional
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="loadBalancerIP must be an IPv4 or IPv6 address"
	// +kubebuilder:validation:XValidation:rule="!isIP(self) || (ip(self).isGlobalUnicast() && !cidr('0.0.0.0/8').containsIP(self))",message="loadBalancerIP must be an address that can be announced: not unspecified, loopback, link-local, multicast, broadcast or in 0.0.0.0/8"
	LoadBalancerIP string `json:"loadBalancerIP,omitempty"`

	// externalTrafficPolicy of the Service. Local (the default) keeps the client source IP and makes a node
	// announce only while it has a ready local endpoint, which BGP failover relies on.
	// +optional
	// +kubebuilder:default=Local
	// +kubebuilder:validation:Enum=Local;Cluster
	ExternalTrafficPolicy corev1.ServiceExternalTrafficPolicy `json:"externalTrafficPolicy,omitempty"`

	// healthCheckEnabled adds the health sidecar serving healthCheckPort and uses it for readiness.
	// +optional
	// +kubebuilder:default=true
	HealthCheckEnabled *bool `json:"healthCheckEnabled,omitempty"`

	// healthCheckPort is the port of the health sidecar, exposed on the Service as "health".
	// +optional
	// +kubebuilder:default=9100
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	HealthCheckPort int32 `json:"healthCheckPort,omitempty"`

	// annotations are added to the LoadBalancer Service. MetalLB's and external-dns' keys are set
	// by the operator from the spec and cannot be given here.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('metallb.io/') && !k.startsWith('metallb.universe.tf/') && !k.contains('external-dns'))",messageExpression="'annotation ' + self.filter(k, k.startsWith('metallb.io/') || k.startsWith('metallb.universe.tf/') || k.contains('external-dns'))[0] + ' is not allowed: MetalLB annotations come from addressPool and loadBalancerIP, external-dns ones from globalDiscovery.externalDns'"
	Annotations map[string]string `json:"annotations,omitempty"`

	// loadBalancerClass is the LoadBalancer Service's spec.loadBalancerClass: only a MetalLB started
	// with --lb-class set to this value serves it, while a MetalLB without --lb-class serves only
	// Services without a class. Kubernetes does not let a Service's class change.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="loadBalancerClass cannot change: the Service's field is immutable"
	LoadBalancerClass string `json:"loadBalancerClass,omitempty"`

	// bgp configures the BGP announcement (mode BGP).
	// +optional
	BGP *BGPSpec `json:"bgp,omitempty"`
}

// BGPSpec is the BGP side of a BGP-mode load balancer.
// +kubebuilder:validation:XValidation:rule="!has(self.peers) || self.peers.all(p, !(has(p.ebgpMultiHop) && p.ebgpMultiHop && p.asn == self.localASN))",fieldPath=".peers",message="ebgpMultiHop is only for eBGP peers: a peer whose asn equals localASN is iBGP"
// +kubebuilder:validation:XValidation:rule="!has(self.bfdProfile) || !has(self.bfdEnabled) || self.bfdEnabled",fieldPath=".bfdProfile",message="bfdProfile needs bfdEnabled: true"
type BGPSpec struct {
	// localASN is the operator-side ASN (MetalLB myASN).
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	LocalASN int64 `json:"localASN"`

	// peers are the routers to announce to. When empty, the announcement goes to every BGPPeer already
	// configured in MetalLB.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(p, !isIP(p.address) || self.filter(q, isIP(q.address) && ip(q.address) == ip(p.address)).size() == 1)",message="peers must not name one router twice: MetalLB peers with an address once, whatever the port, and 2001:db8::1 and 2001:0db8::1 are one address"
	Peers []BGPPeerSpec `json:"peers,omitempty"`

	// communities are standard BGP communities "A:B" (16-bit each) or well-known names
	// (no-export, no-advertise, local-as, no-peer, blackhole, graceful-shutdown, accept-own).
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +listType=set
	// +kubebuilder:validation:items:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.all(c, c in ['no-export', 'no-advertise', 'local-as', 'no-peer', 'blackhole', 'graceful-shutdown', 'accept-own'] || (c.matches('^[0-9]{1,5}:[0-9]{1,5}$') && int(c.split(':')[0]) <= 65535 && int(c.split(':')[1]) <= 65535))",message="communities must be A:B with A and B in 0..65535, or a well-known community name"
	Communities []string `json:"communities,omitempty"`

	// largeCommunities are RFC 8092 large communities "G:L1:L2" (32-bit each).
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +listType=set
	// +kubebuilder:validation:items:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.all(c, c.matches('^[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10}$') && c.split(':').all(p, int(p) <= 4294967295))",message="largeCommunities must be G:L1:L2 with each part in 0..4294967295"
	LargeCommunities []string `json:"largeCommunities,omitempty"`

	// advertisement shapes the announced prefix.
	// +optional
	Advertisement *BGPAdvertisementSpec `json:"advertisement,omitempty"`

	// bfdEnabled turns on BFD for fast failure detection on every peer of this node.
	// +optional
	BFDEnabled *bool `json:"bfdEnabled,omitempty"`

	// bfdProfile is the MetalLB BFDProfile to use; created with MetalLB's defaults when absent.
	// Defaults to "stellar-bfd" when bfdEnabled.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	BFDProfile string `json:"bfdProfile,omitempty"`
}

// BGPPeerSpec is one BGP router session.
// +kubebuilder:validation:XValidation:rule="!has(self.keepaliveTime) || self.keepaliveTime <= self.holdTime",fieldPath=".keepaliveTime",message="keepaliveTime must not exceed holdTime"
// +kubebuilder:validation:XValidation:rule="!has(self.keepaliveTime) || self.holdTime != 0 || self.keepaliveTime == 0",fieldPath=".keepaliveTime",message="keepaliveTime must be 0 when holdTime is 0"
type BGPPeerSpec struct {
	// address of the router.
	// +required
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="address must be an IPv4 or IPv6 address"
	// +kubebuilder:validation:XValidation:rule="!isIP(self) || (ip(self).isGlobalUnicast() && !cidr('0.0.0.0/8').containsIP(self))",message="address must be a router's unicast address: not unspecified, loopback, link-local, multicast, broadcast or in 0.0.0.0/8"
	Address string `json:"address"`

	// asn of the router. Equal to localASN means iBGP.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	ASN int64 `json:"asn"`

	// port of the router's BGP listener (MetalLB allows 1..16384).
	// +optional
	// +kubebuilder:default=179
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16384
	Port int32 `json:"port,omitempty"`

	// holdTime in seconds: 0 (no keepalives) or at least 3.
	// +optional
	// +kubebuilder:default=90
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:validation:XValidation:rule="self == 0 || self >= 3",message="holdTime must be 0 or at least 3 seconds"
	HoldTime *int32 `json:"holdTime,omitempty"`

	// keepaliveTime in seconds; defaults to holdTime/3 (30 with the default holdTime).
	// Not supported by MetalLB's native BGP mode: set it only for FRR modes.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	KeepaliveTime *int32 `json:"keepaliveTime,omitempty"`

	// ebgpMultiHop allows an eBGP router that is more than one hop away. Not allowed for iBGP peers.
	// +optional
	// +kubebuilder:default=false
	EBGPMultiHop bool `json:"ebgpMultiHop,omitempty"`

	// gracefulRestart keeps routes during a speaker restart (default true; FRR modes only).
	// +optional
	GracefulRestart *bool `json:"gracefulRestart,omitempty"`

	// passwordSecretRef names the Secret holding the TCP MD5 password (key default "password").
	// +optional
	PasswordSecretRef *SecretKeyRef `json:"passwordSecretRef,omitempty"`
}

// BGPAdvertisementSpec shapes how the IP is advertised.
type BGPAdvertisementSpec struct {
	// aggregationLength is the IPv4 prefix length announced.
	// +optional
	// +kubebuilder:default=32
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=32
	AggregationLength int32 `json:"aggregationLength,omitempty"`

	// aggregationLengthV6 is the IPv6 prefix length announced.
	// +optional
	// +kubebuilder:default=128
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=128
	AggregationLengthV6 int32 `json:"aggregationLengthV6,omitempty"`

	// localPref is the BGP LOCAL_PREF; it only travels over iBGP.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4294967295
	LocalPref *int64 `json:"localPref,omitempty"`

	// nodeSelectors limit the Kubernetes nodes that announce; empty means all nodes. Each is a
	// Kubernetes label selector (matchLabels, matchExpressions); a node matching any of them announces.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(s, self.exists_one(t, t == s))",message="nodeSelectors must not repeat a selector: MetalLB refuses duplicates"
	NodeSelectors []NodeSelector `json:"nodeSelectors,omitempty"`
}

// NodeSelector is a Kubernetes label selector (the fields of metav1.LabelSelector), bounded and
// checked at admission the way MetalLB reads it.
// +kubebuilder:validation:XValidation:rule="!has(self.matchLabels) || self.matchLabels.all(k, !format.qualifiedName().validate(k).hasValue())",fieldPath=".matchLabels",message="matchLabels keys must be qualified label names (an optional DNS prefix and '/', then at most 63 letters, digits, '-', '_' or '.')"
type NodeSelector struct {
	// matchLabels a node must carry.
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	MatchLabels map[string]LabelValue `json:"matchLabels,omitempty"`
	// matchExpressions a node must satisfy.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	MatchExpressions []NodeSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelValue is a Kubernetes label value.
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:Pattern=`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`
type LabelValue string

// NodeSelectorRequirement is one expression of a NodeSelector.
// +kubebuilder:validation:XValidation:rule="(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",message="In and NotIn need values; Exists and DoesNotExist take none"
// +kubebuilder:validation:XValidation:rule="!format.qualifiedName().validate(self.key).hasValue()",fieldPath=".key",message="key must be a qualified label name (an optional DNS prefix and '/', then at most 63 letters, digits, '-', '_' or '.')"
type NodeSelectorRequirement struct {
	// key of the label.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=317
	Key string `json:"key"`
	// operator: In, NotIn, Exists or DoesNotExist.
	// +required
	// +kubebuilder:validation:Enum=In;NotIn;Exists;DoesNotExist
	Operator metav1.LabelSelectorOperator `json:"operator"`
	// values for In and NotIn.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	Values []LabelValue `json:"values,omitempty"`
}

// GlobalDiscoverySpec places the node for cross-region routing and DNS.
type GlobalDiscoverySpec struct {
	// enabled turns global discovery on; it defaults to true when the block is present.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// region of this node, e.g. "us-east".
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`
	Region string `json:"region,omitempty"`

	// zone of this node, e.g. "us-east-1a".
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`
	Zone string `json:"zone,omitempty"`

	// priority of this region; higher is preferred (used as a DNS weight).
	// +optional
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	Priority *int32 `json:"priority,omitempty"`

	// topologyAwareHints keeps traffic in the client's zone when possible.
	// +optional
	TopologyAwareHints bool `json:"topologyAwareHints,omitempty"`

	// externalDns registers the node's IP in DNS through external-dns.
	// +optional
	ExternalDNS *ExternalDNSSpec `json:"externalDns,omitempty"`
}

// ExternalDNSSpec is the external-dns registration of the node.
type ExternalDNSSpec struct {
	// hostname to register.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\.?$`
	Hostname string `json:"hostname"`

	// ttl of the record in seconds.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=604800
	TTL *int64 `json:"ttl,omitempty"`

	// provider of DNS (e.g. route53); weighted providers get a set-identifier and weight per region.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Provider string `json:"provider,omitempty"`

	// annotations are passed through to the Service as they are (a weight or set-identifier, say);
	// hostname and ttl come from the fields above and MetalLB's keys from loadBalancer.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('metallb.io/') && !k.startsWith('metallb.universe.tf/') && !(k.contains('external-dns') && (k.endsWith('/hostname') || k.endsWith('/ttl'))))",messageExpression="'annotation ' + self.filter(k, k.startsWith('metallb.io/') || k.startsWith('metallb.universe.tf/') || (k.contains('external-dns') && (k.endsWith('/hostname') || k.endsWith('/ttl'))))[0] + ' is not allowed: hostname and ttl are externalDns fields, MetalLB keys come from loadBalancer'"
	Annotations map[string]string `json:"annotations,omitempty"`
}

// StellarNodeStatus is the observed state of a StellarNode.
type StellarNodeStatus struct {
	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, Progressing, Degraded, and load-balancer conditions.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// replicas and readyReplicas of the workload.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// selector of the workload's pods, for the scale subresource.
	// +optional
	Selector string `json:"selector,omitempty"`
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`

	// image the workload runs.
	// +optional
	Image string `json:"image,omitempty"`

	// publicKey of a validator (public; the seed never appears in status).
	// +optional
	PublicKey string `json:"publicKey,omitempty"`

	// externalIP assigned to the LoadBalancer Service.
	// +optional
	ExternalIP string `json:"externalIP,omitempty"`

	// loadBalancer reports what is announced and how.
	// +optional
	LoadBalancer *LoadBalancerStatus `json:"loadBalancer,omitempty"`

	// discovery reports the node's place for global discovery.
	// +optional
	Discovery *DiscoveryStatus `json:"discovery,omitempty"`

	// sync reports whether the Stellar service is in sync with the network.
	// +optional
	Sync *SyncStatus `json:"sync,omitempty"`
}

// LoadBalancerStatus reports the MetalLB side.
type LoadBalancerStatus struct {
	Mode LoadBalancerMode `json:"mode,omitempty"`
	Pool string           `json:"pool,omitempty"`
	// +optional
	AdvertisedPrefixes []string `json:"advertisedPrefixes,omitempty"`
	// +optional
	Communities []string `json:"communities,omitempty"`
	// +optional
	LocalPref *int64 `json:"localPref,omitempty"`
	// bfdProfile the node's peers use.
	// +optional
	BFDProfile string `json:"bfdProfile,omitempty"`
	// +optional
	Peers []PeerStatus `json:"peers,omitempty"`
}

// PeerStatus reports one BGP session.
type PeerStatus struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	ASN     int64  `json:"asn"`
	// sessionState as reported by MetalLB, when it reports it: "Announcing" while a node announces
	// this node's IP to the peer. In frr-k8s mode it says Announcing only while such a node's session
	// is Established, else it is the session's state (Active, Connect, Idle, OpenSent, ...).
	// +optional
	SessionState string `json:"sessionState,omitempty"`
	// +optional
	Nodes []string `json:"nodes,omitempty"`
	// sessions are the BGP sessions to this peer, per node, as frr-k8s reports them (frr-k8s mode).
	// +optional
	Sessions []PeerSessionStatus `json:"sessions,omitempty"`
}

// PeerSessionStatus is one node's BGP session to a peer, as frr-k8s' BGPSessionState reports it.
type PeerSessionStatus struct {
	Node string `json:"node"`
	// bgpState is FRR's BGP state: Established, or Idle, Connect, Active, OpenSent, OpenConfirm.
	BGPState string `json:"bgpState"`
	// bfdState is FRR's BFD state (Up, Down, ...), or N/A without BFD.
	// +optional
	BFDState string `json:"bfdState,omitempty"`
}

// DiscoveryStatus reports the node's region, zone, priority and DNS name.
type DiscoveryStatus struct {
	Region   string `json:"region,omitempty"`
	Zone     string `json:"zone,omitempty"`
	Priority int32  `json:"priority,omitempty"`
	DNSName  string `json:"dnsName,omitempty"`
}

// SyncState summarises the node's sync with the network.
type SyncState string

const (
	SyncSynced     SyncState = "Synced"
	SyncCatchingUp SyncState = "CatchingUp"
	SyncUnknown    SyncState = "Unknown"
)

// SyncStatus reports the health sidecar's verdict.
type SyncStatus struct {
	State        SyncState    `json:"state,omitempty"`
	LatestLedger int64        `json:"latestLedger,omitempty"`
	Reason       string       `json:"reason,omitempty"`
	CheckedAt    *metav1.Time `json:"checkedAt,omitempty"`
}

// StellarNode runs one Stellar service (validator, Horizon or Stellar RPC) and exposes it through MetalLB.
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must start with a letter and hold only lowercase letters, digits and '-': it names the node's Services"
// +kubebuilder:validation:XValidation:rule="self.spec.nodeType == 'Horizon' || size(self.metadata.name) <= 52",message="metadata.name must be at most 52 characters for a Validator or SorobanRpc: its StatefulSet's revision label adds 11 to the name and labels hold 63"
// +kubebuilder:validation:XValidation:rule="self.spec.nodeType != 'Horizon' || size(self.metadata.name) <= 60",message="metadata.name must be at most 60 characters for Horizon: its LoadBalancer Service <name>-lb must fit in 63"
// +kubebuilder:validation:XValidation:rule="self.spec.nodeType != 'Horizon' || (has(self.spec.horizon) && has(self.spec.horizon.databaseSecretRef)) || size(self.metadata.name) <= 43",message="metadata.name must be at most 43 characters for Horizon with a managed database: the StatefulSet <name>-postgres gets a revision label of its name plus 11 characters, and labels hold 63"
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:resource:shortName=sn,categories=stellar
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.nodeType`
// +kubebuilder:printcolumn:name="Network",type=string,JSONPath=`.spec.network`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Pods",type=integer,JSONPath=`.status.readyReplicas`,description="Ready pods"
// +kubebuilder:printcolumn:name="Sync",type=string,JSONPath=`.status.sync.state`
// +kubebuilder:printcolumn:name="Ledger",type=integer,JSONPath=`.status.sync.latestLedger`
// +kubebuilder:printcolumn:name="External-IP",type=string,JSONPath=`.status.externalIP`
// +kubebuilder:printcolumn:name="Region",type=string,JSONPath=`.spec.globalDiscovery.region`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="LB",type=string,JSONPath=`.status.conditions[?(@.type=="LoadBalancerReady")].reason`,priority=1
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.version`,priority=1
type StellarNode struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   StellarNodeSpec   `json:"spec,omitempty"`
	Status StellarNodeStatus `json:"status,omitempty"`
}

// StellarNodeList is a list of StellarNodes.
// +kubebuilder:object:root=true
type StellarNodeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []StellarNode `json:"items"`
}
