//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FRR's daemons and vtysh (Debian package frr).
var (
	FRRDir = "/usr/lib/frr"
	Vtysh  = "vtysh"
)

// RouterNeighbor is one passive BGP neighbour of the router: a region's node address.
type RouterNeighbor struct {
	Address     netip.Addr
	Description string
	// Password is the TCP MD5 password; empty for none.
	Password string
}

// Router is an FRR instance (zebra + bgpd) in its own network namespace and pathspace.
// The speakers dial out only, so every neighbour is passive.
type Router struct {
	Netns     string
	Pathspace string
	ASN       uint32
	RouterID  netip.Addr
	// IBGP makes every neighbour `remote-as internal` (the speakers must use the router's ASN),
	// otherwise `remote-as external`.
	IBGP bool
	// BFD runs bfdd and turns BFD on for every neighbour (FRR's defaults: 300 ms × 3).
	BFD bool
	// GracefulRestart advertises the graceful-restart capability. Without it FRR still helps a
	// restarting neighbour (keeps its paths as stale), unless NoGracefulRestartHelper.
	GracefulRestart bool
	// NoGracefulRestartHelper turns graceful restart off altogether (`bgp graceful-restart-disable`).
	NoGracefulRestartHelper bool
	// Active neighbours are dialled too (every 2 s while down); otherwise the router only listens.
	Active bool
	// Policy is extra global configuration (community lists, route-maps) written before `router bgp`.
	Policy string
	// Import is a route-map applied to what every neighbour announces.
	Import string
	// Dir holds bgpd.conf, zebra.conf and the logs; readable and writable by user frr.
	Dir    string
	BGPLog string

	zebra, bgpd, bfdd *Process
}

func (r *Router) bgpdConfig(neighbors []RouterNeighbor) string {
	var b strings.Builder
	fmt.Fprintf(&b, "frr defaults traditional\nhostname %s\n", r.Netns)
	fmt.Fprintf(&b, "log file %s\nlog timestamp precision 3\n", r.BGPLog)
	// UPDATE reception with millisecond timestamps: the router-side clock of every route change.
	b.WriteString("debug bgp updates in\ndebug bgp neighbor-events\n!\n")
	if r.Policy != "" {
		b.WriteString(strings.TrimRight(r.Policy, "\n") + "\n!\n")
	}
	fmt.Fprintf(&b, "router bgp %d\n bgp router-id %s\n no bgp ebgp-requires-policy\n no bgp default ipv4-unicast\n", r.ASN, r.RouterID)
	if r.GracefulRestart {
		b.WriteString(" bgp graceful-restart\n")
	}
	if r.NoGracefulRestartHelper {
		b.WriteString(" bgp graceful-restart-disable\n")
	}
	remote := "external"
	if r.IBGP {
		remote = "internal"
	}
	for _, n := range neighbors {
		fmt.Fprintf(&b, " neighbor %s remote-as %s\n", n.Address, remote)
		if r.Active {
			fmt.Fprintf(&b, " neighbor %s timers connect 2\n", n.Address)
		} else {
			fmt.Fprintf(&b, " neighbor %s passive\n", n.Address)
		}
		if r.BFD {
			fmt.Fprintf(&b, " neighbor %s bfd\n", n.Address)
		}
		if n.Description != "" {
			fmt.Fprintf(&b, " neighbor %s description %s\n", n.Address, n.Description)
		}
		if n.Password != "" {
			fmt.Fprintf(&b, " neighbor %s password %s\n", n.Address, n.Password)
		}
	}
	b.WriteString(" address-family ipv4 unicast\n")
	for _, n := range neighbors {
		fmt.Fprintf(&b, "  neighbor %s activate\n", n.Address)
		if r.Import != "" {
			fmt.Fprintf(&b, "  neighbor %s route-map %s in\n", n.Address, r.Import)
		}
	}
	b.WriteString(" exit-address-family\nexit\n!\n")
	return b.String()
}

