package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	metallbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	metallbv1beta2 "go.universe.tf/metallb/api/v1beta2"

	stellarv1 "github.com/stellar-operator/stellar-operator/api/v1alpha1"
	"github.com/stellar-operator/stellar-operator/internal/validate"
)

// BGPMode is how MetalLB speaks BGP; it decides which fields can take effect.
type BGPMode string

const (
	BGPModeNative BGPMode = "native"
	BGPModeFRR    BGPMode = "frr"
	BGPModeFRRK8s BGPMode = "frr-k8s"
)

// Service annotations MetalLB reads.
const (
	AnnotationAddressPool   = "metallb.io/address-pool"
	AnnotationLBIPs         = "metallb.io/loadBalancerIPs"
	AnnotationAllowSharedIP = "metallb.io/allow-shared-ip"
	// LabelShared marks MetalLB objects several StellarNodes may use (pools, peers, BFD profiles,
	// password copies): they are deleted only when no StellarNode wants them any more.
	LabelShared = "stellar.org/shared"
	// DefaultBFDProfile is used when bfdEnabled names no profile.
	DefaultBFDProfile = "stellar-bfd"
)

// MetalLBFacts are what the controller observed of MetalLB and of the other StellarNodes.
type MetalLBFacts struct {
	// Installed is false when MetalLB's CRDs are absent: no MetalLB object or LB Service is rendered.
	Installed bool
	// Namespace MetalLB watches (its objects live there).
	Namespace string
	// Mode is MetalLB's BGP implementation.
	Mode BGPMode
	// ForeignPools are IPAddressPools that exist and are not ours, by name: used as they are.
	ForeignPools map[string][]string
	// ForeignBFDProfiles exist and are not ours: referenced, never written.
	ForeignBFDProfiles map[string]bool
	// PoolAddresses are the prefixes every StellarNode wants in each pool we own, by pool name.
	PoolAddresses map[string][]string
	// PeerWinners hold, per BGPPeer name, the definition of the oldest StellarNode naming it.
	PeerWinners map[string]PeerClaim
	// PeerPasswords are this node's MD5 passwords by peer index (read from its Secrets).
	PeerPasswords map[int][]byte
	// SameIP are the other StellarNodes of the cluster asking for this node's loadBalancerIP.
	SameIP []IPClaim
}

// PeerClaim is one StellarNode's definition of a BGP session.
type PeerClaim struct {
	Node       string // namespace/name
	Definition PeerDefinition
}

// PeerDefinition is what makes two claims on a BGPPeer equal: the rendered spec and which Secret
// holds the password.
type PeerDefinition struct {
	Spec        metallbv1beta2.BGPPeerSpec
	PasswordRef string
}

// IPClaim is another StellarNode's claim on a loadBalancerIP.
type IPClaim struct {
	Node                  string
	Ports                 []corev1.ServicePort
	ExternalTrafficPolicy corev1.ServiceExternalTrafficPolicy
}

// LBEnabled reports whether the node asks for a load balancer.
func LBEnabled(node *stellarv1.StellarNode) bool {
	lb := node.Spec.LoadBalancer
	return lb != nil && boolOr(lb.Enabled, true)
}

// LBMode is the effective mode: explicit, else BGP when bgp is set, else L2.
func LBMode(lb *stellarv1.LoadBalancerSpec) stellarv1.LoadBalancerMode {
	switch {
	case lb.Mode != "":
		return lb.Mode
	case lb.BGP != nil:
		return stellarv1.LoadBalancerBGP
	default:
		return stellarv1.LoadBalancerL2
	}
}

// PoolName is the IPAddressPool a node's IP comes from: addressPool, or one named after the IP
// so that every node announcing the same anycast IP shares a single pool (MetalLB refuses
// overlapping pools). Empty when the node names neither.
func PoolName(node *stellarv1.StellarNode) string {
	lb := node.Spec.LoadBalancer
	if lb == nil {
		return ""
	}
	if lb.AddressPool != "" {
		return lb.AddressPool
	}
	if lb.LoadBalancerIP != "" {
		return "stellar-" + dashed(lb.LoadBalancerIP)
	}
	return ""
}

// lbAddr is the node's loadBalancerIP, when it has a valid one.
func lbAddr(node *stellarv1.StellarNode) (netip.Addr, bool) {
	lb := node.Spec.LoadBalancer
	if lb == nil || lb.LoadBalancerIP == "" {
		return netip.Addr{}, false
	}
	addr, err := netip.ParseAddr(lb.LoadBalancerIP)
	return addr, err == nil
}

