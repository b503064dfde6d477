//go:build !linux

package ha

// machineIDs is unknown off Linux: no process is ever proven dead, so a
// restarted node waits for the lease to age like any other node.
func machineIDs() (boot, pidns string) { return "", "" }

func processAlive(int) bool { return true }
