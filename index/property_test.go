package index_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"sort"
	"testing"

	"github.com/lockdhq/lockd/index"
	"github.com/lockdhq/lockd/index/lql"
)

// seedFlag replays a failing property run: go test ./index -run Property -seed=N.
var seedFlag = flag.Int64("seed", 20250601, "seed of the property test")

// TestPropertyEnginesMatchNaive commits random documents (with updates,
// removals and hidden keys) and checks, for random selectors, that the
// index engine, the scan engine and a naive evaluation over the test's
// own copy of the documents return the same keys, with several page
// sizes.
func TestPropertyEnginesMatchNaive(t *testing.T) {
	t.Run("plain", func(t *testing.T) { enginesMatchNaive(t, index.Options{}) })
	// With an encrypted store the index seals its values: equality stays
	// indexed, ranges and prefixes fall back to scanning; results agree.
	t.Run("sealed", func(t *testing.T) {
		enginesMatchNaive(t, index.Options{SealKey: []byte("0123456789abcdef0123456789abcdef")})
	})
}

func enginesMatchNaive(t *testing.T, opt index.Options) {
	seed := *seedFlag
	rng := rand.New(rand.NewSource(seed))
	e := newEnv(t, opt)
	docs := map[string]any{}
	nDocs, nSel := 150, 250
	if testing.Short() {
		nDocs, nSel = 60, 80
	}
	for i := 0; i < nDocs*2; i++ {
		key := fmt.Sprintf("k%03d", rng.Intn(nDocs))
		switch r := rng.Intn(10); {
		case r == 0:
			e.put("p", key, "", nil)
			delete(docs, key)
		case r == 1:
			yes := true
			e.put("p", key, `{"hidden":1}`, &yes)
			delete(docs, key)
		default:
			doc := randDoc(rng)
			b, _ := json.Marshal(doc)
			no := false
			e.put("p", key, string(b), &no)
			docs[key] = roundTrip(b)
		}
	}
	e.flush("p")
	for i := 0; i < nSel; i++ {
		sel, err := lql.NewSelector(randNode(rng, 0))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		want := map[string]bool{}
		for k, d := range docs {
			want[k] = sel.Match(d)
		}
		naive := sorted(want)
		limit := []int{1, 7, 1000}[rng.Intn(3)]
		idx := e.query("p", sel, index.EngineIndex, limit)
		scan := e.query("p", sel, index.EngineScan, limit)
		if !equal(idx, naive) || !equal(scan, naive) {
			t.Fatalf("seed %d selector %s limit %d:\nindex %v\nscan  %v\nnaive %v", seed, sel, limit, idx, scan, naive)
		}
	}
}

func roundTrip(b []byte) any {
	doc, _ := decode(b)
	return doc
}

var (
	strs  = []string{"a", "ab", "abc", "b", "", "5", "true", "2025-01-01", "2025-01-01T00:00:00Z", "2025-06-01T12:00:00+02:00"}
	nums  = []string{"0", "-1", "1", "1.5", "5", "5.0", "1e3", "-2.5", "9007199254740993"}
	paths = []string{"/a", "/b", "/c/d", "/c/e", "/l/0", "/l/1"}
)

func randScalar(rng *rand.Rand) any {
	switch rng.Intn(5) {
	case 0:
		return strs[rng.Intn(len(strs))]
	case 1:
		return json.Number(nums[rng.Intn(len(nums))])
	case 2:
		return rng.Intn(2) == 0
	case 3:
		return nil
	}
	return json.Number(fmt.Sprint(rng.Intn(10)))
}

func randDoc(rng *rand.Rand) map[string]any {
	d := map[string]any{}
	if rng.Intn(4) > 0 {
		d["a"] = randScalar(rng)
	}
	if rng.Intn(4) > 0 {
		d["b"] = randScalar(rng)
	}
	if rng.Intn(3) > 0 {
		c := map[string]any{"d": randScalar(rng)}
		if rng.Intn(2) == 0 {
			c["e"] = randScalar(rng)
		}
		d["c"] = c
	} else if rng.Intn(2) == 0 {
		d["c"] = randScalar(rng)
	}
	if rng.Intn(2) == 0 {
		l := []any{}
		for i := rng.Intn(3); i > 0; i-- {
			l = append(l, randScalar(rng))
		}
		d["l"] = l
	}
	return d
}

func randLit(rng *rand.Rand) lql.Literal {
	switch rng.Intn(5) {
	case 0, 1:
		return lql.String(strs[rng.Intn(len(strs))])
	case 2:
		return lql.Number(json.Number(nums[rng.Intn(len(nums))]))
	case 3:
		return lql.Bool(rng.Intn(2) == 0)
	}
	return lql.Null()
}

func randPath(rng *rand.Rand) lql.Path {
	p, _ := lql.ParsePath(paths[rng.Intn(len(paths))])
	return p
}

func randRange(rng *rand.Rand, f lql.Path) lql.Node {
	var pool func() lql.Literal
	switch rng.Intn(3) {
	case 0:
		pool = func() lql.Literal { return lql.Number(json.Number(nums[rng.Intn(len(nums))])) }
	case 1:
		ts := []string{"2024-12-31", "2025-01-01", "2025-03-01T00:00:00Z", "2026-01-01"}
		pool = func() lql.Literal { return lql.String(ts[rng.Intn(len(ts))]) }
	default:
		ss := []string{"a", "ab", "b", "c"}
		pool = func() lql.Literal { return lql.String(ss[rng.Intn(len(ss))]) }
	}
	r := lql.Range{Field: f}
	for r.GT == nil && r.GTE == nil && r.LT == nil && r.LTE == nil {
		for _, b := range []**lql.Literal{&r.GT, &r.GTE, &r.LT, &r.LTE} {
			if rng.Intn(3) == 0 {
				l := pool()
				*b = &l
			}
		}
	}
	return r
}

func randNode(rng *rand.Rand, depth int) lql.Node {
	n := rng.Intn(12)
	if depth >= 3 {
		n = rng.Intn(7)
	}
	f := randPath(rng)
	switch n {
	case 0, 1:
		return lql.Eq{Field: f, Value: randLit(rng)}
	case 2:
		return lql.In{Field: f, Values: []lql.Literal{randLit(rng), randLit(rng)}}
	case 3:
		return randRange(rng, f)
	case 4:
		return lql.Exists{Field: f}
	case 5:
		return lql.Prefix{Field: f, Values: []string{strs[rng.Intn(3)]}, IgnoreCase: rng.Intn(4) == 0}
	case 6:
		return lql.Contains{Field: f, Values: []string{"b"}}
	case 7, 8:
		return lql.And{Children: []lql.Node{randNode(rng, depth+1), randNode(rng, depth+1)}}
	case 9, 10:
		return lql.Or{Children: []lql.Node{randNode(rng, depth+1), randNode(rng, depth+1)}}
	}
	return lql.Not{Child: randNode(rng, depth+1)}
}

func decode(b []byte) (any, error) {
	var v any
	d := json.NewDecoder(bytesReader(b))
	d.UseNumber()
	err := d.Decode(&v)
	return v, err
}

var _ = sort.Strings
