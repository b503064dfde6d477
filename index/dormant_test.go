package index_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/lockdhq/lockd/index"
)

// indexRecords counts ns's index records in the store.
func (e *env) indexRecords(ns string) int {
	e.t.Helper()
	keys, err := e.st.List(ctx(e.t), ns+"/x/", "", 100_000)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(keys)
}

// A namespace nobody queries costs no index work; the first query builds
// its index and gets complete results, and the index is kept from then on.
func TestDormantNamespaceBuildsOnFirstQuery(t *testing.T) {
	e := newEnv(t, index.Options{})
	commitN(e, "ns", 40, "open")
	if n := e.indexRecords("ns"); n != 0 {
		t.Fatalf("%d index records before any query", n)
	}
	if seq, pending := e.idx.Status("ns"); seq != 40 || !pending {
		t.Fatalf("dormant status: seq %d pending %v", seq, pending)
	}
	// Default configuration (index, no fallback): the query waits for the build.
	if got := join(e.query("ns", mustSel(t, "/i>=35"), index.EngineAuto, 100)); got != "k35,k36,k37,k38,k39" {
		t.Fatalf("first query: %s", got)
	}
	if n := e.indexRecords("ns"); n == 0 {
		t.Fatal("no index records after the first query")
	}
	// New commits are indexed as they come.
	e.put("ns", "k05", `{"status":"closed","i":5}`, nil)
	e.flush("ns")
	if got := join(e.query("ns", mustSel(t, "/status=closed"), index.EngineIndex, 100)); got != "k05" {
		t.Fatalf("after a commit: %s", got)
	}
	// A clean restart keeps the namespace's index ready.
	e.restart()
	if _, pending := e.idx.Status("ns"); pending {
		t.Fatal("woken namespace pending after a clean restart")
	}
	if got := join(e.query("ns", mustSel(t, "/status=closed"), index.EngineIndex, 100)); got != "k05" {
		t.Fatalf("after restart: %s", got)
	}
}

// A dormant namespace stays dormant over restarts and a crash, and a scan
// query does not wake it.
func TestDormantSurvivesRestart(t *testing.T) {
	e := newEnv(t, index.Options{})
	commitN(e, "ns", 10, "open")
	if got := join(e.query("ns", mustSel(t, "/status=open"), index.EngineScan, 100)); got != keysOf(10) {
		t.Fatalf("scan: %s", got)
	}
	e.restart()
	e.crash()
	commitN(e, "ns", 12, "closed")
	if n := e.indexRecords("ns"); n != 0 {
		t.Fatalf("%d index records in a dormant namespace", n)
	}
	if got := join(e.query("ns", mustSel(t, "/status=closed"), index.EngineIndex, 5)); got != keysOf(12) {
		t.Fatalf("first index query: %s", got)
	}
}

// Preferring the index in the namespace configuration builds it at once.
func TestConfigPreferringIndexWakes(t *testing.T) {
	e := newEnv(t, index.Options{})
	commitN(e, "ns", 5, "open")
	if _, _, err := e.idx.SaveConfig(ctx(t), "ns", index.ConfigPatch{Preferred: "index", Fallback: "scan"}, ""); err != nil {
		t.Fatal(err)
	}
	e.flush("ns")
	if _, pending := e.idx.Status("ns"); pending {
		t.Fatal("pending after flush")
	}
	if n := e.indexRecords("ns"); n == 0 {
		t.Fatal("no index records after the configuration asked for the index")
	}
}

// Commits racing with the build are neither lost nor indexed stale: once
// writers stop and the index is flushed, it answers as a scan does.
func TestWakeWhileCommitting(t *testing.T) {
	e := newEnv(t, index.Options{})
	for i := 0; i < 60; i++ {
		e.put("ns", fmt.Sprintf("k%02d", i), fmt.Sprintf(`{"n":%d}`, i%7), nil)
	}
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 80; i++ {
				k := fmt.Sprintf("k%02d", w*20+(i*7)%20) // disjoint keys per writer
				if i%11 == 0 {
					e.put("ns", k, "", nil)
					continue
				}
				e.put("ns", k, fmt.Sprintf(`{"n":%d}`, (i+w)%7), nil)
			}
		}(w)
	}
	for i := 0; i < 5; i++ {
		e.query("ns", mustSel(t, "/n=3"), index.EngineIndex, 10)
	}
	wg.Wait()
	e.flush("ns")
	for v := 0; v < 7; v++ {
		sel := mustSel(t, fmt.Sprintf("/n=%d", v))
		idx, scan := e.query("ns", sel, index.EngineIndex, 9), e.query("ns", sel, index.EngineScan, 9)
		if !equal(idx, scan) {
			t.Fatalf("/n=%d: index %v, scan %v", v, idx, scan)
		}
	}
}
