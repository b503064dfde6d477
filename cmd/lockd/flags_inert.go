package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// inertKind is the value type of a v0.9 flag, so an inert flag parses like
// v0.9's did: a bool takes no argument, a typo in a duration is an error.
type inertKind int

const (
	kindString inertKind = iota
	kindBool
	kindDuration
	kindInt
	kindFloat
	kindSize
	kindStrings
)

var kindNames = [...]string{"string", "bool", "duration", "int", "float", "size", "strings"}

func (k inertKind) String() string { return kindNames[k] }

// inertValue is the pflag.Value of a v0.9 flag this build accepts but does
// not use. It validates and keeps the value (for `lockd config show`).
type inertValue struct {
	kind   inertKind
	reason string
	vals   []string
}

func (v *inertValue) Type() string { return v.kind.String() }

func (v *inertValue) String() string { return strings.Join(v.vals, ",") }

func (v *inertValue) Set(s string) error {
	if err := checkKind(v.kind, s); err != nil {
		return err
	}
	if v.kind == kindStrings {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				v.vals = append(v.vals, p)
			}
		}
		return nil
	}
	v.vals = []string{s}
	return nil
}

func checkKind(k inertKind, s string) error {
	var err error
	switch k {
	case kindBool:
		_, err = strconv.ParseBool(s)
	case kindDuration:
		_, err = time.ParseDuration(s)
	case kindInt:
		_, err = strconv.ParseInt(s, 10, 64)
	case kindFloat:
		_, err = strconv.ParseFloat(s, 64)
	case kindSize:
		if strings.TrimSpace(s) != "" { // v0.9: blank disables
			_, err = parseSize(s)
		}
	}
	if err != nil {
		return fmt.Errorf("invalid %s %q", k, s)
	}
	return nil
}

// addV09Flags makes every v0.9 flag name parse: each v09Flags entry the
// set does not define becomes a hidden inert flag, v09Aliases resolve to
// the flags that implement them, and v0.9's one-letter forms are added
// where the letter is free. Call it after every real flag is defined:
// a real flag of the same name always wins.
func addV09Flags(fs *pflag.FlagSet) {
	for _, f := range v09Flags {
		if fs.Lookup(f.name) != nil || v09Aliases[f.name] != "" {
			continue
		}
		v := &inertValue{kind: f.kind, reason: f.reason}
		if f.reason == "" {
			v.reason = "v0.9 flag without an implementation here"
		}
		short := f.short
		if short != "" && fs.ShorthandLookup(short) != nil {
			short = ""
		}
		fl := fs.VarPF(v, f.name, short, "v0.9 flag; no effect here: "+v.reason)
		if f.kind == kindBool {
			fl.NoOptDefVal = "true"
		}
		fl.Hidden = true
	}
	prev := fs.GetNormalizeFunc()
	fs.SetNormalizeFunc(func(fs *pflag.FlagSet, name string) pflag.NormalizedName {
		if to, ok := v09Aliases[name]; ok && fs.Lookup(to) != nil {
			return pflag.NormalizedName(to)
		}
		return prev(fs, name)
	})
}

// inertFlags returns the names of the set's inert flags that were set
// (command line, environment or config file), sorted.
func inertFlags(fs *pflag.FlagSet) []string {
	var names []string
	fs.Visit(func(f *pflag.Flag) {
		if _, ok := f.Value.(*inertValue); ok {
			names = append(names, f.Name)
		}
	})
	sort.Strings(names)
	return names
}

// inertNames lists every inert flag of the set, for the help text.
func inertNames(fs *pflag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *pflag.Flag) {
		if _, ok := f.Value.(*inertValue); ok {
			names = append(names, "--"+f.Name)
		}
	})
	sort.Strings(names)
	return names
}
