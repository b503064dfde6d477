package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lockdhq/lockd/index/lql"
)

// fileMutators read a local file into the value they set; the server
// cannot, so they need set, edit or mutate --local.
var fileMutators = []string{"base64file:", "textfile:", "file:"}

func isFileMutator(arg string) bool {
	a := strings.TrimSpace(arg)
	for _, p := range fileMutators {
		if strings.HasPrefix(a, p) {
			return true
		}
	}
	return false
}

// parseLocalMutations parses LQL mutation arguments, expanding the file
// mutators: file:/p=F sets the JSON in F, textfile:/p=F its text,
// base64file:/p=F its bytes in base64.
func parseLocalMutations(args []string) ([]lql.Mutation, error) {
	var out []lql.Mutation
	for _, a := range args {
		if !isFileMutator(a) {
			m, err := lql.ParseMutations(a)
			if err != nil {
				return nil, fmt.Errorf("mutation %q: %w", a, err)
			}
			out = append(out, m...)
			continue
		}
		m, err := fileMutation(strings.TrimSpace(a))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no mutations given")
	}
	return out, nil
}

func fileMutation(arg string) (lql.Mutation, error) {
	kind, rest, _ := strings.Cut(arg, ":")
	pointer, path, ok := strings.Cut(rest, "=")
	if !ok || path == "" {
		return lql.Mutation{}, fmt.Errorf("mutation %q: want %s:/path=FILE", arg, kind)
	}
	if !strings.HasPrefix(pointer, "/") {
		pointer = "/" + pointer
	}
	p, err := lql.ParsePath(pointer)
	if err != nil {
		return lql.Mutation{}, fmt.Errorf("mutation %q: %w", arg, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return lql.Mutation{}, fmt.Errorf("mutation %q: %w", arg, err)
	}
	m := lql.Mutation{Kind: lql.MutationSet, Path: p}
	switch kind {
	case "textfile":
		m.Value = string(data)
	case "base64file":
		m.Value = base64.StdEncoding.EncodeToString(data)
	default:
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&m.Value); err != nil {
			return lql.Mutation{}, fmt.Errorf("mutation %q: %s is not JSON (textfile: sets text): %w", arg, path, err)
		}
	}
	return m, nil
}

// mutateDocument applies mutations to a JSON document (empty or null
// counts as {}) and returns the result.
func mutateDocument(doc []byte, muts []lql.Mutation) (any, error) {
	var v any
	if t := bytes.TrimSpace(doc); len(t) > 0 {
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("parse JSON: %w", err)
		}
	}
	if v == nil {
		v = map[string]any{}
	}
	return lql.Apply(v, muts, time.Now)
}

// looksLikeFile reports whether edit's first argument names a file
// rather than a mutation.
func looksLikeFile(arg string) bool {
	if _, err := lql.ParseMutations(arg); err == nil {
		return false
	}
	st, err := os.Stat(arg)
	return err == nil && st.Mode().IsRegular()
}
