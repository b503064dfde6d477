package ha

import (
	"os"
	"sync"

	"github.com/rs/xid"
)

// Self describes this process, with a fresh ID.
func Self(endpoint string) NodeInfo {
	host, _ := os.Hostname()
	boot, pidns := machineIDs()
	return NodeInfo{ID: xid.New().String(), Endpoint: endpoint, Host: host, BootID: boot, PIDNS: pidns, PID: os.Getpid()}
}

// Prober proves recorded nodes dead. A node that cannot be proven dead
// may be alive: only time (the record not changing) says otherwise.
type Prober interface {
	// Dead reports whether the process n is certainly gone.
	Dead(n NodeInfo) bool
}

// LocalProber proves dead the processes of this machine: a record written
// under the same kernel boot and PID namespace whose PID no longer runs
// (or is a zombie, or is this very process, which is new) belongs to a
// process that cannot be serving. This is what lets a node restarted
// after kill -9 take its lease back at once instead of after the TTL.
// Other machines' processes are never proven dead.
type LocalProber struct{}

// Dead implements Prober.
func (LocalProber) Dead(n NodeInfo) bool {
	boot, pidns := machineIDs()
	if boot == "" || pidns == "" || n.BootID != boot || n.PIDNS != pidns || n.PID <= 0 {
		return false
	}
	if n.PID == os.Getpid() {
		// An earlier process that had our PID (a container restarted in
		// the same namespace), unless a controller of this very process
		// (tests run several) wrote it and still runs.
		_, running := localNodes.Load(n.ID)
		return !running
	}
	return !processAlive(n.PID)
}

// localNodes holds the IDs of the controllers of this process that have
// not been closed.
var localNodes sync.Map