// Prefix is the host prefix of the node's loadBalancerIP (/32 or /128), or "".
func Prefix(node *stellarv1.StellarNode) string {
	addr, ok := lbAddr(node)
	if !ok {
		return ""
	}
	return netip.PrefixFrom(addr, addr.BitLen()).String()
}

// AdvertisedPrefix is the prefix announced for the IP, after aggregation.
func AdvertisedPrefix(node *stellarv1.StellarNode) string {
	addr, ok := lbAddr(node)
	if !ok {
		return ""
	}
	v4, v6 := aggregation(node.Spec.LoadBalancer.BGP)
	bits := int(v4)
	if addr.Is6() {
		bits = int(v6)
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

func aggregation(bgp *stellarv1.BGPSpec) (v4, v6 int32) {
	v4, v6 = 32, 128
	if bgp != nil && bgp.Advertisement != nil {
		if bgp.Advertisement.AggregationLength != 0 {
			v4 = bgp.Advertisement.AggregationLength
		}
		if bgp.Advertisement.AggregationLengthV6 != 0 {
			v6 = bgp.Advertisement.AggregationLengthV6
		}
	}
	return v4, v6
}

// PeerName names the BGPPeer of a router session. Sessions are identified by the router's
// address and port, so every StellarNode naming the same router shares one BGPPeer.
func PeerName(p stellarv1.BGPPeerSpec) string {
	name := "stellar-peer-" + dashed(p.Address)
	if p.Port != 0 && p.Port != 179 {
		name += fmt.Sprintf("-%d", p.Port)
	}
	return name
}

// PeerPasswordSecret resolves a peer's passwordSecretRef (key default "password"); call it only
// when the peer has one.
func PeerPasswordSecret(p stellarv1.BGPPeerSpec) SecretRef {
	return SecretRef{Name: p.PasswordSecretRef.Name, Key: defaultString(p.PasswordSecretRef.Key, MD5PasswordKey)}
}

// PeerPasswordSecretName is the basic-auth copy of a peer's MD5 password in MetalLB's namespace.
func PeerPasswordSecretName(p stellarv1.BGPPeerSpec) string { return PeerName(p) + "-md5" }

// PerNodeName names a MetalLB object that belongs to one StellarNode.
func PerNodeName(node *stellarv1.StellarNode) string {
	name := "stellar-" + node.Namespace + "-" + node.Name
	if len(name) <= 253 {
		return name
	}
	sum := sha256.Sum256([]byte(node.Namespace + "/" + node.Name))
	return name[:240] + "-" + hex.EncodeToString(sum[:])[:12]
}

// BFDProfileName is the profile a node's peers use, or "" without BFD.
func BFDProfileName(bgp *stellarv1.BGPSpec) string {
	if bgp == nil || !boolOr(bgp.BFDEnabled, false) {
		return ""
	}
	return defaultString(bgp.BFDProfile, DefaultBFDProfile)
}

func dashed(s string) string {
	return strings.NewReplacer(".", "-", ":", "-").Replace(strings.ToLower(s))
}

// wellKnownCommunities are translated to A:B: MetalLB parses only numbers and its own aliases.
func wellKnownCommunities() map[string]string {
	return map[string]string{
		"graceful-shutdown": "65535:0", "accept-own": "65535:1", "blackhole": "65535:666",
		"no-export": "65535:65281", "no-advertise": "65535:65282", "local-as": "65535:65283", "no-peer": "65535:65284",
	}
}

// Communities are the node's communities as MetalLB writes them (large ones prefixed "large:").
func Communities(bgp *stellarv1.BGPSpec, mode BGPMode) []string {
	if bgp == nil {
		return nil
	}
	known := wellKnownCommunities()
	var out []string
	for _, c := range bgp.Communities {
		if v, ok := known[c]; ok {
			c = v
		}
		out = append(out, c)
	}
	if mode != BGPModeNative {
		for _, c := range bgp.LargeCommunities {
			out = append(out, "large:"+c)
		}
	}
	return out
}

// PeerDefinitionFor renders one peer session as MetalLB should run it in mode. Fields the mode
// cannot take are left out (a BGPPeer carrying them stops every session of a native speaker) and
// reported.
func PeerDefinitionFor(node *stellarv1.StellarNode, i int, mode BGPMode) (PeerDefinition, []validate.Problem) {
	bgp := node.Spec.LoadBalancer.BGP
	p := bgp.Peers[i]
	field := fmt.Sprintf("spec.loadBalancer.bgp.peers[%d]", i)
	var problems []validate.Problem
	unsupported := func(name string) {
		problems = append(problems, validate.Warnf(field+"."+name, stellarv1.ReasonUnsupportedByMetalLB,
			fmt.Sprintf("%s cannot take effect in MetalLB's %s BGP mode and is left out of BGPPeer %s", name, mode, PeerName(p))))
	}
	hold := p.HoldTime
	if hold == 0 && p.KeepaliveTime == nil {
		hold = 90
	}
	spec := metallbv1beta2.BGPPeerSpec{
		MyASN:        uint32(bgp.LocalASN),
		ASN:          uint32(p.ASN),
		Address:      p.Address,
		Port:         uint16(defaultInt32(p.Port, 179)),
		HoldTime:     &metav1.Duration{Duration: time.Duration(hold) * time.Second},
		EBGPMultiHop: p.EBGPMultiHop,
	}
	if sel := advertisementNodeSelectors(bgp); len(sel) > 0 {
		spec.NodeSelectors = sel
	}
	if p.KeepaliveTime != nil {
		if mode == BGPModeNative {
			unsupported("keepaliveTime")
		} else {
			spec.KeepaliveTime = &metav1.Duration{Duration: time.Duration(*p.KeepaliveTime) * time.Second}
		}
	}
	if boolOr(p.GracefulRestart, true) {
		if mode == BGPModeNative {
			if p.GracefulRestart != nil {
				unsupported("gracefulRestart")
			}
		} else {
			spec.EnableGracefulRestart = true
		}
	}
	if profile := BFDProfileName(bgp); profile != "" {
		if mode == BGPModeNative {
			problems = append(problems, validate.Warnf("spec.loadBalancer.bgp.bfdEnabled", stellarv1.ReasonUnsupportedByMetalLB,
				fmt.Sprintf("BFD cannot take effect in MetalLB's %s BGP mode and is left out of BGPPeer %s", mode, PeerName(p))))
		} else {
			spec.BFDProfile = profile
		}
	}
	def := PeerDefinition{Spec: spec}
	if p.PasswordSecretRef != nil {
		def.Spec.PasswordSecret = corev1.SecretReference{Name: PeerPasswordSecretName(p)}
		ref := PeerPasswordSecret(p)
		def.PasswordRef = node.Namespace + "/" + ref.Name + "/" + ref.Key
	}
	return def, problems
}

// advertisementNodeSelectors limit both the announcing nodes and the nodes that peer: a node
// outside them would only dial a router it cannot announce to.
func advertisementNodeSelectors(bgp *stellarv1.BGPSpec) []metav1.LabelSelector {
	if bgp == nil || bgp.Advertisement == nil {
		return nil
	}
	return bgp.Advertisement.NodeSelectors
}

func defaultInt32(v, def int32) int32 {
	if v == 0 {
		return def
	}
	return v
}

// metallbMeta is the ObjectMeta of a MetalLB object: in MetalLB's namespace, labelled so the
// operator can find and delete exactly what it created (no owner reference across namespaces).
func metallbMeta(node *stellarv1.StellarNode, facts MetalLBFacts, name string, shared bool) metav1.ObjectMeta {
	labels := map[string]string{LabelManagedBy: ManagerName}
	if shared {
		labels[LabelShared] = "true"
	} else {
		labels[LabelNode] = node.Name
		labels[LabelNodeNamespace] = node.Namespace
	}
	return metav1.ObjectMeta{Name: name, Namespace: facts.Namespace, Labels: labels}
}

// serviceSelector selects the node's LoadBalancer Service only, so that a node's communities,
// localPref and node selectors never reach another Service of the same pool.
func serviceSelector(node *stellarv1.StellarNode) []metav1.LabelSelector {
	return []metav1.LabelSelector{{MatchLabels: map[string]string{
		LabelNode: node.Name, LabelNodeNamespace: node.Namespace, LabelComponent: ComponentLoadBalancer,
	}}}
}

// ComponentLoadBalancer labels the LoadBalancer Service.
const ComponentLoadBalancer = "load-balancer"

// loadBalancer renders the LoadBalancer Service and the MetalLB objects of a node.
func loadBalancer(node *stellarv1.StellarNode, facts Facts) ([]client.Object, []validate.Problem) {
	if !LBEnabled(node) {
		return nil, nil
	}
	m := facts.MetalLB
	if !m.Installed {
		return nil, []validate.Problem{validate.Warnf("spec.loadBalancer", stellarv1.ReasonMetalLBNotInstalled,
			"MetalLB's CRDs are not installed: no LoadBalancer Service or MetalLB object is created until they are")}
	}
	problems := validate.LoadBalancer(node, validate.ClusterFacts{
		PoolAddresses: m.ForeignPools, Native: m.Mode == BGPModeNative,
	})
	if validate.HasErrors(problems) {
		// Cross-object problems block the load balancer only; the workload still runs. They are
		// reported as warnings so the rest of the node applies.
		return nil, downgrade(problems)
	}
	svc, shareProblems := lbService(node, facts)
	problems = append(problems, shareProblems...)
	objects := []client.Object{svc}
	pool := PoolName(node)
	if _, foreign := m.ForeignPools[pool]; pool != "" && !foreign {
		addresses := m.PoolAddresses[pool]
		if len(addresses) == 0 && Prefix(node) != "" {
			addresses = []string{Prefix(node)}
		}
		objects = append(objects, &metallbv1beta1.IPAddressPool{
			TypeMeta:   metav1.TypeMeta{APIVersion: metallbv1beta1.GroupVersion.String(), Kind: "IPAddressPool"},
			ObjectMeta: metallbMeta(node, m, pool, true),
			// Not auto-assigned: the pool exists for the IPs StellarNodes ask for by name.
			Spec: metallbv1beta1.IPAddressPoolSpec{Addresses: addresses, AutoAssign: ptr.To(false)},
		})
	}
	var pools []string
	if pool != "" {
		pools = []string{pool}
	}
	lb := node.Spec.LoadBalancer
	if LBMode(lb) == stellarv1.LoadBalancerL2 {
		objects = append(objects, &metallbv1beta1.L2Advertisement{
			TypeMeta:   metav1.TypeMeta{APIVersion: metallbv1beta1.GroupVersion.String(), Kind: "L2Advertisement"},
			ObjectMeta: metallbMeta(node, m, PerNodeName(node), false),
			Spec:       metallbv1beta1.L2AdvertisementSpec{IPAddressPools: pools, ServiceSelectors: serviceSelector(node)},
		})
		return objects, problems
	}
	bgpObjects, bgpProblems := bgpObjects(node, m, pools)
	return append(objects, bgpObjects...), append(problems, bgpProblems...)
}

func downgrade(problems []validate.Problem) []validate.Problem {
	out := make([]validate.Problem, len(problems))
	for i, p := range problems {
		p.Severity = validate.SeverityWarning
		out[i] = p
	}
	return out
}

func bgpObjects(node *stellarv1.StellarNode, m MetalLBFacts, pools []string) ([]client.Object, []validate.Problem) {
	bgp := node.Spec.LoadBalancer.BGP
	var objects []client.Object
	var problems []validate.Problem
	var peerNames []string
	for i, p := range bgp.Peers {
		name := PeerName(p)
		peerNames = append(peerNames, name)
		def, defProblems := PeerDefinitionFor(node, i, m.Mode)
		problems = append(problems, defProblems...)
		self := node.Namespace + "/" + node.Name
		if w, ok := m.PeerWinners[name]; ok && w.Node != self && !equalDefinitions(w.Definition, def) {
			problems = append(problems, validate.Warnf(fmt.Sprintf("spec.loadBalancer.bgp.peers[%d]", i), stellarv1.ReasonPeerConflict,
				fmt.Sprintf("router %s is already defined differently by StellarNode %s; BGPPeer %s keeps that definition", p.Address, w.Node, name)))
			continue
		}
		if p.PasswordSecretRef != nil {
			password, ok := m.PeerPasswords[i]
			if !ok {
				continue // the controller reported the missing Secret
			}
			objects = append(objects, &corev1.Secret{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
				ObjectMeta: metallbMeta(node, m, PeerPasswordSecretName(p), true),
				Type:       corev1.SecretTypeBasicAuth,
				Data:       map[string][]byte{MD5PasswordKey: password},
			})
		}
		objects = append(objects, &metallbv1beta2.BGPPeer{
			TypeMeta:   metav1.TypeMeta{APIVersion: metallbv1beta2.GroupVersion.String(), Kind: "BGPPeer"},
			ObjectMeta: metallbMeta(node, m, name, true),
			Spec:       def.Spec,
		})
	}
	if profile := BFDProfileName(bgp); profile != "" && m.Mode != BGPModeNative && !m.ForeignBFDProfiles[profile] {
		objects = append(objects, &metallbv1beta1.BFDProfile{
			TypeMeta:   metav1.TypeMeta{APIVersion: metallbv1beta1.GroupVersion.String(), Kind: "BFDProfile"},
			ObjectMeta: metallbMeta(node, m, profile, true),
			Spec: metallbv1beta1.BFDProfileSpec{
				ReceiveInterval: ptr.To[uint32](300), TransmitInterval: ptr.To[uint32](300), DetectMultiplier: ptr.To[uint32](3),
			},
		})
	}
	problems = append(problems, priorityProblems(node, m.Mode)...)
	if bgp.LargeCommunities != nil && m.Mode == BGPModeNative {
		problems = append(problems, validate.Warnf("spec.loadBalancer.bgp.largeCommunities", stellarv1.ReasonUnsupportedByMetalLB,
			"large communities cannot take effect in MetalLB's native BGP mode and are left out of the BGPAdvertisement"))
	}
	v4, v6 := aggregation(bgp)
	adv := metallbv1beta1.BGPAdvertisementSpec{
		AggregationLength:   ptr.To(v4),
		AggregationLengthV6: ptr.To(v6),
		Communities:         AnnouncedCommunities(node, m.Mode),
		IPAddressPools:      pools,
		NodeSelectors:       advertisementNodeSelectors(bgp),
		Peers:               peerNames,
	}
	if bgp.Advertisement != nil && bgp.Advertisement.LocalPref != nil {
		adv.LocalPref = uint32(*bgp.Advertisement.LocalPref)
	}
	// MetalLB allows serviceSelectors only with the default aggregation lengths; with others the
	// advertisement applies to the whole pool (validate warns when the pool is shared).
	if v4 == 32 && v6 == 128 {
		adv.ServiceSelectors = serviceSelector(node)
	}
	objects = append(objects, &metallbv1beta1.BGPAdvertisement{
		TypeMeta:   metav1.TypeMeta{APIVersion: metallbv1beta1.GroupVersion.String(), Kind: "BGPAdvertisement"},
		ObjectMeta: metallbMeta(node, m, PerNodeName(node), false),
		Spec:       adv,
	})
	return objects, problems
}

func equalDefinitions(a, b PeerDefinition) bool {
	return a.PasswordRef == b.PasswordRef && equality.Semantic.DeepEqual(a.Spec, b.Spec)
}

// lbService is the node's LoadBalancer Service. It is separate from the ClusterIP Service so that
// turning the load balancer on or off never changes the in-cluster address clients use, and so
// MetalLB's annotations and the external ports live on one object the operator fully owns.
func lbService(node *stellarv1.StellarNode, facts Facts) (*corev1.Service, []validate.Problem) {
	lb := node.Spec.LoadBalancer
	annotations := externalDNSAnnotations(node, facts.Discovery)
	if annotations == nil {
		annotations = map[string]string{}
	}
	for k, v := range lb.Annotations {
		annotations[k] = v
	}
	if pool := PoolName(node); pool != "" {
		annotations[AnnotationAddressPool] = pool
	}
	if lb.LoadBalancerIP != "" {
		annotations[AnnotationLBIPs] = lb.LoadBalancerIP
	}
	ports := LBPorts(node)
	etp := ExternalTrafficPolicy(lb)
	problems := sharedIPProblems(node, facts.MetalLB.SameIP, ports, etp)
	if len(facts.MetalLB.SameIP) > 0 && len(problems) == 0 {
		annotations[AnnotationAllowSharedIP] = "stellar-" + dashed(lb.LoadBalancerIP)
	}
	meta := owned(node, LoadBalancerServiceName(node), ComponentLoadBalancer)
	meta.Annotations = annotations
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: meta,
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeLoadBalancer,
			ExternalTrafficPolicy: etp,
			Selector:              SelectorLabels(node),
			Ports:                 ports,
		},
	}
	if lb.LoadBalancerClass != "" {
		svc.Spec.LoadBalancerClass = ptr.To(lb.LoadBalancerClass)
	}
	withDiscovery(svc, node, facts.Discovery)
	return svc, problems
}

