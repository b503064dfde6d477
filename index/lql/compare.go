package lql

// Equal reports whether a document value equals the literal under the
// rules Eq and In use, so an index can check candidates exactly as Match
// would. Prefer compiled selectors in loops: Equal re-parses the literal.
func (l Literal) Equal(docValue any) bool { return compileLit(l).equal(docValue) }

// Holds reports whether a document value lies within the range, as Match
// would decide for r's field. It is false for an invalid range.
func (r Range) Holds(docValue any) bool {
	if r.Mode() == RangeInvalid {
		return false
	}
	return compileRange(r).(rangeM).holds(docValue)
}
