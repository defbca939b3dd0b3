package testenv

import "syscall"

// sysProcAttr puts the child in its own process group, so Stop can kill it
// and anything it spawned at once, and has the kernel SIGKILL it when the
// test binary dies, even on a panic or SIGKILL. (Pdeathsig fires when the
// thread that forked exits; the Go runtime only retires threads of goroutines
// that exit while locked with LockOSThread, which tests do not do.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

const (
	supported = true
	// pdeathsig: servers die with the test binary.
	pdeathsig = true
)
