//go:build unix && !linux

package testenv

import "syscall"

// sysProcAttr puts the child in its own process group so Stop can kill it at
// once. Only Linux can have the kernel kill the child when the test binary
// dies; elsewhere a killed test binary may leave the servers running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

const (
	supported = true
	pdeathsig = false
)
