package sdk_test

import (
	"errors"
	"testing"
	"time"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

func TestLeaseLoadSaveRelease(t *testing.T) {
	forEachTransport(t, server.Config{}, func(t *testing.T, ts *testServer, c *sdk.Client) {
		ctx := testCtx(t)
		sess, err := c.Acquire(ctx, api.AcquireRequest{Key: "orders", Owner: "w1", TTLSeconds: 10})
		if err != nil {
			t.Fatal(err)
		}
		if sess.FencingToken != 1 || sess.LeaseID == "" || sess.TxnID == "" {
			t.Fatalf("grant = %+v", sess.AcquireResponse)
		}
		var st struct{ Counter int }
		if err := sess.Load(ctx, &st); err != nil || st.Counter != 0 {
			t.Fatalf("load empty: %v %+v", err, st)
		}
		st.Counter = 41
		if err := sess.Save(ctx, st); err != nil {
			t.Fatal(err)
		}
		st.Counter = 0
		if err := sess.Load(ctx, &st); err != nil || st.Counter != 41 {
			t.Fatalf("read-your-writes: %v %+v", err, st)
		}
		if err := sess.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if err := sess.Release(ctx); err != nil {
			t.Fatalf("second release: %v", err)
		}
		if err := sess.Save(ctx, st); !errors.Is(err, sdk.ErrSessionClosed) {
			t.Fatalf("save after release: %v", err)
		}
		g, err := c.Get(ctx, "orders")
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Decode(&st); err != nil || st.Counter != 41 || g.Version != 1 {
			t.Fatalf("public get: %v %+v v=%d", err, st, g.Version)
		}
		// The next holder gets a higher fencing token.
		sess2, err := c.Acquire(ctx, api.AcquireRequest{Key: "orders", Owner: "w2", TTLSeconds: 10, BlockSeconds: sdk.BlockNoWait})
		if err != nil {
			t.Fatal(err)
		}
		if sess2.FencingToken != 2 {
			t.Fatalf("fencing = %d", sess2.FencingToken)
		}
		if err := sess2.Close(); err != nil {
			t.Fatal(err)
		}
		_ = time.Second
	})
}
