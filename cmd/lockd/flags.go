package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// applyEnv sets every flag not given on the command line from its LOCKD_*
// environment mirror (--json-max <- LOCKD_JSON_MAX). A flag that implements
// a v0.9 alias also reads the alias's variable, after its own.
func applyEnv(fs *pflag.FlagSet, prefix string) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		for _, flag := range append([]string{f.Name}, aliasesOf(f.Name)...) {
			name := prefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
			if v, ok := os.LookupEnv(name); ok {
				if serr := fs.Set(f.Name, v); serr != nil {
					err = fmt.Errorf("%s=%q: %w", name, v, serr)
				}
				return
			}
		}
	})
	return err
}

// aliasesOf returns the v0.9 spellings that resolve to the flag name.
func aliasesOf(name string) []string {
	var out []string
	for alias, to := range v09Aliases {
		if to == name {
			out = append(out, alias)
		}
	}
	return out
}

// sizeValue is a byte size flag accepting 100MB, 64KiB, 1GB or plain bytes.
type sizeValue struct{ n *int64 }

func newSize(fs *pflag.FlagSet, name string, def int64, usage string) *int64 {
	n := def
	fs.Var(sizeValue{&n}, name, usage)
	return &n
}

// String writes the size in the largest binary unit that divides it
// exactly (100MiB, 1TiB, 1500), so it parses back to the same value.
func (s sizeValue) String() string {
	n := *s.n
	for _, u := range []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}
func (s sizeValue) Type() string { return "size" }

func (s sizeValue) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s.n = n
	return nil
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"tb", 1 << 40},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40}, {"b", 1},
}

// parseSize reads sizes in binary units (MB = MiB, as lockd v0.9 does).
func parseSize(v string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size %q (want e.g. 100MB, 64KiB, 1024)", v)
	}
	return int64(f * float64(mult)), nil
}
