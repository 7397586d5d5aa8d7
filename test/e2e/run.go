//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Everything a run creates outside the Go process carries Prefix: network namespaces
// (se2e-<id>-router, se2e-<id>-<region>), veth ends (se2e<id>r0, se2e<id>n0), FRR pathspaces
// (se2e<id>) and the run directory StateDir/<id>. A run holds an flock on StateDir/<id>/lock
// for its whole life, so Sweep can tell a crashed run's leftovers from a live concurrent run.
const Prefix = "se2e"

// StateDir holds one directory per run: lock, pid list, unix socket, router config and logs.
// It must be readable by the frr user (the router's config and log live there).
var StateDir = "/run/stellar-e2e"

// run is one harness instance's share of the machine: an id, a directory and the processes it
// started. Every process is recorded in <dir>/pids (pid, start time, name) before anything else
// happens, so a later Sweep can kill it even if this process is SIGKILLed.
type run struct {
	id   string
	dir  string
	lock *os.File

	mu    sync.Mutex
	procs []*Process
}

func newRun() (*run, error) {
	b := make([]byte, 2)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	id := hex.EncodeToString(b)
	dir := filepath.Join(StateDir, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// The frr user reads the router config and writes its log under dir.
	if err := os.Chmod(StateDir, 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return &run{id: id, dir: dir, lock: lock}, nil
}

func (r *run) netns(suffix string) string { return Prefix + "-" + r.id + "-" + suffix }
func (r *run) pathspace() string          { return Prefix + r.id }

// Process is a child process started by the harness, usually inside a network namespace.
// Its stdout and stderr go to Log.
type Process struct {
	Name    string
	Netns   string
	Log     string
	Started time.Time

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Running reports whether the process has not exited yet.
func (p *Process) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Exited is closed when the process exits; Err then holds its exit status.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Err is the exit status once Exited is closed.
func (p *Process) Err() error { <-p.done; return p.err }

// Stop sends SIGTERM, waits up to grace, then SIGKILLs the process group.
func (p *Process) Stop(grace time.Duration) {
	if !p.Running() {
		return
	}
	// The whole group: socat's per-connection children too.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// start runs argv (in netns when not empty) with exactly env as its environment.
func (r *run) start(name, netns, logPath string, env []string, argv ...string) (*Process, error) {
	if netns != "" {
		// `ip netns exec` setns()es and execs argv: the pid we get is argv's own.
		argv = append([]string{"ip", "netns", "exec", netns}, argv...)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group (so Stop can kill what it forks) and SIGKILL when the test binary dies.
	// The death signal does not survive the FRR daemons' switch to the frr user: Sweep covers them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{Name: name, Netns: netns, Log: logPath, Started: time.Now(), cmd: cmd, done: make(chan struct{})}
	r.mu.Lock()
	r.procs = append(r.procs, p)
	r.mu.Unlock()
	r.recordPid(cmd.Process.Pid, name)
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

func (r *run) recordPid(pid int, name string) {
	st, err := procStartTime(pid)
	if err != nil {
		return // already gone
	}
	f, err := os.OpenFile(filepath.Join(r.dir, "pids"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%d %d %s\n", pid, st, name)
}

// procStartTime is field 22 of /proc/<pid>/stat: with the pid it identifies a process uniquely.
func procStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, errors.New("malformed stat")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// adoptChildren records this process's children whose command name is one of names (the
// kube-apiserver and etcd that envtest started), so that Sweep kills them should this process die
// without stopping them (`go test -timeout`, SIGKILL).
func (r *run) adoptChildren(names ...string) {
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || end < open {
			continue
		}
		comm := string(b[open+1 : end])
		f := strings.Fields(string(b[end+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(self) || !slices.Contains(names, comm) {
			continue
		}
		r.recordPid(pid, comm)
	}
}

// stopAll stops every process this run started, newest first.
func (r *run) stopAll() {
	r.mu.Lock()
	procs := append([]*Process(nil), r.procs...)
	r.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop(3 * time.Second)
	}
}

// close removes everything the run created: processes, namespaces (and with them the veths),
// the FRR pathspace directory and the run directory. Safe to call more than once.
func (r *run) close() error {
	r.stopAll()
	var errs []error
	if err := sweepRun(r.id, r.dir); err != nil {
		errs = append(errs, err)
	}
	if r.lock != nil {
		r.lock.Close()
		r.lock = nil
	}
	if err := os.RemoveAll(r.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Sweep removes the leftovers of earlier runs that died without cleaning up (their lock is no
// longer held): their processes, namespaces, veths, FRR pathspaces and run directories.
// Resources of live runs are left alone. It only ever touches names starting with Prefix.
func Sweep() error {
	var errs []error
	live := map[string]bool{}
	entries, _ := os.ReadDir(StateDir)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(StateDir, e.Name())
		if held(filepath.Join(dir, "lock")) {
			live[e.Name()] = true
			continue
		}
		if err := sweepRun(e.Name(), dir); err != nil {
			errs = append(errs, err)
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	// Namespaces, veths and pathspaces whose run directory is gone altogether.
	nss, err := listNetns()
	if err != nil {
		errs = append(errs, err)
	}
	for _, ns := range nss {
		if id, ok := runIDOf(ns); ok && !live[id] {
			errs = append(errs, deleteNetns(ns))
		}
	}
	errs = append(errs, sweepLinks(live), sweepPathspaces(live))
	return errors.Join(errs...)
}

func held(lockPath string) bool {
	f, err := os.OpenFile(lockPath, os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return true
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// runIDOf extracts <id> from se2e-<id>-<suffix>.
func runIDOf(ns string) (string, bool) {
	rest, ok := strings.CutPrefix(ns, Prefix+"-")
	if !ok {
		return "", false
	}
	id, _, ok := strings.Cut(rest, "-")
	return id, ok && len(id) == 4
}

// sweepRun kills a run's recorded processes (checking the start time, so a recycled pid is never
// hit) and every process in its namespaces, then deletes the namespaces and the pathspace.
func sweepRun(id, dir string) error {
	var errs []error
	if b, err := os.ReadFile(filepath.Join(dir, "pids")); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			var pid int
			var st uint64
			if _, err := fmt.Sscanf(sc.Text(), "%d %d", &pid, &st); err != nil {
				continue
			}
			if cur, err := procStartTime(pid); err == nil && cur == st {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	nss, err := listNetns()
	if err != nil {
		errs = append(errs, err)
	}
	for _, ns := range nss {
		if nid, ok := runIDOf(ns); ok && nid == id {
			errs = append(errs, deleteNetns(ns))
		}
	}
	errs = append(errs, os.RemoveAll(filepath.Join("/var/run/frr", Prefix+id)))
	return errors.Join(errs...)
}

func listNetns() ([]string, error) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns list: %w", err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], Prefix+"-") {
			names = append(names, f[0])
		}
	}
	return names, nil
}

// deleteNetns kills every process inside ns, then deletes it (which destroys its veth ends).
func deleteNetns(ns string) error {
	for attempt := 0; attempt < 50; attempt++ {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			break
		}
		for _, s := range pids {
			if pid, err := strconv.Atoi(s); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out, err := exec.Command("ip", "netns", "delete", ns).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns delete %s: %v: %s", ns, err, out)
	}
	return nil
}

// sweepLinks deletes root-namespace links named se2e<id>… of runs that are not live (a veth end
// that never made it into its namespace).
func sweepLinks(live map[string]bool) error {
	ifaces, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ifaces {
		name := e.Name()
		if !strings.HasPrefix(name, Prefix) || len(name) < len(Prefix)+4 {
			continue
		}
		if live[name[len(Prefix):len(Prefix)+4]] {
			continue
		}
		if out, err := exec.Command("ip", "link", "delete", name).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip link delete %s: %v: %s", name, err, out))
		}
	}
	return errors.Join(errs...)
}

func sweepPathspaces(live map[string]bool) error {
	entries, _ := os.ReadDir("/var/run/frr")
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, Prefix) || len(name) != len(Prefix)+4 || live[name[len(Prefix):]] {
			continue
		}
		errs = append(errs, os.RemoveAll(filepath.Join("/var/run/frr", name)))
	}
	return errors.Join(errs...)
}

// sh runs a command and returns its combined output as the error text when it fails.
func sh(ctx context.Context, argv ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()+stdout.String()))
	}
	return stdout.String(), nil
}

// execCommand is argv with stdin as its standard input.
func execCommand(ctx context.Context, argv []string, stdin string) *exec.Cmd {
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Stdin = strings.NewReader(stdin)
	return c
}

// inNetns runs argv inside ns.
func inNetns(ctx context.Context, ns string, argv ...string) (string, error) {
	return sh(ctx, append([]string{"ip", "netns", "exec", ns}, argv...)...)
}

// tail returns the last n lines of a file (for failure reports).
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		// controller-runtime's info lines carry whole stack traces.
		if len(l) > 300 {
			lines[i] = l[:300] + "…"
		}
	}
	return strings.Join(lines, "\n")
}
