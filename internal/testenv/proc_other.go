//go:build !unix

package testenv

import (
	"errors"
	"syscall"
)

// The servers need process groups; testenv runs them on Unix only.

func sysProcAttr() *syscall.SysProcAttr { return nil }

const (
	supported = false
	pdeathsig = false
)

func killGroup(int) error    { return errors.New("testenv: unsupported platform") }
func processExists(int) bool { return false }
func groupExists(int) bool   { return false }
