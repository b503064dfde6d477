package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/lockdhq/lockd/sdk/api"
)

// Every node indexes the commits it makes into the one shared index, so
// an index query through any node has seen them all, and its index_seq
// is the sum over the nodes, as the flush reports: also through a node
// that made none of the commits (its own sequence is 0).
func TestClusterQueryIndexSeqCountsEveryNode(t *testing.T) {
	for name, open := range objectStores(t) {
		t.Run(name, func(t *testing.T) {
			c := startCluster(t, open)
			owner := c.Nodes[0]
			for i := range 3 {
				key, others := keyOwnedBy(t, c, owner, fmt.Sprintf("iseq%d", i))
				h, err := acquireKey(others[0].URL, key)
				if err != nil {
					t.Fatal(err)
				}
				if err := h.update(others[0].URL, `{"kind":"iseq"}`); err != nil {
					t.Fatal(err)
				}
				if err := h.release(others[0].URL); err != nil {
					t.Fatal(err)
				}
			}
			st, body, err := post(c.Nodes[1].URL, "/v1/index/flush?namespace=default", nil)
			var fr api.IndexFlushResponse
			if err != nil || st != 200 || json.Unmarshal(body, &fr) != nil {
				t.Fatalf("flush: %d %s %v", st, body, err)
			}
			if fr.IndexSeq < 3 {
				t.Fatalf("flush index_seq %d after 3 commits: %s", fr.IndexSeq, body)
			}
			for _, n := range []int{2, 1, 0, 2} {
				st, body, err := post(c.Nodes[n].URL, "/v1/query?engine=index",
					`{"namespace":"default","selector":{"eq":{"field":"/kind","value":"iseq"}}}`)
				var qr api.QueryResponse
				if err != nil || st != 200 || json.Unmarshal(body, &qr) != nil {
					t.Fatalf("query via node %d: %d %s %v", n, st, body, err)
				}
				if len(qr.Keys) != 3 || qr.IndexSeq != fr.IndexSeq {
					t.Fatalf("query via node %d: keys %v index_seq %d, want 3 keys and the flush's %d", n, qr.Keys, qr.IndexSeq, fr.IndexSeq)
				}
			}
			// Streamed documents carry it as a trailer.
			resp, err := http.Post(c.Nodes[2].URL+"/v1/query?engine=index&return=documents", "application/json",
				strings.NewReader(`{"namespace":"default","selector":{"eq":{"field":"/kind","value":"iseq"}}}`))
			if err != nil {
				t.Fatal(err)
			}
			rows, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := resp.Trailer.Get(api.HeaderQueryIndexSeq); resp.StatusCode != 200 || bytes.Count(rows, []byte("\n")) != 3 || got != strconv.FormatInt(fr.IndexSeq, 10) {
				t.Fatalf("documents via node 2: %d, %d rows, index_seq trailer %q, want %d", resp.StatusCode, bytes.Count(rows, []byte("\n")), got, fr.IndexSeq)
			}
		})
	}
}
