package lql

// Node is a selector AST node. The concrete types are And, Or, Not, Eq,
// In, Range, Prefix, Contains and Exists; a secondary index can answer the
// leaf types on their Field without scanning documents.
type Node interface {
	isNode()
}

// And matches when every child matches. An empty And matches everything.
type And struct{ Children []Node }

// Or matches when at least one child matches. An empty Or matches nothing.
type Or struct{ Children []Node }

// Not matches when Child does not match, including when Child's field is
// missing.
type Not struct{ Child Node }

// Eq matches when the value at Field equals Value (see the package
// documentation for the equality rules).
type Eq struct {
	Field Path
	Value Literal
}

// In matches when the value at Field equals any of Values.
type In struct {
	Field  Path
	Values []Literal
}

// Range matches when the value at Field lies within every bound that is
// set. All bounds share one RangeMode.
type Range struct {
	Field Path
	GT    *Literal
	GTE   *Literal
	LT    *Literal
	LTE   *Literal
}

// Prefix matches a string value at Field that starts with any of Values.
// With IgnoreCase both sides are compared lower-cased. Without Values it
// only asserts that Field exists (with any value, null included).
type Prefix struct {
	Field      Path
	Values     []string
	IgnoreCase bool
}

// Contains matches a string value at Field that contains any of Values,
// with the same IgnoreCase and empty-Values rules as Prefix.
type Contains struct {
	Field      Path
	Values     []string
	IgnoreCase bool
}

// Exists matches when Field is present and not null.
type Exists struct{ Field Path }

func (And) isNode()      {}
func (Or) isNode()       {}
func (Not) isNode()      {}
func (Eq) isNode()       {}
func (In) isNode()       {}
func (Range) isNode()    {}
func (Prefix) isNode()   {}
func (Contains) isNode() {}
func (Exists) isNode()   {}

// RangeMode is how a Range compares: all its bounds are numbers, all are
// timestamps, or all are other strings.
type RangeMode uint8

// Range modes.
const (
	RangeInvalid RangeMode = iota
	RangeNumeric
	RangeTime
	RangeString
)

// Mode reports how r compares values. RangeInvalid means no bound is set,
// a bound is a bool or null, or bounds mix modes.
func (r Range) Mode() RangeMode {
	mode := RangeInvalid
	for _, b := range r.bounds() {
		if b == nil {
			continue
		}
		m := boundMode(*b)
		if m == RangeInvalid || (mode != RangeInvalid && m != mode) {
			return RangeInvalid
		}
		mode = m
	}
	return mode
}

func (r Range) bounds() [4]*Literal { return [4]*Literal{r.GT, r.GTE, r.LT, r.LTE} }

func boundMode(l Literal) RangeMode {
	switch l.Kind {
	case KindNumber:
		return RangeNumeric
	case KindString:
		if _, ok := parseTime(l.Text); ok {
			return RangeTime
		}
		return RangeString
	}
	return RangeInvalid
}

// Walk calls fn for n and, while fn returns true, for its descendants in
// depth-first order.
func Walk(n Node, fn func(Node) bool) {
	if n == nil || !fn(n) {
		return
	}
	switch x := n.(type) {
	case And:
		for _, c := range x.Children {
			Walk(c, fn)
		}
	case Or:
		for _, c := range x.Children {
			Walk(c, fn)
		}
	case Not:
		Walk(x.Child, fn)
	}
}

// FieldOf returns the field a leaf node tests, or false for And, Or, Not.
func FieldOf(n Node) (Path, bool) {
	switch x := n.(type) {
	case Eq:
		return x.Field, true
	case In:
		return x.Field, true
	case Range:
		return x.Field, true
	case Prefix:
		return x.Field, true
	case Contains:
		return x.Field, true
	case Exists:
		return x.Field, true
	}
	return Path{}, false
}
