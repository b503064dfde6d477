package index

import (
	"github.com/lockdhq/lockd/index/lql"
)

// lookup is one posting range of a plan. Postings under prefix are
// listed in order; a posting's value is the text between prefix and the
// next '/', and it belongs to the lookup while it is <= hi (when hasHi).
// exact lookups name a single term, whose postings are sorted by key.
type lookup struct {
	prefix string // relative to postingPrefix(ns)
	from   string // start listing after prefix+from ("" = from the start)
	hi     string
	hasHi  bool
	exact  bool
	// nonNull skips null postings (exists lists every value of a path).
	nonNull bool
}

// plan is a candidate superset: the union of its lookups. A nil plan
// means the index cannot answer the selector and every key is a
// candidate.
type plan []lookup

// planFor compiles a selector node into a plan, or nil when the index
// cannot narrow it (not, contains, case-insensitive prefix, …). est picks
// the cheapest child of an And.
func planFor(n lql.Node, est func(plan) int, seal *sealer) plan {
	switch x := n.(type) {
	case lql.And:
		var best plan
		bestCost := -1
		for _, c := range x.Children {
			p := planFor(c, est, seal)
			if p == nil {
				continue
			}
			if cost := est(p); bestCost < 0 || cost < bestCost {
				best, bestCost = p, cost
			}
		}
		return best
	case lql.Or:
		out := plan{}
		for _, c := range x.Children {
			p := planFor(c, est, seal)
			if p == nil {
				return nil
			}
			out = append(out, p...)
		}
		return out
	case lql.Eq:
		return seal.lookups(eqPlan(x.Field, x.Value))
	case lql.In:
		out := plan{}
		for _, v := range x.Values {
			p := seal.lookups(eqPlan(x.Field, v))
			if p == nil {
				return nil
			}
			out = append(out, p...)
		}
		return out
	case lql.Range:
		if seal.on() {
			return nil // sealed values keep no order
		}
		return rangePlan(x)
	case lql.Prefix:
		if seal.on() {
			return nil
		}
		return prefixPlan(x)
	case lql.Exists:
		if ph, ok := pathKey(x.Field); ok {
			return plan{{prefix: ph + "/", nonNull: true}}
		}
	}
	return nil
}

// pathKey hashes a field; the root pointer is not indexed.
func pathKey(p lql.Path) (string, bool) {
	if len(p.Segments) == 0 {
		return "", false
	}
	return pathHash(p.Segments), true
}

func exactLookup(t string) lookup { return lookup{prefix: t + "/", exact: true} }

// eqPlan lists every term a document value equal to lit could have (see
// the equality rules in package lql).
func eqPlan(field lql.Path, lit lql.Literal) plan {
	ph, ok := pathKey(field)
	if !ok {
		return nil
	}
	switch lit.Kind {
	case lql.KindNumber:
		if f, ok := parseNumber(lit.Text); ok {
			return plan{exactLookup(term(ph, tagNumber, encFloat(f)))}
		}
		return nil
	case lql.KindBool:
		return plan{exactLookup(term(ph, tagBool, boolText(lit.Bool)))}
	case lql.KindNull:
		return plan{exactLookup(term(ph, tagNull, ""))}
	case lql.KindString:
		out := plan{exactLookup(term(ph, tagString, encString(lit.Text)))}
		if f, ok := parseNumber(lit.Text); ok {
			out = append(out, exactLookup(term(ph, tagNumber, encFloat(f))))
		}
		switch lit.Text {
		case "true", "false":
			out = append(out, exactLookup(term(ph, tagBool, boolText(lit.Text == "true"))))
		}
		if t, ok := parseTime(lit.Text); ok {
			out = append(out, exactLookup(term(ph, tagTime, encTime(t))))
		}
		return out
	}
	return nil
}

func boolText(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// rangePlan scans the encoded values between the bounds, inclusive on
// both ends (the encodings only preserve order non-strictly).
func rangePlan(r lql.Range) plan {
	ph, ok := pathKey(r.Field)
	if !ok {
		return nil
	}
	var tag byte
	var enc func(lql.Literal) (string, bool)
	switch r.Mode() {
	case lql.RangeNumeric:
		tag, enc = tagNumber, func(l lql.Literal) (string, bool) {
			f, ok := parseNumber(l.Text)
			return encFloat(f), ok
		}
	case lql.RangeTime:
		tag, enc = tagTime, func(l lql.Literal) (string, bool) {
			t, ok := parseTime(l.Text)
			return encTime(t), ok
		}
	case lql.RangeString:
		tag, enc = tagString, func(l lql.Literal) (string, bool) { return encString(l.Text), true }
	default:
		return nil
	}
	lk := lookup{prefix: ph + "/" + string(tag)}
	if lo := firstSet(r.GT, r.GTE); lo != nil {
		v, ok := enc(*lo)
		if !ok {
			return nil
		}
		lk.from = v
	}
	if hi := firstSet(r.LT, r.LTE); hi != nil {
		v, ok := enc(*hi)
		if !ok {
			return nil
		}
		lk.hi, lk.hasHi = v, true
	}
	return plan{lk}
}

func firstSet(a, b *lql.Literal) *lql.Literal {
	if a != nil {
		return a
	}
	return b
}

// prefixPlan answers case-sensitive prefixes with values; a prefix of
// maxIndexedString bytes or more degrades to equality on the kept bytes.
func prefixPlan(p lql.Prefix) plan {
	ph, ok := pathKey(p.Field)
	if p.IgnoreCase || len(p.Values) == 0 || !ok {
		return nil
	}
	out := plan{}
	for _, v := range p.Values {
		out = append(out, lookup{prefix: ph + "/" + string(tagString) + encString(v)})
	}
	return out
}
