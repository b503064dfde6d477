package lql

// conj collects the clauses of one conjunction while a selector is parsed.
//
// Qualifier chains address it like a tree: "and.N." selects (or creates)
// the and-slot N, a nested conjunction that becomes one AND child;
// "or.N." selects the alternative N of this conjunction's single OR group.
// Without an index every "and." and "or." opens a fresh slot. "not."
// wraps a fresh conjunction. The built node is
//
//	AND(terms and and-slots in order of appearance, OR(alternatives))
//
// with single-child groups collapsed and nested ANDs flattened.
type conj struct {
	entries  []conjEntry
	andSlots map[int]*conj
	orAlts   []*conj
	orSlots  map[int]*conj
}

// conjEntry is either a finished node or an and-slot still being filled.
type conjEntry struct {
	node Node
	slot *conj
}

func (c *conj) add(n Node) { c.entries = append(c.entries, conjEntry{node: n}) }

// andSlot returns the and-slot for index idx, or a fresh one when idx < 0.
func (c *conj) andSlot(idx int) *conj {
	if idx >= 0 {
		if s, ok := c.andSlots[idx]; ok {
			return s
		}
	}
	s := &conj{}
	c.entries = append(c.entries, conjEntry{slot: s})
	if idx >= 0 {
		if c.andSlots == nil {
			c.andSlots = map[int]*conj{}
		}
		c.andSlots[idx] = s
	}
	return s
}

// orSlot returns alternative idx of the OR group, or a fresh one when
// idx < 0.
func (c *conj) orSlot(idx int) *conj {
	if idx >= 0 {
		if s, ok := c.orSlots[idx]; ok {
			return s
		}
	}
	s := &conj{}
	c.orAlts = append(c.orAlts, s)
	if idx >= 0 {
		if c.orSlots == nil {
			c.orSlots = map[int]*conj{}
		}
		c.orSlots[idx] = s
	}
	return s
}

// build returns the node for the conjunction, or nil when it is empty.
func (c *conj) build() Node {
	var kids []Node
	for _, e := range c.entries {
		n := e.node
		if e.slot != nil {
			n = e.slot.build()
		}
		kids = appendAnd(kids, n)
	}
	if len(c.orAlts) > 0 {
		var alts []Node
		for _, a := range c.orAlts {
			alts = appendOr(alts, a.build())
		}
		kids = appendAnd(kids, collapse(alts, false))
	}
	return collapse(kids, true)
}

func appendAnd(kids []Node, n Node) []Node {
	switch x := n.(type) {
	case nil:
		return kids
	case And:
		return append(kids, x.Children...)
	}
	return append(kids, n)
}

func appendOr(kids []Node, n Node) []Node {
	switch x := n.(type) {
	case nil:
		return kids
	case Or:
		return append(kids, x.Children...)
	}
	return append(kids, n)
}

// collapse wraps kids in And (and=true) or Or, returning a single child
// as is and nil for none.
func collapse(kids []Node, and bool) Node {
	switch {
	case len(kids) == 0:
		return nil
	case len(kids) == 1:
		return kids[0]
	case and:
		return And{Children: kids}
	}
	return Or{Children: kids}
}
