package lql

import (
	"net/url"
	"sort"
	"strings"
)

// ParseSelectorValues reads selector clauses from URL query parameters,
// which /v1/query accepts when no JSON selector is given. Parameters whose
// name is an LQL clause are used, in sorted order, as if they were lines
// of one LQL text (so or.N grouping works across parameters):
//
//	?and.eq{field=/status,value=open}     a whole clause as the name
//	?/progress/count>=10                  shorthand (split at '=' by URL parsing)
//	?eq.field=/status&eq.value=open       dotted arguments of one clause
//	?exists=/meta/etag
//
// Other parameters (namespace, limit, ...) are ignored. With no selector
// parameter the result is the empty selector. Errors are *SyntaxError
// whose Expr numbers the clause in that order.
func ParseSelectorValues(values url.Values) (*Selector, error) {
	exprs := selectorExprs(values)
	top := &conj{}
	for i, e := range exprs {
		p := &selParser{scanner: scanner{src: e}}
		if err := p.list(-1, func() error { return p.item(top) }); err != nil {
			if se, ok := err.(*SyntaxError); ok {
				se.Expr = i + 1
			}
			return nil, err
		}
	}
	return newCompiled(top.build())
}

// selectorExprs turns query parameters into LQL clause texts.
func selectorExprs(values url.Values) []string {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var exprs []string
	dotted := map[string][]string{}
	var dottedOrder []string
	for _, k := range keys {
		name := strings.TrimSpace(k)
		for _, v := range values[k] {
			clause, arg, ok := splitDotted(name)
			switch {
			case strings.HasPrefix(name, "/"), ok && (v == "" || strings.Contains(name, "{")):
				exprs = append(exprs, joinParam(name, v))
			case ok && arg == "":
				exprs = append(exprs, clause+"{"+dottedArg("", v)+"}")
			case ok:
				if _, seen := dotted[clause]; !seen {
					dottedOrder = append(dottedOrder, clause)
				}
				dotted[clause] = append(dotted[clause], dottedArg(arg, v))
			}
		}
	}
	for _, c := range dottedOrder {
		exprs = append(exprs, c+"{"+strings.Join(dotted[c], ",")+"}")
	}
	return exprs
}

func joinParam(name, v string) string {
	if v == "" {
		return name
	}
	return name + "=" + v
}

// splitDotted recognises a parameter name that starts with a selector
// keyword and, for the dotted form, splits "and.0.eq.field" into the clause
// "and.0.eq" and the argument "field". exists=/p has the argument "".
func splitDotted(name string) (clause, arg string, ok bool) {
	first := name
	if i := strings.IndexAny(name, ".{="); i >= 0 {
		first = name[:i]
	}
	switch first = strings.ToLower(first); {
	case first == "and" || first == "or" || first == "not" || isTermOp(first):
	default:
		return "", "", false
	}
	parts := strings.Split(name, ".")
	last := strings.ToLower(parts[len(parts)-1])
	if isTermOp(last) {
		return name, "", true
	}
	if len(parts) >= 2 && isTermOp(strings.ToLower(parts[len(parts)-2])) {
		return strings.Join(parts[:len(parts)-1], "."), parts[len(parts)-1], true
	}
	return name, "", true
}

// dottedArg renders one argument, quoting values a bare word cannot hold.
func dottedArg(arg, v string) string {
	if strings.ContainsAny(v, ",{}[] \t\r\n\"'") || v == "" {
		v = quote(v)
	}
	if arg == "" {
		return v
	}
	return arg + "=" + v
}