// LBPorts are the LoadBalancer Service's ports: the node's client ports plus the health port, so
// external load balancers can probe it too.
func LBPorts(node *stellarv1.StellarNode) []corev1.ServicePort {
	ports := ServicePorts(node)
	if enabled, port := HealthCheck(node); enabled {
		ports = append(ports, corev1.ServicePort{Name: ContainerHealth, Port: port, TargetPort: intstr.FromString(ContainerHealth), Protocol: corev1.ProtocolTCP})
	}
	return ports
}

// ExternalTrafficPolicy is the Service's policy, Local by default.
func ExternalTrafficPolicy(lb *stellarv1.LoadBalancerSpec) corev1.ServiceExternalTrafficPolicy {
	if lb.ExternalTrafficPolicy == "" {
		return corev1.ServiceExternalTrafficPolicyLocal
	}
	return lb.ExternalTrafficPolicy
}

// SharedObjectNames are the shared MetalLB objects (pool, peers, password copies, BFD profile) a
// node wants, by kind; foreign objects are not listed. The controller keeps every shared object
// some StellarNode still wants and deletes the rest.
func SharedObjectNames(node *stellarv1.StellarNode, m MetalLBFacts) map[string][]string {
	out := map[string][]string{}
	if !LBEnabled(node) || !node.DeletionTimestamp.IsZero() {
		return out
	}
	if pool := PoolName(node); pool != "" {
		if _, foreign := m.ForeignPools[pool]; !foreign {
			out["IPAddressPool"] = append(out["IPAddressPool"], pool)
		}
	}
	lb := node.Spec.LoadBalancer
	if LBMode(lb) != stellarv1.LoadBalancerBGP || lb.BGP == nil {
		return out
	}
	for _, p := range lb.BGP.Peers {
		out["BGPPeer"] = append(out["BGPPeer"], PeerName(p))
		if p.PasswordSecretRef != nil {
			out["Secret"] = append(out["Secret"], PeerPasswordSecretName(p))
		}
	}
	if profile := BFDProfileName(lb.BGP); profile != "" && m.Mode != BGPModeNative && !m.ForeignBFDProfiles[profile] {
		out["BFDProfile"] = append(out["BFDProfile"], profile)
	}
	return out
}

