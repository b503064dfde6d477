package index_test

import (
	"fmt"
	"testing"

	"github.com/lockdhq/lockd/index"
)

func keysOf(n int) string {
	out := ""
	for i := 0; i < n; i++ {
		if i > 0 {
			out += ","
		}
		out += fmt.Sprintf("k%02d", i)
	}
	return out
}

func commitN(e *env, ns string, n int, status string) {
	for i := 0; i < n; i++ {
		e.put(ns, fmt.Sprintf("k%02d", i), fmt.Sprintf(`{"status":%q,"i":%d}`, status, i), nil)
	}
}

func join(keys []string) string {
	out := ""
	for i, k := range keys {
		if i > 0 {
			out += ","
		}
		out += k
	}
	return out
}

func TestCleanRestartNeedsNoReconcile(t *testing.T) {
	e := newEnv(t, index.Options{})
	commitN(e, "ns", 20, "open")
	e.flush("ns")
	seq, _ := e.idx.Status("ns")
	e.restart()
	seq2, pending := e.idx.Status("ns")
	if pending || seq2 != seq {
		t.Fatalf("after clean restart: seq %d→%d pending %v", seq, seq2, pending)
	}
	e.flush("ns")
	if n := index.ReconcilePasses(e.idx); n != 0 {
		t.Fatalf("clean restart ran %d reconcile passes", n)
	}
	// Index engine without refresh: the index is ready at once.
	if got := join(e.query("ns", mustSel(t, "/status=open"), index.EngineIndex, 7)); got != keysOf(20) {
		t.Fatalf("got %s", got)
	}
}

func TestCrashRestartReconciles(t *testing.T) {
	e := newEnv(t, index.Options{})
	commitN(e, "ns", 20, "open")
	e.flush("ns")
	commitN(e, "ns", 10, "closed")
	e.crash()     // the index of the last commits may be lost; meta says open
	e.flush("ns") // waits for the reconcile pass
	if index.ReconcilePasses(e.idx) == 0 {
		t.Fatal("an unclean namespace must be reconciled")
	}
	for _, c := range []struct{ sel, want string }{
		{"/status=open", "k10,k11,k12,k13,k14,k15,k16,k17,k18,k19"},
		{"/status=closed", keysOf(10)},
		{"/i>=18", "k18,k19"},
	} {
		if got := join(e.query("ns", mustSel(t, c.sel), index.EngineIndex, 3)); got != c.want {
			t.Fatalf("%s: got %s want %s", c.sel, got, c.want)
		}
	}
}

func TestQueueOverflowMarksStaleAndRecovers(t *testing.T) {
	e := newEnv(t, index.Options{QueueEvents: 1, QueueBytes: 1})
	commitN(e, "ns", 30, "open")
	for i := 0; i < 30; i += 2 {
		e.put("ns", fmt.Sprintf("k%02d", i), "", nil)
	}
	e.flush("ns")
	want := "k01,k03,k05,k07,k09,k11,k13,k15,k17,k19,k21,k23,k25,k27,k29"
	if got := join(e.query("ns", mustSel(t, "/status=open"), index.EngineIndex, 4)); got != want {
		t.Fatalf("got %s", got)
	}
	if _, pending := e.idx.Status("ns"); pending {
		t.Fatal("still pending after flush")
	}
}

func TestEngineChoice(t *testing.T) {
	e := newEnv(t, index.Options{})
	commitN(e, "ns", 3, "open")
	e.flush("ns")
	c := ctx(t)
	run := func(engine index.Engine, sel string) index.Result {
		res, err := e.idx.Query(c, index.Request{Namespace: "ns", Selector: mustSel(t, sel), Engine: engine}, func(index.Hit) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if r := run(index.EngineAuto, "/status=open"); r.Engine != index.EngineIndex || r.IndexSeq != 3 {
		t.Fatalf("auto: %+v", r)
	}
	if r := run(index.EngineAuto, "contains{field=/status,value=o}"); r.Engine != index.EngineScan {
		t.Fatalf("unindexable: %+v", r)
	}
	if _, _, err := e.idx.SaveConfig(c, "ns", index.ConfigPatch{Preferred: "SCAN"}, ""); err != nil {
		t.Fatal(err)
	}
	if r := run(index.EngineAuto, "/status=open"); r.Engine != index.EngineScan {
		t.Fatalf("preferred scan: %+v", r)
	}
	if r := run(index.EngineIndex, "/status=open"); r.Engine != index.EngineIndex {
		t.Fatalf("explicit index: %+v", r)
	}
}
