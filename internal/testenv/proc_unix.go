//go:build unix

package testenv

import (
	"errors"
	"syscall"
)

// killGroup sends SIGKILL to the process group led by pid (the child was
// started with Setpgid, so its group id is its pid).
func killGroup(pid int) error {
	err := syscall.Kill(-pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// processExists reports whether a process with this pid exists (a zombie
// counts until it is reaped).
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// groupExists reports whether any process is left in the process group.
func groupExists(pgid int) bool {
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
