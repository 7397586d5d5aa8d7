//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stellar-operator/stellar-operator/config"
	"github.com/stellar-operator/stellar-operator/internal/controlplane"
	"github.com/stellar-operator/stellar-operator/internal/metallblog"
)

// MetalLB's frr-k8s mode, per region, as frr-k8s' DaemonSet pod runs it:
//
//	FRR (zebra, bgpd, bfdd from Debian) ◀── frr-reload.py ◀── reloader (frr-reloader.sh, ours)
//	      ▲ vtysh                                     ▲ SIGHUP + /etc/frr_reloader/frr.conf
//	frr-k8s' status exporter ──▶ BGPSessionState      frr-k8s daemon ◀── FRRConfiguration ◀── speaker (METALLB_BGP_TYPE=frr-k8s)
//
// frr-k8s and its tools use FRR's default paths (/etc/frr, /var/run/frr, /etc/frr_reloader,
// /usr/bin/vtysh without a pathspace). Every process of a region therefore runs with the region's
// own directories bind-mounted over those paths. `ip netns exec` gives each process a mount
// namespace of its own (a slave of the root one, so nothing propagates back); the bind mounts of
// the same directories make the region's processes see one FRR, and no other region's.

// FRRK8sNamespace is where frr-k8s runs and where MetalLB writes its FRRConfigurations.
const FRRK8sNamespace = "frr-k8s-system"

// BGPType is how a region's speaker speaks BGP (METALLB_BGP_TYPE).
type BGPType string

const (
	BGPNative BGPType = "native"
	BGPFRRK8s BGPType = "frr-k8s"
)

// FRRK8sDir is where hack/e2e-tools.sh puts frr-k8s' daemon, status exporter, reloader script and
// CRDs ($FRR_K8S_DIR overrides).
func FRRK8sDir() string {
	if d := os.Getenv("FRR_K8S_DIR"); d != "" {
		return d
	}
	return filepath.Join(controlplane.CacheRoot(), "frr-k8s-"+FRRK8sVersion)
}

// FRRK8sCRDs reads frr-k8s' CRDs (frrk8s.metallb.io: FRRConfiguration, FRRNodeState,
// BGPSessionState) from FRRK8sDir, as the module ships them but for one fix: their ASN fields
// declare format int32 with maximum 4294967295, the combination kube-apiserver 1.37 refuses objects
// on (MetalLB v0.15.2's own CRDs have it too); such fields are widened to int64.
func FRRK8sCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	dir := filepath.Join(FRRK8sDir(), "crds")
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("frr-k8s' CRDs: %w (run hack/e2e-tools.sh)", err)
	}
	crds, err := config.ReadCRDs(os.DirFS(FRRK8sDir()), "crds")
	if err != nil {
		return nil, err
	}
	for _, crd := range crds {
		for i := range crd.Spec.Versions {
			if v := crd.Spec.Versions[i].Schema; v != nil && v.OpenAPIV3Schema != nil {
				widenInt32(v.OpenAPIV3Schema)
			}
		}
	}
	return crds, nil
}

// widenInt32 turns format int32 into int64 wherever the declared maximum does not fit in an int32.
func widenInt32(s *apiextensionsv1.JSONSchemaProps) {
	if s.Format == "int32" && s.Maximum != nil && *s.Maximum > math.MaxInt32 {
		s.Format = "int64"
	}
	for k, p := range s.Properties {
		widenInt32(&p)
		s.Properties[k] = p
	}
	if s.Items != nil && s.Items.Schema != nil {
		widenInt32(s.Items.Schema)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		widenInt32(s.AdditionalProperties.Schema)
	}
}

// RegionFRR is a region's FRR with frr-k8s: the directories standing for the pod's volumes and
// the processes.
type RegionFRR struct {
	// Dir holds etc (/etc/frr), run (/var/run/frr), reloader (/etc/frr_reloader) and tmp (/tmp).
	Dir string
	// Pod is the (Pending) frr-k8s Pod object: the owner of the region's BGPSessionStates.
	Pod string

	Daemons          map[string]*Process
	Reloader         *Process
	Daemon, Exporter *Process
}

// regionMounts are the region's directories and the paths they cover.
func (f *RegionFRR) regionMounts() [][2]string {
	return [][2]string{
		{filepath.Join(f.Dir, "etc"), "/etc/frr"},
		{filepath.Join(f.Dir, "run"), "/var/run/frr"},
		{filepath.Join(f.Dir, "reloader"), "/etc/frr_reloader"},
		{filepath.Join(f.Dir, "tmp"), "/tmp"},
	}
}

// wrap runs argv with the region's bind mounts in place.
func (f *RegionFRR) wrap(argv ...string) []string {
	var script strings.Builder
	for _, m := range f.regionMounts() {
		fmt.Fprintf(&script, "mount --bind %s %s && ", m[0], m[1])
	}
	script.WriteString(`exec "$@"`)
	return append([]string{"sh", "-c", script.String(), "sh"}, argv...)
}

// VtySocket is the host path of a region daemon's vty socket (Router.Show-style queries need no
// namespace switch).
func (f *RegionFRR) VtySocket(daemon string) string {
	return filepath.Join(f.Dir, "run", daemon+".vty")
}

// frrK8sDaemons are the FRR daemons frr-k8s' configuration needs: BGP, BFD, and zebra under both.
var frrK8sDaemons = []string{"zebra", "bgpd", "bfdd"}

