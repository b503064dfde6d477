package main_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/internal/testcluster"
	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk/api"
)

// Under mTLS the gossip key comes from the server bundle: nodes with the
// cluster's bundle join, a node with another CA's bundle or with none
// cannot, whatever seed it is given. A request forwarded between nodes is
// authorized as the original client (its namespace claims), and a client
// cannot pass itself off as forwarded.
func TestClusterMTLSJoinAndForwardedIdentity(t *testing.T) {
	home, other := t.TempDir(), t.TempDir()
	dir, otherDir := filepath.Join(home, ".lockd"), filepath.Join(other, ".lockd")
	lockdCmd(t, home, false, "auth", "new", "ca")
	lockdCmd(t, home, false, "auth", "new", "server")
	lockdCmd(t, home, false, "auth", "new", "client", "-n", "orders=rw")
	lockdCmd(t, other, false, "auth", "new", "ca")
	lockdCmd(t, other, false, "auth", "new", "server")
	lockdCmd(t, other, false, "auth", "new", "client", "-n", "ALL=rw")
	client := bundleClient(t, filepath.Join(dir, "client.pem"))
	secure := []string{"--store", "mem://", "--disable-mtls=false", "--bundle", filepath.Join(dir, "server.pem")}
	start := func(args ...string) *testcluster.Node {
		n := testcluster.StartNode(t, lockdBin, []string{"HOME=" + home}, args...)
		n.Client = client
		return n
	}
	n1 := start(append(secure, "--cluster-listen", "127.0.0.1:0")...)
	n2 := start(append(secure, "--join", n1.URL)...) // an API URL seed, resolved over mTLS
	testcluster.WaitMembers(t, n1, 2)
	testcluster.WaitMembers(t, n2, 2)

	intruder := testcluster.StartNode(t, lockdBin, []string{"HOME=" + other}, "--store", "mem://", "--disable-mtls=false",
		"--bundle", filepath.Join(otherDir, "server.pem"), "--join", n1.Gossip)
	intruder.Client = bundleClient(t, filepath.Join(otherDir, "client.pem"))
	plain := testcluster.StartNode(t, lockdBin, nil, "--store", "mem://", "--join", n1.Gossip)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range []*testcluster.Node{intruder, plain} {
			if resp, err := n.Client.Get(n.URL + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode != 503 {
					t.Fatalf("node %s without the cluster's bundle is ready: %d", n.URL, resp.StatusCode)
				}
			}
		}
		ms, _, err := testcluster.Members(n1)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 2 {
			t.Fatalf("the cluster lists a node without its bundle: %+v", ms)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A key in "orders" that n2 owns, asked through n1: forwarded, and
	// authorized by the client's claims (the forwarding server has none).
	key := ""
	for i := 0; i < 200 && key == ""; i++ {
		k := fmt.Sprint("fwd-", i)
		resp, err := client.Get(n1.URL + "/v1/describe?namespace=orders&key=" + k)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 && resp.Header.Get(api.HeaderServedBy) == n2.ID {
			key = k
		}
	}
	if key == "" {
		t.Fatal("no key of orders owned by n2")
	}
	st, body, err := call(client, "POST", n1.URL+"/v1/acquire", strings.NewReader(`{"namespace":"orders","key":"`+key+`","owner":"w"}`))
	if err != nil || st != 200 {
		t.Fatalf("forwarded acquire: %d %s %v", st, body, err)
	}
	var a api.AcquireResponse
	json.Unmarshal(body, &a)
	if !strings.HasPrefix(a.Owner, "w/") {
		t.Fatalf("owner %q does not name the client certificate", a.Owner)
	}
	// Posing as a forwarding node, with a server's certificate as the
	// "original client", is ignored: the client is still the client.
	sb, err := tlsutil.LoadServerBundle(filepath.Join(dir, "server.pem"))
	if err != nil {
		t.Fatal(err)
	}
	spoof := base64.StdEncoding.EncodeToString(sb.Leaf.Raw)
	for _, node := range []*testcluster.Node{n1, n2} {
		req, _ := http.NewRequest("POST", node.URL+"/v1/acquire", strings.NewReader(`{"namespace":"default","key":"`+key+`","owner":"w"}`))
		req.Header.Set(api.HeaderForwardedBy, "someone")
		req.Header.Set(api.HeaderForwardedClient, spoof)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e api.ErrorResponse
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != 403 || e.Error != api.CodeNamespaceForbidden {
			t.Fatalf("spoofed forward through %s: %d %+v", node.URL, resp.StatusCode, e)
		}
	}
}
