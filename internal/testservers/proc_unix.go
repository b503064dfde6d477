//go:build unix && !linux

package testservers

import "syscall"

// sysProcAttr puts the server in its own process group, so stop reaches
// its children.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func signalGroup(pid int, sig syscall.Signal) { syscall.Kill(-pid, sig) }
