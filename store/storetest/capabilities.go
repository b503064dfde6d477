package storetest

import (
	"testing"

	"github.com/lockdhq/lockd/store"
)

// Capability is an optional ability of a store: an interface of package
// store that a driver may implement besides store.Store.
type Capability struct {
	Name string
	// Of reports whether s has the ability.
	Of func(s store.Store) bool
}

// Capabilities lists every optional interface of package store (a test of
// this package fails when one is missing). Decorators must keep each of
// them: recovery and group commit find them by type assertion, and a
// wrapper that hides one silently changes what the server does.
var Capabilities = []Capability{
	{"Batcher", func(s store.Store) bool { _, ok := s.(store.Batcher); return ok }},
	{"Scanner", func(s store.Store) bool { _, ok := s.(store.Scanner); return ok }},
}

// CapabilitiesOf names the abilities s has, in Capabilities order.
func CapabilitiesOf(s store.Store) []string {
	var out []string
	for _, c := range Capabilities {
		if c.Of(s) {
			out = append(out, c.Name)
		}
	}
	return out
}

// Restrict returns s showing only the abilities in mask (bit i stands for
// Capabilities[i]); s must have them all.
func Restrict(s store.Store, mask int) store.Store {
	b, _ := s.(store.Batcher)
	sc, _ := s.(store.Scanner)
	switch mask {
	case 0:
		return struct{ store.Store }{s}
	case 1:
		return struct {
			store.Store
			store.Batcher
		}{s, b}
	case 2:
		return struct {
			store.Store
			store.Scanner
		}{s, sc}
	case 3:
		return struct {
			store.Store
			store.Batcher
			store.Scanner
		}{s, b, sc}
	}
	panic("storetest: Restrict does not know every capability")
}

// Decorator wraps inner, as an encryption layer or a fault injector does.
type Decorator func(t *testing.T, inner store.Store) store.Store

// RunDecorator checks that wrap keeps each capability of what it wraps and
// adds none: for every combination of Capabilities it wraps a store that
// has exactly those (mem, restricted), compares the abilities of the
// result, and runs the contract suite over the result, so each forwarded
// ability also works.
func RunDecorator(t *testing.T, newInner Factory, wrap Decorator) {
	for mask := range 1 << len(Capabilities) {
		inner := Restrict(newInner(t), mask)
		want := CapabilitiesOf(inner)
		t.Run(name(want), func(t *testing.T) {
			got := CapabilitiesOf(wrap(t, inner))
			if name(got) != name(want) {
				t.Fatalf("wrapping a store with %v gives one with %v", want, got)
			}
			Run(t, func(t *testing.T) store.Store { return wrap(t, Restrict(newInner(t), mask)) })
		})
		inner.Close()
	}
}

func name(caps []string) string {
	out := "plain"
	for i, c := range caps {
		if i == 0 {
			out = c
			continue
		}
		out += "+" + c
	}
	return out
}
