package lql

import (
	"encoding/json"
	"flag"
	"math/big"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var propertySeed = flag.Uint64("lql.seed", 0, "replay TestPropertyMatchesNaive with this seed")

// TestPropertyMatchesNaive evaluates random selectors on random documents
// with Match and with a deliberately naive evaluator written from the
// package documentation (big.Rat numbers, its own pointer walk), and
// checks that the text and JSON renderings of each selector behave the
// same. A failure prints its seed; -lql.seed=N replays it.
func TestPropertyMatchesNaive(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	switch {
	case *propertySeed != 0:
		seed = *propertySeed
	case testing.Short():
		seed = 1
	}
	r := rand.New(rand.NewPCG(seed, 7))
	g := &gen{r: r}
	for i := 0; i < 3000; i++ {
		docs := make([]any, 20)
		g.hints = g.hints[:0]
		for j := range docs {
			docs[j] = g.doc(3)
		}
		root := g.node(3)
		sel, err := NewSelector(root)
		if err != nil {
			t.Fatalf("seed %d: NewSelector(%#v): %v", seed, root, err)
		}
		text, err := ParseSelector(sel.String())
		if err != nil {
			t.Fatalf("seed %d: reparse %q: %v", seed, sel.String(), err)
		}
		wire, _ := json.Marshal(sel)
		fromJSON, err := ParseJSONSelector(wire)
		if err != nil {
			t.Fatalf("seed %d: ParseJSONSelector(%s): %v", seed, wire, err)
		}
		for _, doc := range docs {
			want := naiveMatch(root, doc)
			if got := sel.Match(doc); got != want {
				t.Fatalf("seed %d: %s on %s: Match = %v, naive = %v", seed, sel, mustJSON(t, doc), got, want)
			}
			if text.Match(doc) != want || fromJSON.Match(doc) != want {
				t.Fatalf("seed %d: %s on %s: text/JSON forms disagree", seed, sel, mustJSON(t, doc))
			}
			if got, err := sel.MatchJSON([]byte(mustJSON(t, doc))); err != nil || got != want {
				t.Fatalf("seed %d: %s on %s: MatchJSON = %v, %v", seed, sel, mustJSON(t, doc), got, err)
			}
		}
	}
}

// gen makes random selectors and documents. Scalars of generated
// documents are kept in hints and reused as literals, so that selectors
// often match.
type gen struct {
	r     *rand.Rand
	hints []any
}

var (
	genKeys    = []string{"a", "b", "x y", "~", "/"}
	genNumbers = []string{"0", "-0", "1", "-3", "2", "2.0", "-1.5", "0.5", "1e3", "1000", "9007199254740993", "9007199254740992", "9007199254740992.0"}
	genStrings = []string{"", "a", "ab", "B", "b", "10", "2.0", "1e3", "true", "false", "null", "abc def",
		"2025-01-01", "2025-01-01T00:00:00Z", "2025-01-01T01:00:00+01:00", "2024-12-31T23:59:59.5Z"}
)

func (g *gen) pick(s []string) string { return s[g.r.IntN(len(s))] }

func (g *gen) path() Path {
	var segs []string
	for n := 1 + g.r.IntN(3)*g.r.IntN(2); n > 0; n-- {
		if g.r.IntN(5) == 0 {
			segs = append(segs, strconv.Itoa(g.r.IntN(2)))
		} else {
			segs = append(segs, g.pick(genKeys))
		}
	}
	return PathOf(segs...)
}

func (g *gen) literal() Literal {
	if len(g.hints) > 0 && g.r.IntN(3) == 0 {
		if l, ok := literalFromJSON(g.hints[g.r.IntN(len(g.hints))]); ok {
			return l
		}
	}
	switch g.r.IntN(6) {
	case 0, 1:
		return Number(json.Number(g.pick(genNumbers)))
	case 2, 3:
		return String(g.pick(genStrings))
	case 4:
		return Bool(g.r.IntN(2) == 0)
	}
	return Null()
}

func (g *gen) node(depth int) Node {
	k := g.r.IntN(9)
	if depth == 0 {
		k = 3 + g.r.IntN(6)
	}
	switch k {
	case 0:
		return And{Children: g.nodes(depth)}
	case 1:
		return Or{Children: g.nodes(depth)}
	case 2:
		return Not{Child: g.node(depth - 1)}
	case 3:
		return Eq{Field: g.path(), Value: g.literal()}
	case 4:
		n := In{Field: g.path()}
		for c := 1 + g.r.IntN(3); c > 0; c-- {
			n.Values = append(n.Values, g.literal())
		}
		return n
	case 5:
		return g.rangeNode()
	case 6:
		return Prefix{Field: g.path(), Values: g.needles(), IgnoreCase: g.r.IntN(2) == 0}
	case 7:
		return Contains{Field: g.path(), Values: g.needles(), IgnoreCase: g.r.IntN(2) == 0}
	}
	return Exists{Field: g.path()}
}

func (g *gen) nodes(depth int) []Node {
	out := make([]Node, 2+g.r.IntN(2))
	for i := range out {
		out[i] = g.node(depth - 1)
	}
	return out
}

func (g *gen) needles() []string {
	out := make([]string, g.r.IntN(3))
	for i := range out {
		out[i] = g.pick([]string{"", "a", "A", "b", "1", "ab", "c d", "2025"})
	}
	return out
}

func (g *gen) rangeNode() Node {
	mode := g.r.IntN(3)
	bound := func() *Literal {
		var l Literal
		switch mode {
		case 0:
			l = Number(json.Number(g.pick(genNumbers)))
		case 1:
			l = String(g.pick([]string{"2025-01-01", "2025-01-01T00:00:00Z", "2024-12-31T23:59:59.5Z", "2025-01-01T00:30:00+01:00"}))
		default:
			l = String(g.pick([]string{"", "a", "ab", "b", "B", "10", "true"}))
		}
		return &l
	}
	r := Range{Field: g.path()}
	for r.GT == nil && r.GTE == nil && r.LT == nil && r.LTE == nil {
		for _, dst := range []**Literal{&r.GT, &r.GTE, &r.LT, &r.LTE} {
			if g.r.IntN(3) == 0 {
				*dst = bound()
			}
		}
	}
	return r
}

func (g *gen) doc(depth int) any {
	m := map[string]any{}
	for _, k := range genKeys {
		if g.r.IntN(4) != 0 {
			m[k] = g.value(depth - 1)
		}
	}
	return m
}

func (g *gen) value(depth int) any {
	k := g.r.IntN(8)
	if depth <= 0 {
		k = g.r.IntN(4)
	}
	switch k {
	case 0:
		return g.hint(json.Number(g.pick(genNumbers)))
	case 1:
		return g.hint(g.pick(genStrings))
	case 2:
		return g.hint(g.r.IntN(2) == 0)
	case 3:
		return g.hint(nil)
	case 4, 5:
		arr := make([]any, g.r.IntN(3))
		for i := range arr {
			arr[i] = g.value(depth - 1)
		}
		return arr
	}
	return g.doc(depth)
}

func (g *gen) hint(v any) any {
	g.hints = append(g.hints, v)
	return v
}

// ---- the naive evaluator ----

var naiveNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

func naiveMatch(n Node, doc any) bool {
	switch x := n.(type) {
	case And:
		for _, c := range x.Children {
			if !naiveMatch(c, doc) {
				return false
			}
		}
		return true
	case Or:
		for _, c := range x.Children {
			if naiveMatch(c, doc) {
				return true
			}
		}
		return false
	case Not:
		return !naiveMatch(x.Child, doc)
	case Eq:
		v, ok := naiveResolve(doc, x.Field.Pointer)
		return ok && naiveEqual(x.Value, v)
	case In:
		v, ok := naiveResolve(doc, x.Field.Pointer)
		for _, l := range x.Values {
			if ok && naiveEqual(l, v) {
				return true
			}
		}
		return false
	case Range:
		return naiveRange(x, doc)
	case Prefix:
		return naiveStringOp(x.Field, x.Values, x.IgnoreCase, strings.HasPrefix, doc)
	case Contains:
		return naiveStringOp(x.Field, x.Values, x.IgnoreCase, strings.Contains, doc)
	case Exists:
		v, ok := naiveResolve(doc, x.Field.Pointer)
		return ok && v != nil
	}
	panic("naive: unknown node")
}

func naiveResolve(doc any, pointer string) (any, bool) {
	if pointer == "" {
		return doc, true
	}
	cur := doc
	for _, tok := range strings.Split(pointer[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || strconv.Itoa(i) != tok || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func naiveRat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("naive: bad number " + s)
	}
	return r
}

func naiveTime(s string) (time.Time, bool) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, true
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

func naiveEqual(l Literal, v any) bool {
	switch d := v.(type) {
	case json.Number:
		switch {
		case l.Kind == KindNumber, l.Kind == KindString && naiveNumber.MatchString(l.Text):
			return naiveRat(l.Text).Cmp(naiveRat(string(d))) == 0
		}
		return false
	case string:
		if l.Kind != KindString {
			return false
		}
		if l.Text == d {
			return true
		}
		a, ok1 := naiveTime(l.Text)
		b, ok2 := naiveTime(d)
		return ok1 && ok2 && a.Equal(b)
	case bool:
		return l.Kind == KindBool && l.Bool == d || l.Kind == KindString && l.Text == strconv.FormatBool(d)
	case nil:
		return l.Kind == KindNull
	}
	return false
}

func naiveRange(r Range, doc any) bool {
	v, ok := naiveResolve(doc, r.Field.Pointer)
	if !ok {
		return false
	}
	bounds := map[string]*Literal{"gt": r.GT, "gte": r.GTE, "lt": r.LT, "lte": r.LTE}
	allNum, allTime := true, true
	for _, b := range bounds {
		if b != nil {
			allNum = allNum && b.Kind == KindNumber
			_, isTime := naiveTime(b.Text)
			allTime = allTime && b.Kind == KindString && isTime
		}
	}
	for op, b := range bounds {
		if b == nil {
			continue
		}
		var c int
		switch s, isStr := v.(string); {
		case allNum:
			n, isNum := v.(json.Number)
			if !isNum {
				return false
			}
			c = naiveRat(string(n)).Cmp(naiveRat(b.Text))
		case allTime:
			t, ok := naiveTime(s)
			if !isStr || !ok {
				return false
			}
			bt, _ := naiveTime(b.Text)
			c = t.Compare(bt)
		default:
			if !isStr {
				return false
			}
			c = strings.Compare(s, b.Text)
		}
		if op == "gt" && c <= 0 || op == "gte" && c < 0 || op == "lt" && c >= 0 || op == "lte" && c > 0 {
			return false
		}
	}
	return true
}

func naiveStringOp(f Path, needles []string, ic bool, test func(string, string) bool, doc any) bool {
	v, ok := naiveResolve(doc, f.Pointer)
	if !ok {
		return false
	}
	if len(needles) == 0 {
		return true
	}
	s, ok := v.(string)
	if !ok {
		return false
	}
	for _, n := range needles {
		if ic && test(strings.ToLower(s), strings.ToLower(n)) || !ic && test(s, n) {
			return true
		}
	}
	return false
}
