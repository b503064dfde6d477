package main_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lockdhq/lockd/internal/testcluster"
	"github.com/lockdhq/lockd/internal/testservers"
	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

type composeFile struct {
	Services map[string]struct {
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
	} `yaml:"services"`
}

// composeNodes reads deploy/compose.yaml and returns its lockd services'
// command lines and environments, in service-name order.
func composeNodes(t *testing.T) (names []string, args [][]string, env []map[string]string) {
	t.Helper()
	data, err := os.ReadFile("../../deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(data, &cf); err != nil {
		t.Fatalf("deploy/compose.yaml: %v", err)
	}
	for name := range cf.Services {
		if strings.HasPrefix(name, "lockd") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		args = append(args, cf.Services[n].Command)
		env = append(env, cf.Services[n].Environment)
	}
	return names, args, env
}

// localize maps a compose command line onto loopback: the store becomes
// the test's bucket on the shared versitygw, /config a shared temporary
// folder, container addresses free loopback ports, and a --join of a
// service the URL that node got. --self is dropped (the listener's URL
// is the node's own on loopback).
func localize(t *testing.T, args []string, store, config string, urls map[string]string) []string {
	t.Helper()
	var out []string
	for i := 0; i < len(args); i++ {
		flag := args[i]
		if i+1 >= len(args) || !strings.HasPrefix(flag, "--") {
			t.Fatalf("compose command: unexpected %q", flag)
		}
		val := args[i+1]
		i++
		switch flag {
		case "--listen", "--cluster-listen", "--metrics-listen":
			val = "127.0.0.1:0"
		case "--store":
			if !strings.HasPrefix(val, "s3://") {
				t.Fatalf("compose nodes should share an S3 store, have %s", val)
			}
			val = store
		case "--bootstrap":
			val = config
		case "--self":
			continue
		case "--join":
			host := strings.TrimSuffix(strings.TrimPrefix(val, "https://"), ":9341")
			u, ok := urls[host]
			if !ok {
				t.Fatalf("--join %s: service %q not started before", val, host)
			}
			val = u
		case "--otlp-endpoint":
			continue // no collector in the test
		}
		out = append(out, flag, val)
	}
	return out
}

// The topology of deploy/compose.yaml, from the binary: its lockd
// services' command lines (store, bootstrap folder, cluster flags) start
// three real processes on a real versitygw bucket; they bootstrap one
// shared CA, join into one cluster, and each serves the SDK over mTLS,
// with writes through one node read through the others.
func TestComposeTopologyServes(t *testing.T) {
	names, cmds, envs := composeNodes(t)
	if len(names) != 3 {
		t.Fatalf("compose file has lockd services %v, want 3", names)
	}
	endpoint, access, secret, bucket := testservers.StartS3(t)
	store := fmt.Sprintf("s3://%s/%s/cluster?insecure=1", endpoint, bucket)
	config := t.TempDir()
	urls := map[string]string{}
	var nodes []*testcluster.Node
	var client *http.Client
	for i, name := range names {
		var env []string
		for k := range envs[i] {
			switch k {
			case "LOCKD_S3_ACCESS_KEY_ID":
				env = append(env, k+"="+access)
			case "LOCKD_S3_SECRET_ACCESS_KEY":
				env = append(env, k+"="+secret)
			default:
				t.Fatalf("%s: unexpected environment %s", name, k)
			}
		}
		// testcluster turns mTLS off unless told: the image serves it.
		args := append(localize(t, cmds[i], store, config, urls), "--disable-mtls=false")
		n := testcluster.StartNode(t, lockdBin, env, args...)
		if client == nil {
			tc, err := tlsutil.LoadClientBundle(filepath.Join(config, tlsutil.ClientFile))
			if err != nil {
				t.Fatalf("bootstrap made no usable client bundle: %v", err)
			}
			client = &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
		}
		n.Client = client
		if !strings.HasPrefix(n.URL, "https://") {
			t.Fatalf("%s serves %s, want mTLS", name, n.URL)
		}
		urls[name] = n.URL
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		testcluster.WaitMembers(t, n, len(nodes))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, n := range nodes {
		cli, err := sdk.New(n.URL, sdk.WithBundle(filepath.Join(config, tlsutil.ClientFile)))
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		key := fmt.Sprintf("compose-%d", i)
		sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: key, Owner: names[i], TTLSeconds: 30})
		if err != nil {
			t.Fatalf("acquire through %s: %v", names[i], err)
		}
		if err := sess.Save(ctx, map[string]string{"via": names[i]}); err != nil {
			t.Fatal(err)
		}
		if err := sess.Release(ctx); err != nil {
			t.Fatal(err)
		}
		next := nodes[(i+1)%len(nodes)]
		other, err := sdk.New(next.URL, sdk.WithBundle(filepath.Join(config, tlsutil.ClientFile)))
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		got, err := other.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]string
		if err := got.Decode(&doc); err != nil || doc["via"] != names[i] {
			t.Fatalf("%s written through %s, read through the next node: %v %v", key, names[i], doc, err)
		}
	}
}