// startRouter writes the configuration and starts zebra, then bgpd, as user frr under pathspace.
func (h *run) startRouter(ctx context.Context, r *Router, neighbors []RouterNeighbor) error {
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return err
	}
	r.BGPLog = filepath.Join(r.Dir, "bgpd.log")
	files := map[string]string{
		"zebra.conf": fmt.Sprintf("hostname %s\nlog timestamp precision 3\n", r.Netns),
		"bfdd.conf":  fmt.Sprintf("hostname %s\nlog file %s\nlog timestamp precision 3\n", r.Netns, filepath.Join(r.Dir, "bfdd.log")),
		"bgpd.conf":  r.bgpdConfig(neighbors),
		"bgpd.log":   "",
	}
	for name, content := range files {
		p := filepath.Join(r.Dir, name)
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			return err
		}
	}
	// The daemons drop to user frr before reading their config and opening their logs.
	if out, err := exec.Command("chown", "-R", "frr:frr", r.Dir).CombinedOutput(); err != nil {
		return fmt.Errorf("chown %s: %v: %s", r.Dir, err, out)
	}
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	common := []string{"-N", r.Pathspace, "-u", "frr", "-g", "frr", "-P", "0"}
	var err error
	r.zebra, err = h.start("zebra", r.Netns, filepath.Join(r.Dir, "zebra.out"), env,
		append(append([]string{filepath.Join(FRRDir, "zebra")}, common...),
			"-f", filepath.Join(r.Dir, "zebra.conf"), "--log", "file:"+filepath.Join(r.Dir, "zebra.log"))...)
	if err != nil {
		return err
	}
	if err := r.waitVty(ctx, "zebra", r.zebra); err != nil {
		return err
	}
	if r.BFD {
		r.bfdd, err = h.start("bfdd", r.Netns, filepath.Join(r.Dir, "bfdd.out"), env,
			append(append([]string{filepath.Join(FRRDir, "bfdd")}, common...), "-f", filepath.Join(r.Dir, "bfdd.conf"))...)
		if err != nil {
			return err
		}
		if err := r.waitVty(ctx, "bfdd", r.bfdd); err != nil {
			return err
		}
	}
	r.bgpd, err = h.start("bgpd", r.Netns, filepath.Join(r.Dir, "bgpd.out"), env,
		append(append([]string{filepath.Join(FRRDir, "bgpd")}, common...), "-f", filepath.Join(r.Dir, "bgpd.conf"))...)
	if err != nil {
		return err
	}
	return r.waitVty(ctx, "bgpd", r.bgpd)
}

