package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/lockdhq/lockd/internal/tlsutil"
)

// configEntry is one setting of a configuration file.
type configEntry struct {
	key  string   // flag name; keys of nested maps are joined with "."
	vals []string // one value for a scalar, the items of a list
	list bool
	null bool // "key:" with no value: the flag keeps its default
	line int
}

// notice is a warning found while reading the settings, logged once the
// logger (whose level may come from the config file) exists.
type notice struct {
	msg string
	kv  []string // field, value, field, value…
}

// parseConfig reads a YAML mapping of flag names to values: scalars, or
// lists for flags that take several values. Nested maps become dotted keys
// (v0.9's mcp.listen).
func parseConfig(data []byte) ([]configEntry, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // empty file
		}
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil // only comments
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: want a mapping of flag: value", root.Line)
	}
	var out []configEntry
	return out, flatten(root, "", 0, &out)
}

// Bounds on nesting and size, so that a self-referencing or exploding
// alias is an error rather than a hung or crashed start.
const (
	maxConfigDepth   = 8
	maxConfigEntries = 10000
)

func flatten(m *yaml.Node, prefix string, depth int, out *[]configEntry) error {
	if depth >= maxConfigDepth {
		return fmt.Errorf("line %d: %s: nested too deep", m.Line, strings.TrimSuffix(prefix, "."))
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if len(*out) >= maxConfigEntries {
			return fmt.Errorf("more than %d settings", maxConfigEntries)
		}
		k, v := m.Content[i], m.Content[i+1]
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		key := prefix + k.Value
		e := configEntry{key: key, line: k.Line}
		switch v.Kind {
		case yaml.MappingNode:
			if err := flatten(v, key+".", depth+1, out); err != nil {
				return err
			}
			continue
		case yaml.SequenceNode:
			e.list = true
			for _, it := range v.Content {
				if it.Kind != yaml.ScalarNode {
					return fmt.Errorf("line %d: %s: list items must be plain values", it.Line, key)
				}
				e.vals = append(e.vals, it.Value)
			}
		case yaml.ScalarNode:
			e.null = v.Tag == "!!null"
			e.vals = []string{v.Value}
		}
		*out = append(*out, e)
	}
	return nil
}

// configPath chooses the configuration file: --config (or LOCKD_CONFIG)
// when given, where "" means none; else the --bootstrap folder's
// config.yaml, else $HOME/.lockd/config.yaml, each only when it exists.
func configPath(fs *pflag.FlagSet, given, bootstrap string) string {
	if fl := fs.Lookup("config"); fl != nil && fl.Changed {
		return expandHome(given)
	}
	dir := bootstrap
	if dir == "" {
		var err error
		if dir, err = tlsutil.DefaultDir(); err != nil {
			return "" // no home: no default file
		}
	}
	p := filepath.Join(dir, tlsutil.ConfigFile)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}

// applyConfigFile sets, from the file at path, every flag that neither the
// command line nor the environment set, so a flag beats LOCKD_* which beats
// the file which beats the default. A key that names no flag is a warning,
// not an error: the file may come from lockd v0.9 or a newer lockd. Keys
// under mcp. belong to `lockd mcp` and are left to it.
func applyConfigFile(fs *pflag.FlagSet, path string) ([]notice, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	entries, err := parseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	var notes []notice
	seen := map[string]int{}      // flag name -> line of its first key
	fromFile := map[string]bool{} // flags this file set
	for _, e := range entries {
		fl := fs.Lookup(e.key)
		switch {
		case strings.HasPrefix(e.key, "mcp."):
			continue
		case fl == nil:
			notes = append(notes, notice{"unknown configuration key ignored (not a server flag)",
				[]string{"config", path, "key", e.key, "line", fmt.Sprint(e.line)}})
			continue
		case fl.Name == "config":
			notes = append(notes, notice{"configuration key ignored: a config file cannot name another",
				[]string{"config", path, "key", e.key}})
			continue
		}
		if prev, dup := seen[fl.Name]; dup {
			notes = append(notes, notice{"configuration key set twice; the later value wins",
				[]string{"config", path, "key", e.key, "line", fmt.Sprint(e.line), "first_line", fmt.Sprint(prev)}})
		} else {
			seen[fl.Name] = e.line
		}
		if fl.Changed && !fromFile[fl.Name] || e.null {
			continue // given on the command line or in the environment
		}
		if err := setFromConfig(fs, fl, e); err != nil {
			return nil, fmt.Errorf("config %s:%d: %s: %w", path, e.line, e.key, err)
		}
		fromFile[fl.Name] = true
	}
	return notes, nil
}

// setFromConfig sets one flag from one entry. A list sets a flag that
// takes several values item by item; an empty list sets it to none.
func setFromConfig(fs *pflag.FlagSet, fl *pflag.Flag, e configEntry) error {
	if !e.list {
		return fs.Set(fl.Name, e.vals[0])
	}
	_, ok := fl.Value.(pflag.SliceValue)
	if !ok && fl.Value.Type() != kindStrings.String() {
		return fmt.Errorf("takes one value, not a list")
	}
	if ok && len(e.vals) == 0 {
		// An empty list is a value too: none (as the template writes an
		// empty default); pflag reads "" as the empty list.
		return fs.Set(fl.Name, "")
	}
	for _, v := range e.vals {
		if err := fs.Set(fl.Name, v); err != nil {
			return err
		}
	}
	return nil
}
