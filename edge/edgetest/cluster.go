package edgetest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/testcluster"
	"github.com/lockdhq/lockd/internal/testservers"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/azure"
	"github.com/lockdhq/lockd/store/s3"
)

// ClusterS3 and ClusterAzure run each test against three lockd processes
// sharing a fresh bucket (versitygw) or container (Azurite), through a
// round-robin TCP balancer. The test client opens a connection per
// request, so consecutive requests of one test land on different nodes.
var (
	ClusterS3 = Backend{Name: "cluster-s3", Cluster: func(t *testing.T) (string, []string) {
		endpoint, access, secret, bucket := testservers.StartS3(t)
		return fmt.Sprintf("s3://%s/%s/edge?insecure=1", endpoint, bucket),
			[]string{"LOCKD_S3_ACCESS_KEY_ID=" + access, "LOCKD_S3_SECRET_ACCESS_KEY=" + secret}
	}}
	ClusterAzure = Backend{Name: "cluster-azure", Cluster: func(t *testing.T) (string, []string) {
		c := testservers.AzureConfig(t)
		return fmt.Sprintf("azure://%s/%s/edge?endpoint=%s", c.Account, c.Container, c.Endpoint),
			[]string{"LOCKD_AZURE_ACCOUNT_KEY=" + c.AccountKey}
	}}
)

// balanced is a cluster seen through its balancer.
type balanced struct {
	*testcluster.Balancer
	cluster *testcluster.Cluster
}

// Close stops the balancer; the nodes stop when the test ends.
func (b balanced) Close(context.Context) error { return b.Balancer.Close() }

// Drain sends every node SIGTERM and waits until each says it drains
// (readyz 503); they drain for --drain-grace (30s here) before they stop.
func (b balanced) Drain() {
	for _, n := range b.cluster.Nodes {
		n.Signal(syscall.SIGTERM)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range b.cluster.Nodes {
		for time.Now().Before(deadline) {
			resp, err := http.Get(n.URL + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusServiceUnavailable {
					break
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// ClusterOf returns the cluster behind s, or nil for an in-process server.
func ClusterOf(s *Server) *testcluster.Cluster {
	if b, ok := s.Node.(balanced); ok {
		return b.cluster
	}
	return nil
}

func startCluster(t *testing.T, b Backend, cfg server.Config) *Server {
	t.Helper()
	url, env := b.Cluster(t)
	if b.Setup != nil {
		b.Setup(t, openURL(t, url, env))
	}
	c := testcluster.Start(t, testcluster.Options{Store: url, Env: env, Args: flagsOf(t, cfg)})
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	return &Server{Node: balanced{Balancer: c.LB, cluster: c}, T: t, Client: client}
}

// flagsOf translates the configuration a test asks for into flags of
// every node. Every short forward goes as a frame over the nodes'
// multiplexed connections (--cluster-mux-threshold 1; by default only
// from the third in flight), so the suite runs through them; the plain
// forward is what the routes that are never multiplexed take.
func flagsOf(t *testing.T, cfg server.Config) []string {
	args := []string{"--drain-grace", "30s", "--cluster-mux-threshold", "1"}
	str := func(flag, v string) {
		if v != "" {
			args = append(args, flag, v)
		}
	}
	num := func(flag string, v int64) {
		if v != 0 {
			args = append(args, flag, strconv.FormatInt(v, 10))
		}
	}
	dur := func(flag string, v time.Duration) {
		if v != 0 {
			args = append(args, flag, v.String())
		}
	}
	str("--default-namespace", cfg.DefaultNamespace)
	num("--json-max", cfg.JSONMax)
	num("--attachment-max", cfg.AttachmentMax)
	num("--payload-spool-mem", int64(cfg.SpoolMemory))
	dur("--default-ttl", cfg.DefaultTTL)
	dur("--max-ttl", cfg.MaxTTL)
	dur("--acquire-block", cfg.AcquireBlock)
	dur("--actor-idle-timeout", cfg.ActorIdle)
	dur("--sweeper-interval", cfg.SweeperInterval)
	dur("--sweeper-grace", cfg.SweepGrace)
	dur("--tc-decision-retention", cfg.TCDecisionRetention)
	if cfg.IndexOff {
		args = append(args, "--disable-index")
	}
	if cfg.Store != "" || cfg.Backend != nil || cfg.Security.Bundle != nil || cfg.Cluster != nil {
		t.Fatalf("edgetest: a cluster backend cannot run a test that sets Store, Backend, Security or Cluster")
	}
	return args
}

// openURL opens the store a cluster backend names, with the credentials
// its nodes get in env (closed when the test ends).
func openURL(t *testing.T, raw string, env []string) store.Store {
	t.Helper()
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	switch {
	case strings.HasPrefix(raw, "s3://"):
		c, err := s3.ParseURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		c.AccessKeyID, c.SecretAccessKey = vars["LOCKD_S3_ACCESS_KEY_ID"], vars["LOCKD_S3_SECRET_ACCESS_KEY"]
		return testservers.OpenS3(t, c)
	case strings.HasPrefix(raw, "azure://"):
		c, err := azure.ParseURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		c.AccountKey = vars["LOCKD_AZURE_ACCOUNT_KEY"]
		return testservers.OpenAzure(t, c)
	}
	t.Fatalf("edgetest: cannot open %s", raw)
	return nil
}
