package lql

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Apply applies muts in order to a copy of doc and returns the copy. doc
// is a value decoded by encoding/json (UseNumber recommended); nil is
// treated as an empty object, so a key without state can be mutated.
//
// Apply is atomic: when a mutation fails it returns doc untouched and an
// *ApplyError naming the path. doc itself is never modified; containers
// on untouched paths are shared between doc and the result, so callers
// must treat both as immutable afterwards or copy them.
//
// now supplies the time for MutationSetNow; it is called at most once, so
// every NOW in one Apply gets the same timestamp. It may be nil when no
// mutation needs it.
func Apply(doc any, muts []Mutation, now func() time.Time) (any, error) {
	a := &applier{fresh: map[uintptr]any{}, now: now}
	root := doc
	if root == nil {
		root = a.mark(map[string]any{})
	}
	root = a.own(root)
	for _, m := range muts {
		next, err := a.apply(root, m)
		if err != nil {
			return doc, err
		}
		root = next
	}
	return root, nil
}

// applier carries the copy-on-write state of one Apply call: containers
// it created or copied are "fresh" and may be changed in place. fresh maps
// their storage address to the container itself, which keeps it alive so
// the address cannot be reused by another allocation during the call.
type applier struct {
	fresh   map[uintptr]any
	now     func() time.Time
	nowText string
}

// identity is the address of a container's storage. Only non-empty
// containers are tracked: an empty array is never written to (every index
// is out of range), and a nil map is always copied.
func identity(v any) (uintptr, bool) {
	switch x := v.(type) {
	case map[string]any:
		return uintptr(reflect.ValueOf(x).UnsafePointer()), x != nil
	case []any:
		return uintptr(reflect.ValueOf(x).UnsafePointer()), len(x) > 0
	}
	return 0, false
}

func (a *applier) mark(v any) any {
	if id, ok := identity(v); ok {
		a.fresh[id] = v
	}
	return v
}

// own returns a container that may be changed in place: v itself when
// this Apply created or copied it, else a shallow copy. Scalars and empty
// arrays are returned as they are.
func (a *applier) own(v any) any {
	if id, ok := identity(v); ok && a.fresh[id] != nil {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(x)+1)
		for k, e := range x {
			c[k] = e
		}
		return a.mark(c)
	case []any:
		if len(x) == 0 {
			return x
		}
		return a.mark(append([]any(nil), x...))
	}
	return v
}

func (a *applier) apply(root any, m Mutation) (any, error) {
	if len(m.Path.Segments) == 0 {
		return nil, &ApplyError{Path: m.Path.Pointer, Msg: "the document root cannot be mutated"}
	}
	if m.Kind == MutationRemove {
		if _, ok := m.Path.Lookup(root); !ok {
			return root, nil
		}
	}
	value, err := a.newValue(m)
	if err != nil {
		return nil, err
	}
	return a.at(root, m, 0, value)
}

// newValue computes what a Set or SetNow stores.
func (a *applier) newValue(m Mutation) (any, error) {
	switch m.Kind {
	case MutationSet:
		return deepCopy(m.Value), nil
	case MutationSetNow:
		if a.now == nil {
			return nil, &ApplyError{Path: m.Path.Pointer, Msg: "time:…=NOW needs a clock"}
		}
		if a.nowText == "" {
			a.nowText = FormatTime(a.now())
		}
		return a.nowText, nil
	case MutationIncrement, MutationRemove:
		return nil, nil
	}
	return nil, &ApplyError{Path: m.Path.Pointer, Msg: fmt.Sprintf("unknown mutation kind %d", m.Kind)}
}

// at applies m below node, a fresh container reached through the first
// depth segments, and returns the container to store in its place.
func (a *applier) at(node any, m Mutation, depth int, value any) (any, error) {
	segs := m.Path.Segments
	seg := segs[depth]
	if !isContainer(node) {
		return nil, a.errAt(m, depth-1, "is a "+typeName(node)+", not an object or array")
	}
	if depth == len(segs)-1 {
		return a.leaf(node, m, seg, value)
	}
	child, ok := get(node, seg)
	switch {
	case !ok:
		if _, isArray := node.([]any); isArray {
			return nil, a.errAt(m, depth, "array index out of range")
		}
		child = a.mark(map[string]any{})
	case !isContainer(child):
		return nil, a.errAt(m, depth, "is a "+typeName(child)+", not an object or array")
	default:
		child = a.own(child)
	}
	child, err := a.at(child, m, depth+1, value)
	if err != nil {
		return nil, err
	}
	put(node, seg, child)
	return node, nil
}

// leaf performs m on the last segment of its path inside container node.
func (a *applier) leaf(node any, m Mutation, seg string, value any) (any, error) {
	last := len(m.Path.Segments) - 1
	old, exists := get(node, seg)
	arr, isArray := node.([]any)
	if isArray && !exists {
		return nil, a.errAt(m, last, "array index out of range")
	}
	switch m.Kind {
	case MutationRemove:
		if isArray {
			i, _ := arrayIndex(seg, len(arr))
			return append(arr[:i:i], arr[i+1:]...), nil
		}
		delete(node.(map[string]any), seg)
		return node, nil
	case MutationIncrement:
		sum, err := a.increment(m, old, exists)
		if err != nil {
			return nil, err
		}
		value = sum
	}
	put(node, seg, value)
	return node, nil
}

func (a *applier) increment(m Mutation, old any, exists bool) (any, error) {
	delta, ok := parseNumeric(string(m.Delta))
	if !ok || !isJSONNumber(string(m.Delta)) {
		return nil, &ApplyError{Path: m.Path.Pointer, Msg: fmt.Sprintf("increment %q is not a number", m.Delta)}
	}
	if !exists {
		return json.Number(formatNumeric(delta)), nil
	}
	n, ok := docNumeric(old)
	if !ok {
		return nil, &ApplyError{Path: m.Path.Pointer, Msg: "cannot increment a " + typeName(old)}
	}
	sum, ok := addNumeric(n, delta)
	if !ok {
		return nil, &ApplyError{Path: m.Path.Pointer, Msg: "increment overflows"}
	}
	return json.Number(formatNumeric(sum)), nil
}

// errAt reports a problem with the value at the first depth+1 segments
// (depth -1 is the document root).
func (a *applier) errAt(m Mutation, depth int, msg string) error {
	if depth < 0 {
		return &ApplyError{Path: m.Path.Pointer, Msg: "the document root " + msg}
	}
	prefix := PathOf(m.Path.Segments[:depth+1]...).Pointer
	if prefix == m.Path.Pointer {
		return &ApplyError{Path: m.Path.Pointer, Msg: msg}
	}
	return &ApplyError{Path: m.Path.Pointer, Msg: fmt.Sprintf("%s %s", prefix, msg)}
}

func isContainer(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

func get(node any, seg string) (any, bool) {
	switch x := node.(type) {
	case map[string]any:
		v, ok := x[seg]
		return v, ok
	case []any:
		if i, ok := arrayIndex(seg, len(x)); ok {
			return x[i], true
		}
	}
	return nil, false
}

// put stores v at seg; for arrays seg is known to be in range.
func put(node any, seg string, v any) {
	switch x := node.(type) {
	case map[string]any:
		x[seg] = v
	case []any:
		i, _ := arrayIndex(seg, len(x))
		x[i] = v
	}
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	if _, ok := docNumeric(v); ok {
		return "number"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", v), "*")
}

// deepCopy copies JSON containers so that the document never aliases a
// Mutation's Value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = deepCopy(e)
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = deepCopy(e)
		}
		return c
	}
	return v
}
