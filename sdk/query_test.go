package sdk_test

import (
	"fmt"
	"sort"
	"testing"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

// seedReports commits n documents {"status":…, "count": i}.
func seedReports(t *testing.T, c *sdk.Client, n int) {
	t.Helper()
	ctx := testCtx(t)
	for i := range n {
		status := "staged"
		if i%2 == 1 {
			status = "done"
		}
		sess, err := c.Acquire(ctx, api.AcquireRequest{Key: fmt.Sprintf("report/%02d", i), Owner: "seed", TTLSeconds: 10})
		if err != nil {
			t.Fatal(err)
		}
		if err := sess.Save(ctx, map[string]any{"status": status, "count": i}); err != nil {
			t.Fatal(err)
		}
		if err := sess.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestQueryKeysAndDocuments(t *testing.T) {
	forEachTransport(t, server.Config{}, func(t *testing.T, ts *testServer, c *sdk.Client) {
		ctx := testCtx(t)
		seedReports(t, c, 10)
		q, err := c.Query(ctx, sdk.QueryRequest{LQL: `/status="staged"`, Refresh: "wait_for"})
		if err != nil {
			t.Fatal(err)
		}
		keys, err := q.Keys()
		q.Close()
		sort.Strings(keys)
		if err != nil || q.Mode() != api.QueryReturnKeys || len(keys) != 5 || keys[0] != "report/00" {
			t.Fatalf("keys: %v %v", err, keys)
		}
		sel := map[string]any{"range": map[string]any{"field": "/count", "gte": 6}}
		q, err = c.Query(ctx, sdk.QueryRequest{Selector: sel, Return: api.QueryReturnDocuments, Refresh: "wait_for"})
		if err != nil {
			t.Fatal(err)
		}
		var counts []int
		err = q.ForEach(func(r sdk.QueryRow) error {
			var d struct{ Count int }
			if err := r.DocumentInto(&d); err != nil {
				return err
			}
			if r.Key != fmt.Sprintf("report/%02d", d.Count) || r.Version != 1 {
				return fmt.Errorf("row %+v", r)
			}
			counts = append(counts, d.Count)
			return nil
		})
		q.Close()
		sort.Ints(counts)
		if err != nil || q.Mode() != api.QueryReturnDocuments || fmt.Sprint(counts) != "[6 7 8 9]" {
			t.Fatalf("documents: %v %v", err, counts)
		}
		if q.Metadata()["engine"] == "" {
			t.Fatalf("no engine in trailer metadata: %v", q.Metadata())
		}
		// Paging with a cursor visits every key once.
		var all []string
		cursor := ""
		for range 10 {
			q, err := c.Query(ctx, sdk.QueryRequest{LQL: "/count>=0", Limit: 3, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			page, _ := q.Keys()
			q.Close()
			all = append(all, page...)
			if cursor = q.Cursor(); cursor == "" {
				break
			}
		}
		if len(all) != 10 {
			t.Fatalf("paged keys: %v", all)
		}
		if _, err := c.Query(ctx, sdk.QueryRequest{LQL: "/broken"}); sdk.ErrorCode(err) != api.CodeInvalidSelector {
			t.Fatalf("bad selector: %v", err)
		}
	})
}

func TestMutateAndNamespaceConfig(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	c := newClient(t, ts.Endpoint, sdk.WithDefaultNamespace("ledger"))
	ctx := testCtx(t)
	sess, err := c.Acquire(ctx, api.AcquireRequest{Key: "book", Owner: "w", TTLSeconds: 10})
	if err != nil {
		t.Fatal(err)
	}
	if sess.Namespace != "ledger" {
		t.Fatalf("namespace = %q", sess.Namespace)
	}
	if err := sess.Save(ctx, map[string]any{"count": 1}); err != nil {
		t.Fatal(err)
	}
	res, err := sess.Mutate(ctx, []string{"/count++", `/status="ready"`, `/data{/hello key="mars traveler"}`})
	if err != nil || res.NewVersion == 0 {
		t.Fatalf("mutate: %v %+v", err, res)
	}
	var doc map[string]any
	if err := sess.Load(ctx, &doc); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(doc["count"]) != "2" || doc["status"] != "ready" || doc["data"].(map[string]any)["hello key"] != "mars traveler" {
		t.Fatalf("mutated doc = %v", doc)
	}
	if _, err := sess.Mutate(ctx, []string{"/broken"}); sdk.ErrorCode(err) != api.CodeInvalidMutations {
		t.Fatalf("bad mutation: %v", err)
	}
	sess.Close()
	cfg, etag, err := c.NamespaceConfig(ctx, "")
	if err != nil || cfg.Namespace != "ledger" {
		t.Fatalf("namespace config: %v %+v", err, cfg)
	}
	upd, etag1, err := c.UpdateNamespaceConfig(ctx, api.NamespaceConfigRequest{Query: api.NamespaceQueryConfig{PreferredEngine: "scan", FallbackEngine: "none"}}, etag)
	if err != nil || upd.Query.PreferredEngine != "scan" || etag1 == "" {
		t.Fatalf("update namespace config: %v %+v %q", err, upd, etag1)
	}
	if _, _, err := c.UpdateNamespaceConfig(ctx, api.NamespaceConfigRequest{Query: api.NamespaceQueryConfig{PreferredEngine: "index"}}, etag1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.UpdateNamespaceConfig(ctx, api.NamespaceConfigRequest{Query: api.NamespaceQueryConfig{PreferredEngine: "scan"}}, etag1); sdk.ErrorCode(err) != api.CodeNamespaceConfigConflict {
		t.Fatalf("stale If-Match: %v", err)
	}
	if f, err := c.FlushIndex(ctx, "", ""); err != nil || !f.Flushed {
		t.Fatalf("flush: %v %+v", err, f)
	}
}
