package index

import "github.com/lockdhq/lockd/index/lql"

// Project returns a document holding only the values at fields, nested
// under objects as in the source (array positions become object keys).
// Fields that do not resolve are left out; no fields returns doc itself.
func Project(doc any, fields []lql.Path) any {
	if len(fields) == 0 {
		return doc
	}
	out := map[string]any{}
	for _, f := range fields {
		v, ok := f.Lookup(doc)
		if !ok {
			continue
		}
		if len(f.Segments) == 0 {
			return doc
		}
		put(out, f.Segments, v)
	}
	return out
}

// put stores v at segs under m, creating (or replacing non-object values
// with) intermediate objects.
func put(m map[string]any, segs []string, v any) {
	for _, s := range segs[:len(segs)-1] {
		next, ok := m[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[s] = next
		}
		m = next
	}
	m[segs[len(segs)-1]] = v
}