// hostMountPoints are the paths the region mounts cover; a bind mount needs its target to exist.
// /etc/frr_reloader is the only one FRR's package does not create.
func hostMountPoints() error {
	for _, p := range []string{"/etc/frr", "/var/run/frr", "/etc/frr_reloader"} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// startRegionFRR prepares the region's directories and starts FRR and the reloader.
func (tp *Topology) startRegionFRR(ctx context.Context, rn *RegionNode) error {
	if err := hostMountPoints(); err != nil {
		return err
	}
	f := &RegionFRR{Dir: filepath.Join(tp.run.dir, "frr-"+rn.Name), Pod: "frr-k8s-" + rn.Node, Daemons: map[string]*Process{}}
	rn.FRR = f
	for _, m := range f.regionMounts() {
		if err := os.MkdirAll(m[0], 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(f.Dir, "tmp"), 0o1777); err != nil {
		return err
	}
	files := map[string]string{
		"etc/vtysh.conf": "service integrated-vtysh-config\n",
		// What the pod's FRR starts with; frr-k8s' first configuration replaces it.
		"etc/frr.conf": fmt.Sprintf("frr defaults traditional\nhostname %s\nlog timestamp precision 3\n!\n", rn.Node),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(f.Dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	for _, d := range []string{"etc", "run"} {
		if out, err := exec.Command("chown", "-R", "frr:frr", filepath.Join(f.Dir, d)).CombinedOutput(); err != nil {
			return fmt.Errorf("chown: %v: %s", err, out)
		}
	}
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, d := range frrK8sDaemons {
		argv := []string{filepath.Join(FRRDir, d), "-u", "frr", "-g", "frr", "-P", "0", "-f", "/etc/frr/frr.conf"}
		p, err := tp.run.start(d+"-"+rn.Name, rn.Netns, filepath.Join(tp.logDir, d+"-"+rn.Name+".log"), env, f.wrap(argv...)...)
		if err != nil {
			return err
		}
		f.Daemons[d] = p
		if err := waitFor(ctx, 15*time.Second, p, func() bool {
			_, err := os.Stat(f.VtySocket(d))
			return err == nil
		}, d+" of "+rn.Name+" to open its vty socket"); err != nil {
			return err
		}
	}
	// On SIGHUP the reloader applies /etc/frr_reloader/frr.conf with Debian's frr-reload.py and
	// records the result where the frr-k8s daemon reads it. It is ours, not frr-k8s' script: see
	// frr-reloader.sh for what FRR 8.4 needs.
	// Its text is passed, not its path: the region's own /tmp hides a checkout under /tmp.
	script, err := os.ReadFile("frr-reloader.sh")
	if err != nil {
		return err
	}
	f.Reloader, err = tp.run.start("reloader-"+rn.Name, rn.Netns, filepath.Join(tp.logDir, "reloader-"+rn.Name+".log"), env,
		f.wrap("bash", "-c", string(script), "frr-reloader.sh")...)
	if err != nil {
		return err
	}
	tp.watchLog(f.Reloader.Log, metallblog.Reloader)
	return waitFor(ctx, 10*time.Second, f.Reloader, func() bool {
		_, err := os.Stat(filepath.Join(f.Dir, "reloader", "reloader.pid"))
		return err == nil
	}, "frr-k8s' reloader of "+rn.Name+" to write its pid")
}

// startFRRK8s starts the region's frr-k8s daemon and status exporter.
func (tp *Topology) startFRRK8s(rn *RegionNode) error {
	f := rn.FRR
	env := append(slices.Clone(basePath), "KUBECONFIG="+rn.Kubeconfig)
	var err error
	f.Daemon, err = tp.run.start("frr-k8s-"+rn.Name, rn.Netns, filepath.Join(tp.logDir, "frr-k8s-"+rn.Name+".log"), env,
		f.wrap(filepath.Join(FRRK8sDir(), "frr-k8s"), "--node-name="+rn.Node, "--namespace="+FRRK8sNamespace,
			"--metrics-bind-address=127.0.0.1:7573", "--log-level=info")...)
	if err != nil {
		return err
	}
	tp.watchLog(filepath.Join(tp.logDir, "frr-k8s-"+rn.Name+".log"), metallblog.FRRK8s)
	// The exporter polls FRR at least every --poll-interval (2m in frr-k8s' DaemonSet): 2 s here,
	// so that a session's change reaches BGPSessionState while the test watches.
	f.Exporter, err = tp.run.start("frr-status-"+rn.Name, rn.Netns, filepath.Join(tp.logDir, "frr-status-"+rn.Name+".log"), env,
		f.wrap(filepath.Join(FRRK8sDir(), "frr-status"), "--node-name="+rn.Node, "--namespace="+FRRK8sNamespace,
			"--pod-name="+f.Pod, "--poll-interval="+FRRStatusPoll.String(), "--log-level=info")...)
	return err
}

// FRRStatusPoll is frr-k8s' status exporter's --poll-interval in the tests.
var FRRStatusPoll = 2 * time.Second

// frrK8sPod is the Pending Pod standing for the region's frr-k8s DaemonSet pod.
func frrK8sPod(rn *RegionNode, runID string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: rn.FRR.Pod, Namespace: FRRK8sNamespace,
			Labels: map[string]string{"app": "frr-k8s", "component": "frr-k8s", RunLabel: runID},
		},
		Spec: corev1.PodSpec{
			NodeName:   rn.Node,
			Containers: []corev1.Container{{Name: "frr-k8s", Image: "quay.io/metallb/frr-k8s:" + FRRK8sVersion}},
		},
	}
}
