package soak

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

// islandEnv is island A of a cluster phase's cross-island transactions:
// one lockd node on its own disk store, the transactions' coordinator,
// beside the phase's S3 cluster (island B). A knows B through its RM
// registry: B's backend hash with the balancer as endpoint (any node of
// B relays to the owner of a key). A gets no faults of its own (its kill
// between decision and fan-out is TestCrossIslandTxnCoordinatorKilledAfterDecision);
// B's kills, restarts, partitions and chaos hit both its keys and A's
// prepares and fan-outs to it.
type islandEnv struct {
	n            *node
	url          string // A's API
	hashA, hashB string
}

// newIslandEnv starts island A and registers B (reached at front, whose
// registry names B's backend) with it.
func newIslandEnv(ctx context.Context, p *Profile, ph Phase, outDir, front string) (*islandEnv, error) {
	dir := filepath.Join(outDir, "island-"+ph.Name)
	os.RemoveAll(dir)
	n := &node{bin: p.Lockd, args: nodeArgs(p.Lockd), store: "disk://" + dir,
		logPath: filepath.Join(outDir, "lockd-"+ph.Name+"-island-a.log"), env: []string{"HOME=" + outDir}}
	if err := n.start(); err != nil {
		return nil, err
	}
	is := &islandEnv{n: n, url: "http://" + n.addr}
	fail := func(err error) (*islandEnv, error) {
		is.close()
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var err error
	if is.hashA, err = onlyBackend(cctx, is.url); err != nil {
		return fail(fmt.Errorf("soak: island A: %w", err))
	}
	if is.hashB, err = onlyBackend(cctx, front); err != nil {
		return fail(fmt.Errorf("soak: island B: %w", err))
	}
	if is.hashA == is.hashB {
		return fail(fmt.Errorf("soak: islands A and B share the backend hash %s", is.hashA))
	}
	cli, err := islandClient(is.url)
	if err != nil {
		return fail(err)
	}
	if _, err := cli.TCRMRegister(cctx, api.TCRMRegisterRequest{BackendHash: is.hashB, Endpoint: front}); err != nil {
		return fail(fmt.Errorf("soak: register island B's RM with island A: %w", err))
	}
	return is, nil
}

// onlyBackend waits until the RM registry at base names exactly one
// backend (a deployment registers its own nodes at start) and returns it.
func onlyBackend(ctx context.Context, base string) (string, error) {
	cli, err := islandClient(base)
	if err != nil {
		return "", err
	}
	var last string
	for {
		res, err := cli.TCRMList(ctx)
		switch {
		case err != nil:
			last = err.Error()
		case len(res.Backends) == 1:
			return res.Backends[0].BackendHash, nil
		default:
			last = fmt.Sprintf("%d backends registered", len(res.Backends))
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no single backend in the RM registry at %s: %s", base, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// islandClient is a patient client for the harness's own setup calls.
func islandClient(base string) (*sdk.Client, error) {
	return sdk.NewWithEndpoints([]string{base}, sdk.WithRetries(patientRetries), sdk.WithBackoff(100*time.Millisecond, time.Second),
		sdk.WithDisableMTLS(true), sdk.WithDrainAwareShutdown(false), sdk.WithUserAgent("lockd-soak"))
}

func (is *islandEnv) close() {
	if is.n.running() {
		if err := is.n.stop(15 * time.Second); err != nil {
			is.n.kill9()
		}
	}
}
