package lql

// node turns parsed arguments into an AST node, checking that the
// operator got the arguments it needs.
func (a *termArgs) node() (Node, error) {
	if a.field == nil {
		return nil, syntaxErrorf(a.opPos, "%s needs field=", a.op)
	}
	f := *a.field
	switch a.op {
	case "exists":
		return Exists{Field: f}, nil
	case "eq":
		return a.eqNode(f)
	case "in":
		if len(a.any) == 0 {
			return nil, syntaxErrorf(a.opPos, "in needs any=")
		}
		return In{Field: f, Values: a.any}, nil
	case "range":
		return a.rangeNode(f)
	case "date":
		return a.dateNode(f)
	}
	return a.stringNode(f)
}

func (a *termArgs) eqNode(f Path) (Node, error) {
	v, hasValue := a.lits["value"]
	switch {
	case hasValue && a.any != nil:
		return nil, syntaxErrorf(a.pos["any"], "eq takes value= or any=, not both")
	case a.any != nil:
		return In{Field: f, Values: a.any}, nil
	case !hasValue:
		return nil, syntaxErrorf(a.opPos, "eq needs value=")
	}
	return Eq{Field: f, Value: v}, nil
}

func (a *termArgs) rangeNode(f Path) (Node, error) {
	r := Range{Field: f}
	set := func(dst **Literal, name string) {
		if l, ok := a.lits[name]; ok {
			*dst = &l
		}
	}
	set(&r.GT, "gt")
	set(&r.GTE, "gte")
	set(&r.LT, "lt")
	set(&r.LTE, "lte")
	if err := checkRange(r); err != nil {
		err.Pos = a.opPos
		return nil, err
	}
	return r, nil
}

// checkRange reports a range without bounds or with bounds of mixed or
// unusable kinds.
func checkRange(r Range) *SyntaxError {
	b := r.bounds()
	if b[0] == nil && b[1] == nil && b[2] == nil && b[3] == nil {
		return &SyntaxError{Msg: "range needs at least one of gt=, gte=, lt=, lte="}
	}
	if r.Mode() == RangeInvalid {
		return &SyntaxError{Msg: "range bounds must all be numbers, all timestamps or all other strings"}
	}
	return nil
}

// dateNode maps date{...} onto a time Range: after → gt, before → lt,
// value → gte and lte.
func (a *termArgs) dateNode(f Path) (Node, error) {
	pairs := [][2]string{{"after", "gt"}, {"before", "lt"}}
	for _, pr := range pairs {
		if _, ok := a.lits[pr[0]]; !ok {
			continue
		}
		if _, dup := a.lits[pr[1]]; dup {
			return nil, syntaxErrorf(a.pos[pr[1]], "date takes %s= or %s=, not both", pr[0], pr[1])
		}
		a.lits[pr[1]] = a.lits[pr[0]]
		a.pos[pr[1]] = a.pos[pr[0]]
	}
	if v, ok := a.lits["value"]; ok {
		for _, k := range []string{"gte", "lte"} {
			if _, dup := a.lits[k]; dup {
				return nil, syntaxErrorf(a.pos[k], "date takes value= or %s=, not both", k)
			}
			a.lits[k], a.pos[k] = v, a.pos["value"]
		}
	}
	for _, k := range []string{"gt", "gte", "lt", "lte"} {
		if l, ok := a.lits[k]; ok && boundMode(l) != RangeTime {
			return nil, syntaxErrorf(a.pos[k], "date bound must be an RFC 3339 timestamp or a YYYY-MM-DD date")
		}
	}
	return a.rangeNode(f)
}

func (a *termArgs) stringNode(f Path) (Node, error) {
	v, hasValue := a.lits["value"]
	if hasValue && a.any != nil {
		return nil, syntaxErrorf(a.pos["any"], "%s takes value= or any=, not both", a.op)
	}
	var needles []string
	if hasValue {
		needles = []string{needleText(v)}
	}
	for _, l := range a.any {
		needles = append(needles, needleText(l))
	}
	ic := a.op == "icontains" || a.op == "iprefix"
	if a.ignoreCase != nil {
		ic = ic || *a.ignoreCase
	}
	if a.op == "prefix" || a.op == "iprefix" {
		return Prefix{Field: f, Values: needles, IgnoreCase: ic}, nil
	}
	return Contains{Field: f, Values: needles, IgnoreCase: ic}, nil
}

// needleText is the text a literal stands for in a string match.
func needleText(l Literal) string {
	switch l.Kind {
	case KindBool:
		if l.Bool {
			return "true"
		}
		return "false"
	case KindNull:
		return "null"
	}
	return l.Text
}