// waitVty waits until the daemon answers on its vty socket.
func (r *Router) waitVty(ctx context.Context, daemon string, p *Process) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	sock := r.vtySocket(daemon)
	for {
		if _, err := os.Stat(sock); err == nil {
			if _, err := vtyShow(ctx, sock, "show version"); err == nil {
				return nil
			}
		}
		select {
		case <-p.Exited():
			return fmt.Errorf("%s exited: %v\n%s", daemon, p.Err(), tail(p.Log, 20))
		case <-ctx.Done():
			return fmt.Errorf("%s did not open %s: %w\n%s", daemon, sock, ctx.Err(), tail(p.Log, 20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Vtysh runs commands (each -c) through vtysh inside the router namespace and returns stdout.
// Use it for configuration and human-readable output; Show is much faster for polling.
func (r *Router) Vtysh(ctx context.Context, commands ...string) (string, error) {
	argv := []string{Vtysh, "-N", r.Pathspace}
	for _, c := range commands {
		argv = append(argv, "-c", c)
	}
	out, err := inNetns(ctx, r.Netns, argv...)
	if err != nil {
		return out, err
	}
	// vtysh reports command errors on stdout with exit status 0 in some versions.
	if strings.HasPrefix(out, "% ") {
		return out, fmt.Errorf("vtysh %q: %s", commands, strings.TrimSpace(out))
	}
	return out, nil
}

func (r *Router) vtySocket(daemon string) string {
	return filepath.Join("/var/run/frr", r.Pathspace, daemon+".vty")
}

// Show runs one command directly on bgpd's vty socket (see vtyShow).
func (r *Router) Show(ctx context.Context, command string) (string, error) {
	return vtyShow(ctx, r.vtySocket("bgpd"), command)
}

// ShowBFD runs one command on bfdd's vty socket.
func (r *Router) ShowBFD(ctx context.Context, command string) (string, error) {
	return vtyShow(ctx, r.vtySocket("bfdd"), command)
}

// vtyShow runs one command directly on a daemon's vty socket, the way vtysh talks to the daemons:
// the command NUL-terminated, the answer ending in three NULs and a status byte. The socket lives
// in the filesystem, so no namespace switch is needed: ~0.3 ms instead of ~50 ms for a vtysh run,
// which is what makes 20 ms polling meaningful.
func vtyShow(ctx context.Context, sock, command string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	_ = conn.SetDeadline(deadline)
	// Some daemons (bfdd) install their show commands in the enable node only.
	if _, err := vtyCommand(conn, "enable"); err != nil {
		return "", fmt.Errorf("%s enable: %w", filepath.Base(sock), err)
	}
	out, err := vtyCommand(conn, command)
	if err != nil {
		return out, fmt.Errorf("%s %q: %w", filepath.Base(sock), command, err)
	}
	return out, nil
}

// vtyCommand sends one NUL-terminated command and reads the answer up to its status byte.
func vtyCommand(conn net.Conn, command string) (string, error) {
	if _, err := conn.Write(append([]byte(command), 0)); err != nil {
		return "", err
	}
	var buf []byte
	chunk := make([]byte, 64*1024)
	for {
		n, err := conn.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if l := len(buf); l >= 4 && buf[l-4] == 0 && buf[l-3] == 0 && buf[l-2] == 0 {
			out := string(buf[:l-4])
			if status := buf[l-1]; status != 0 {
				return out, fmt.Errorf("status %d: %s", status, strings.TrimSpace(out))
			}
			return out, nil
		}
		if err != nil {
			return string(buf), err
		}
	}
}

// Configure applies configuration lines under `router bgp <asn>`, e.g.
// "neighbor 198.51.100.2 password s3cret".
func (r *Router) Configure(ctx context.Context, lines ...string) error {
	cmds := append([]string{"configure terminal", fmt.Sprintf("router bgp %d", r.ASN)}, lines...)
	_, err := r.Vtysh(ctx, cmds...)
	return err
}

// SetPassword sets (or with "" removes) the TCP MD5 password of a neighbour. FRR resets the session.
func (r *Router) SetPassword(ctx context.Context, neighbor netip.Addr, password string) error {
	if password == "" {
		return r.Configure(ctx, fmt.Sprintf("no neighbor %s password", neighbor))
	}
	return r.Configure(ctx, fmt.Sprintf("neighbor %s password %s", neighbor, password))
}

// Neighbor is the router's view of one BGP session (`show bgp neighbors json`).
type Neighbor struct {
	Address     string
	State       string `json:"bgpState"`
	Description string `json:"nbrDesc"`
	RemoteAS    uint32 `json:"remoteAs"`
	LocalAS     uint32 `json:"localAs"`
	RemoteID    string `json:"remoteRouterId"`
	// UpMsec is how long the session has been Established.
	UpMsec int64 `json:"bgpTimerUpMsec"`
}

// Established reports whether the session is up.
func (n Neighbor) Established() bool { return n.State == "Established" }

// Neighbors returns every configured neighbour keyed by address.
func (r *Router) Neighbors(ctx context.Context) (map[string]Neighbor, error) {
	out, err := r.Show(ctx, "show bgp neighbors json")
	if err != nil {
		return nil, err
	}
	raw := map[string]json.RawMessage{}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		return nil, fmt.Errorf("parsing show bgp neighbors json: %w: %.300s", err, out)
	}
	res := map[string]Neighbor{}
	for addr, msg := range raw {
		if _, err := netip.ParseAddr(addr); err != nil {
			continue
		}
		var n Neighbor
		if err := json.Unmarshal(msg, &n); err != nil {
			return nil, fmt.Errorf("neighbor %s: %w", addr, err)
		}
		n.Address = addr
		res[addr] = n
	}
	return res, nil
}

// Path is one path of a prefix in the router's BGP table.
type Path struct {
	// Peer is the address of the neighbour the path was learnt from.
	Peer string
	// NextHops are the NEXT_HOP addresses (a native speaker uses its local session address).
	NextHops         []string
	LocalPref        uint32
	HasLocalPref     bool
	Communities      []string
	LargeCommunities []string
	Origin           string
	ASPath           string
	Valid            bool
	Best             bool
	// Stale marks a path kept by graceful restart after its session went down.
	Stale bool
	// SelectionReason is FRR's reason for the best path ("Local Pref", ...), on the best path.
	SelectionReason string
}

// NextHop is the first next hop, or "".
func (p Path) NextHop() string {
	if len(p.NextHops) == 0 {
		return ""
	}
	return p.NextHops[0]
}

// RouteInfo is a prefix's entry in the router's IPv4 unicast table. No paths: not in the table.
type RouteInfo struct {
	Prefix string
	Paths  []Path
}

// BestPath returns the best path.
func (ri RouteInfo) BestPath() (Path, bool) {
	for _, p := range ri.Paths {
		if p.Best {
			return p, true
		}
	}
	return Path{}, false
}

// Via returns the path whose next hop (or peer) is addr.
func (ri RouteInfo) Via(addr string) (Path, bool) {
	for _, p := range ri.Paths {
		if p.Peer == addr || p.NextHop() == addr {
			return p, true
		}
	}
	return Path{}, false
}

// String is a one-line summary, e.g. "192.0.2.100/32: *198.51.100.2 lp=100 [64512:100], ...".
func (ri RouteInfo) String() string {
	if len(ri.Paths) == 0 {
		return ri.Prefix + ": no paths"
	}
	parts := make([]string, 0, len(ri.Paths))
	for _, p := range ri.Paths {
		mark := ""
		if p.Best {
			mark = "*"
		}
		parts = append(parts, fmt.Sprintf("%s%s lp=%d %v", mark, p.NextHop(), p.LocalPref, p.Communities))
	}
	return ri.Prefix + ": " + strings.Join(parts, ", ")
}

type frrPath struct {
	LocPrf *uint32 `json:"locPrf"`
	Valid  bool    `json:"valid"`
	Stale  bool    `json:"stale"`
	Origin string  `json:"origin"`
	ASPath struct {
		String string `json:"string"`
	} `json:"aspath"`
	Bestpath *struct {
		Overall         bool   `json:"overall"`
		SelectionReason string `json:"selectionReason"`
	} `json:"bestpath"`
	Community *struct {
		List []string `json:"list"`
	} `json:"community"`
	LargeCommunity *struct {
		List []string `json:"list"`
	} `json:"largeCommunity"`
	Nexthops []struct {
		IP string `json:"ip"`
	} `json:"nexthops"`
	Peer struct {
		PeerID string `json:"peerId"`
	} `json:"peer"`
}

// Route returns prefix's paths (`show bgp ipv4 unicast <prefix> json`).
func (r *Router) Route(ctx context.Context, prefix string) (RouteInfo, error) {
	out, err := r.Show(ctx, fmt.Sprintf("show bgp ipv4 unicast %s json", prefix))
	if err != nil {
		return RouteInfo{}, err
	}
	return parseRoute(prefix, out)
}

// Prefixes lists every prefix in the router's IPv4 unicast table (`show bgp ipv4 unicast json`).
func (r *Router) Prefixes(ctx context.Context) ([]string, error) {
	out, err := r.Show(ctx, "show bgp ipv4 unicast json")
	if err != nil {
		return nil, err
	}
	var doc struct {
		Routes map[string]json.RawMessage `json:"routes"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		return nil, fmt.Errorf("parsing show bgp ipv4 unicast json: %w: %.300s", err, out)
	}
	var prefixes []string
	for p := range doc.Routes {
		prefixes = append(prefixes, p)
	}
	return prefixes, nil
}

func parseRoute(prefix, out string) (RouteInfo, error) {
	ri := RouteInfo{Prefix: prefix}
	var doc struct {
		Prefix string    `json:"prefix"`
		Paths  []frrPath `json:"paths"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		return ri, fmt.Errorf("parsing route %s: %w: %.300s", prefix, err, out)
	}
	for _, fp := range doc.Paths {
		p := Path{Peer: fp.Peer.PeerID, Valid: fp.Valid, Stale: fp.Stale, Origin: fp.Origin, ASPath: fp.ASPath.String}
		if fp.LocPrf != nil {
			p.LocalPref, p.HasLocalPref = *fp.LocPrf, true
		}
		if fp.Bestpath != nil {
			p.Best, p.SelectionReason = fp.Bestpath.Overall, fp.Bestpath.SelectionReason
		}
		if fp.Community != nil {
			p.Communities = fp.Community.List
		}
		if fp.LargeCommunity != nil {
			p.LargeCommunities = fp.LargeCommunity.List
		}
		for _, nh := range fp.Nexthops {
			p.NextHops = append(p.NextHops, nh.IP)
		}
		ri.Paths = append(ri.Paths, p)
	}
	return ri, nil
}

// MD5Failures is the router namespace's TcpExtTCPMD5Failure counter: segments dropped because
// their MD5 signature was wrong (FRR itself logs nothing about a password mismatch).
func (r *Router) MD5Failures(ctx context.Context) (uint64, error) {
	out, err := inNetns(ctx, r.Netns, "cat", "/proc/net/netstat")
	if err != nil {
		return 0, err
	}
	lines := strings.Split(out, "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != "TcpExt:" || len(values) != len(names) {
			continue
		}
		for j, n := range names {
			if n == "TCPMD5Failure" {
				return strconv.ParseUint(values[j], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("TCPMD5Failure not found in /proc/net/netstat")
}

// UpdateEvent is one received UPDATE for a prefix, from bgpd's log (`debug bgp updates in`).
type UpdateEvent struct {
	Time      time.Time
	Peer      string
	Prefix    string
	Withdrawn bool
	Line      string
}

// frrTimeLayout is bgpd's timestamp with `log timestamp precision 3`, in local time.
const frrTimeLayout = "2006/01/02 15:04:05.000"

// UpdateEvents parses bgpd's log for UPDATEs about prefix received at or after since.
func (r *Router) UpdateEvents(prefix string, since time.Time) ([]UpdateEvent, error) {
	f, err := os.Open(r.BGPLog)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var evs []UpdateEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if len(line) < len(frrTimeLayout) || !strings.Contains(line, " rcvd ") || !strings.Contains(line, prefix) {
			continue
		}
		ts, err := time.ParseInLocation(frrTimeLayout, line[:len(frrTimeLayout)], time.Local)
		if err != nil || ts.Before(since.Truncate(time.Millisecond)) {
			continue
		}
		ev := UpdateEvent{Time: ts, Prefix: prefix, Withdrawn: strings.Contains(line, "withdrawn"), Line: line}
		// "... BGP: [XXXXX-XXXXX] 198.51.100.2(us-east) rcvd ..." (the description is optional).
		if i := strings.Index(line, "] "); i >= 0 {
			fields := strings.Fields(line[i+2:])
			if len(fields) > 0 {
				peer, _, _ := strings.Cut(fields[0], "(")
				ev.Peer = peer
			}
		}
		evs = append(evs, ev)
	}
	return evs, sc.Err()
}
