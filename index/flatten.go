package index

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
)

// Limits of what one document contributes to the index. A document past
// them is marked overflow: it is always a candidate and re-checked, so
// results stay exact.
const (
	maxTermsPerDoc = 512
	maxIndexDepth  = 24
)

// flatten lists the terms of a decoded JSON document (sorted, unique) and
// reports overflow when the document exceeds the limits.
func flatten(doc any) (terms []string, overflow bool) {
	f := flattener{seen: map[string]struct{}{}}
	f.walk(doc, nil, 0)
	sort.Strings(f.terms)
	return f.terms, f.overflow
}

type flattener struct {
	terms    []string
	seen     map[string]struct{}
	overflow bool
}

func (f *flattener) add(t string) {
	if _, ok := f.seen[t]; ok {
		return
	}
	if len(f.terms) >= maxTermsPerDoc {
		f.overflow = true
		return
	}
	f.seen[t] = struct{}{}
	f.terms = append(f.terms, t)
}

func (f *flattener) walk(v any, segs []string, depth int) {
	if f.overflow {
		return
	}
	if depth > maxIndexDepth {
		f.overflow = true
		return
	}
	if len(segs) > 0 {
		f.leaf(v, pathHash(segs))
	}
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			f.walk(c, append(segs[:len(segs):len(segs)], k), depth+1)
		}
	case []any:
		for i, c := range x {
			f.walk(c, append(segs[:len(segs):len(segs)], strconv.Itoa(i)), depth+1)
		}
	}
}

// leaf adds the terms of the value v at the path hashed ph. A scalar's
// value term also records that it exists; containers (and anything
// without a value term) get an explicit exists term.
func (f *flattener) leaf(v any, ph string) {
	switch x := v.(type) {
	case nil:
		f.add(term(ph, tagNull, ""))
	case string:
		f.add(term(ph, tagString, encString(x)))
		if t, ok := parseTime(x); ok {
			f.add(term(ph, tagTime, encTime(t)))
		}
	case json.Number:
		if n, ok := parseNumber(string(x)); ok {
			f.add(term(ph, tagNumber, encFloat(n)))
		} else {
			f.add(term(ph, tagExists, ""))
		}
	case float64:
		if !math.IsNaN(x) {
			f.add(term(ph, tagNumber, encFloat(x)))
		} else {
			f.add(term(ph, tagExists, ""))
		}
	case bool:
		f.add(term(ph, tagBool, boolText(x)))
	default:
		f.add(term(ph, tagExists, ""))
	}
}
