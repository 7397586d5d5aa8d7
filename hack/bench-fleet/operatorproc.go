package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stellar-operator/stellar-operator/internal/controlplane"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat: USER_HZ, which Linux fixes at 100
// for every architecture's user-space ABI.
const userHZ = 100

// buildOperator compiles the operator as shipped (`go build ./cmd/stellar-operator`) into dir.
func buildOperator(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "stellar-operator")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/stellar-operator")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the operator (run from the repository root): %w", err)
	}
	return bin, nil
}

// operatorRun is how the operator process is started.
type operatorRun struct {
	bin        string
	kubeconfig string
	// viaEnv passes the kubeconfig in $KUBECONFIG instead of --kubeconfig.
	viaEnv bool
	image  string
	mode   string
	// extra are the --operator-args, passed through.
	extra []string
}

// operatorProcess is one running operator, a black box with a metrics endpoint.
type operatorProcess struct {
	cmd        *exec.Cmd
	metricsURL string
	logPath    string
	exited     chan struct{}
	waitErr    error
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs the operator, logging to logPath, and waits until its metrics endpoint answers.
func (r operatorRun) start(ctx context.Context, logPath string) (*operatorProcess, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"run",
		"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--health-probe-bind-address", "0",
		"--operator-image", r.image,
		"--metallb-bgp-mode", r.mode,
	}
	env := withoutEnv(os.Environ(), "KUBECONFIG", "POD_NAME", "POD_NAMESPACE", "OPERATOR_IMAGE")
	if r.viaEnv {
		env = append(env, "KUBECONFIG="+r.kubeconfig)
	} else {
		args = append(args, "--kubeconfig", r.kubeconfig)
	}
	args = append(args, r.extra...)
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(r.bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The operator dies with the harness, whatever kills the harness.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting the operator: %w", err)
	}
	p := &operatorProcess{cmd: cmd, metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", port), logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := p.metrics(ctx); err == nil {
			return p, nil
		}
		if err := p.checkAlive(); err != nil {
			return nil, err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, errors.Join(fmt.Errorf("the operator's metrics endpoint never answered%s", p.logTail()), p.stop())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		drop := false
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				drop = true
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// checkAlive is an error when the operator has exited.
func (p *operatorProcess) checkAlive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("the operator exited (%v)%s", p.waitErr, p.logTail())
	default:
		return nil
	}
}

// logTail is the end of the operator's log, for error messages.
func (p *operatorProcess) logTail() string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "; last lines of its log:\n" + strings.Join(lines, "\n")
}

func (p *operatorProcess) metrics(ctx context.Context) (metricFamilies, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.metricsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("operator metrics: HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return parseMetrics(bytes.NewReader(body))
}

// cpuSeconds is the user and system CPU the process used so far (/proc/<pid>/stat).
func (p *operatorProcess) cpuSeconds() (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	return parseCPUSeconds(string(data))
}

// parseCPUSeconds reads utime and stime (fields 14 and 15) from a /proc/<pid>/stat line. The
// command name (field 2) may hold spaces, so fields are counted after its closing parenthesis.
func parseCPUSeconds(stat string) (float64, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("unexpected /proc stat line %q", stat)
	}
	fields := strings.Fields(stat[end+1:])
	// fields[0] is field 3 (state): utime is field 14, stime field 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat line %q", stat)
	}
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (utime + stime) / userHZ, nil
}

// memory is the process's resident set now and at its peak (/proc/<pid>/status VmRSS, VmHWM), in bytes.
func (p *operatorProcess) memory() (rss, peak float64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	return parseMemory(string(data))
}

func parseMemory(status string) (rss, peak float64, err error) {
	found := 0
	for _, line := range strings.Split(status, "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, 0, fmt.Errorf("unexpected %s line %q", key, line)
		}
		kb, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, 0, err
		}
		if key == "VmRSS" {
			rss = kb * 1024
		} else {
			peak = kb * 1024
		}
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("VmRSS or VmHWM missing from /proc/<pid>/status")
	}
	return rss, peak, nil
}

// forbidden are the log lines reporting a request the shipped RBAC refused.
func (p *operatorProcess) forbidden() []string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return nil
	}
	return controlplane.ForbiddenLines(string(data))
}

// errorLines counts the operator's error log lines (zap's JSON or console encoding).
func (p *operatorProcess) errorLines() int {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, `"level":"error"`) || strings.Contains(line, "\tERROR\t") {
			n++
		}
	}
	return n
}

// stop ends the operator as a Pod's termination does (SIGTERM), killing it after 30 s.
func (p *operatorProcess) stop() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(30 * time.Second):
		if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
		<-p.exited
		return errors.New("the operator did not stop within 30 s of SIGTERM and was killed")
	}
}
