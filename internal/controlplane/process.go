package controlplane

import (
	"fmt"
	"os"
	"os/exec"
	"time"
)

// process is a started child (kube-controller-manager, MetalLB's controller) writing to its log.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startProcess starts cmd with its output in log, which is closed when the process exits.
func startProcess(cmd *exec.Cmd, log *os.File, what string) (*process, error) {
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", what, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *process) Pid() int { return p.cmd.Process.Pid }

// Running reports whether the process has not exited.
func (p *process) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop interrupts the process and kills it when it has not exited 5 s later.
func (p *process) stop() {
	if !p.Running() {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