// sharedIPProblems: MetalLB gives one IP to several Services only with allow-shared-ip, no port
// clash, and — with externalTrafficPolicy Local — identical selectors, which two StellarNodes never
// have. Anycast siblings belong in different clusters.
func sharedIPProblems(node *stellarv1.StellarNode, others []IPClaim, ports []corev1.ServicePort, etp corev1.ServiceExternalTrafficPolicy) []validate.Problem {
	if len(others) == 0 {
		return nil
	}
	names := make([]string, 0, len(others))
	for _, o := range others {
		names = append(names, o.Node)
	}
	sort.Strings(names)
	field := "spec.loadBalancer.loadBalancerIP"
	if etp == corev1.ServiceExternalTrafficPolicyLocal {
		return []validate.Problem{validate.Warnf(field, stellarv1.ReasonIPConflict, fmt.Sprintf(
			"%s is also asked for by %s in this cluster: MetalLB shares an IP between Services with externalTrafficPolicy Local only when they select the same pods; announce anycast siblings from different clusters",
			node.Spec.LoadBalancer.LoadBalancerIP, strings.Join(names, ", ")))}
	}
	for _, o := range others {
		for _, mine := range ports {
			for _, theirs := range o.Ports {
				if mine.Port == theirs.Port && mine.Protocol == theirs.Protocol {
					return []validate.Problem{validate.Warnf(field, stellarv1.ReasonIPConflict, fmt.Sprintf(
						"%s is also used by %s with the same port %d/%s: MetalLB cannot share it", node.Spec.LoadBalancer.LoadBalancerIP, o.Node, mine.Port, mine.Protocol))}
				}
			}
		}
		if o.ExternalTrafficPolicy != etp {
			return []validate.Problem{validate.Warnf(field, stellarv1.ReasonIPConflict, fmt.Sprintf(
				"%s is also used by %s with another externalTrafficPolicy: MetalLB cannot share it", node.Spec.LoadBalancer.LoadBalancerIP, o.Node))}
		}
	}
	return nil
}
