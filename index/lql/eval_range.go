package lql

// rangeM evaluates a Range in the mode its bounds agree on.
type rangeM struct {
	path   Path
	mode   RangeMode
	bounds []rangeBound
}

// rangeBound is one bound: the value must compare to lit with a result in
// {lo, hi} (e.g. gte accepts 0 and 1).
type rangeBound struct {
	lit    clit
	lo, hi int
}

func compileRange(r Range) matcher {
	m := rangeM{path: r.Field, mode: r.Mode()}
	add := func(l *Literal, lo, hi int) {
		if l != nil {
			m.bounds = append(m.bounds, rangeBound{lit: compileLit(*l), lo: lo, hi: hi})
		}
	}
	add(r.GT, 1, 1)
	add(r.GTE, 0, 1)
	add(r.LT, -1, -1)
	add(r.LTE, -1, 0)
	return m
}

func (m rangeM) match(doc any) bool {
	v, ok := m.path.Lookup(doc)
	return ok && m.holds(v)
}

// holds checks v against every bound.
func (m rangeM) holds(v any) bool {
	for _, b := range m.bounds {
		c, ok := m.compare(v, b)
		if !ok || c < b.lo || c > b.hi {
			return false
		}
	}
	return true
}

// compare orders the document value v against bound b, reporting false
// when v has the wrong type for the range mode.
func (m rangeM) compare(v any, b rangeBound) (int, bool) {
	switch m.mode {
	case RangeNumeric:
		n, ok := docNumeric(v)
		return cmpNumeric(n, b.lit.num), ok
	case RangeTime:
		s, ok := v.(string)
		if !ok {
			return 0, false
		}
		t, ok := parseTime(s)
		return t.Compare(b.lit.tm), ok
	case RangeString:
		s, ok := v.(string)
		return cmpOrdered(s, b.lit.Text), ok
	}
	return 0, false
}
