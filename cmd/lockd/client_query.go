package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lockdhq/lockd/index/lql"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

// maxQueryPages bounds how many pages a key listing follows.
const maxQueryPages = 100000

func runQuery(cl *cli, args []string) error {
	fs := cl.flagSet("query")
	ns := fs.StringP("namespace", "n", "", "namespace (default $"+envNamespace+")")
	file := fs.StringP("file", "f", "-", "write the result to FILE (- for stdout)")
	output := fs.StringP("output", "o", "json", "keys as json (an array) or text (one per line)")
	docs := fs.BoolP("documents", "d", false, "stream the matching documents as NDJSON")
	dir := fs.StringP("directory", "F", "", "write each matching document to DIR/<key>.json")
	limit := fs.Int("limit", 0, "one page of at most this many keys (default: every match)")
	cursor := fs.String("cursor", "", "continue after this cursor")
	engine := fs.String("engine", "", "query engine: auto, index or scan")
	if err := cl.parse(fs, "lockd client query [flags] SELECTOR (\"\" matches every key)", args, map[string]string{"namespace": envNamespace}); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf(`a selector is required, e.g. '/status="ready"' (use "" to match every key)`)
	}
	mode, err := outputMode(*output)
	if err != nil {
		return err
	}
	documents := *docs || *dir != ""
	if documents && mode == "text" {
		return fmt.Errorf("--output text lists keys; it does not combine with --documents or --directory")
	}
	if *dir != "" && *file != "-" {
		return fmt.Errorf("--directory and --file do not combine")
	}
	sel, err := lql.ParseSelector(strings.Join(fs.Args(), "\n"))
	if err != nil {
		return fmt.Errorf("selector: %w", err)
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	req := sdk.QueryRequest{Namespace: *ns, Limit: *limit, Cursor: *cursor, Engine: *engine}
	if !sel.IsEmpty() {
		req.Selector = sel
	}
	if documents {
		req.Return = api.QueryReturnDocuments
		return cl.queryDocuments(c, req, *file, *dir)
	}
	return cl.queryKeys(c, req, *file, mode)
}

// queryKeys lists the matching keys, following cursors unless --limit
// asked for one page (whose cursor then goes to stderr).
func (cl *cli) queryKeys(c *sdk.Client, req sdk.QueryRequest, file, mode string) error {
	keys := []string{}
	for range maxQueryPages {
		q, err := c.Query(cl.context(), req)
		if err != nil {
			return err
		}
		page, err := q.Keys()
		q.Close()
		if err != nil {
			return err
		}
		keys = append(keys, page...)
		next := q.Cursor()
		if req.Limit > 0 {
			if next != "" {
				fmt.Fprintf(cl.stderr, "cursor: %s\n", next)
			}
			break
		}
		if next == "" || next == req.Cursor {
			break
		}
		req.Cursor = next
	}
	w, err := cl.openOutput(file)
	if err != nil {
		return err
	}
	defer w.Close()
	if mode == "text" {
		bw := bufio.NewWriter(w)
		for _, k := range keys {
			bw.WriteString(k + "\n")
		}
		return bw.Flush()
	}
	b, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// queryDocuments streams the matching documents as NDJSON, or into one
// file per key.
func (cl *cli) queryDocuments(c *sdk.Client, req sdk.QueryRequest, file, dir string) error {
	q, err := c.Query(cl.context(), req)
	if err != nil {
		return err
	}
	defer q.Close()
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		used := map[string]int{}
		return q.ForEach(func(r sdk.QueryRow) error { return writeDocFile(dir, r, used) })
	}
	w, err := cl.openOutput(file)
	if err != nil {
		return err
	}
	defer w.Close()
	bw := bufio.NewWriter(w)
	err = q.ForEach(func(r sdk.QueryRow) error {
		if _, err := io.Copy(bw, r.DocumentReader()); err != nil {
			return err
		}
		return bw.WriteByte('\n')
	})
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if err == nil && q.Cursor() != "" {
		fmt.Fprintf(cl.stderr, "cursor: %s\n", q.Cursor())
	}
	return err
}

// writeDocFile writes a row to DIR/<key>.json, the key made a file name
// ('/' becomes '-'); clashing names get -1, -2, … suffixes.
func writeDocFile(dir string, r sdk.QueryRow, used map[string]int) error {
	base := strings.Trim(strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			return c
		case c == '/' || c == '\\' || c == ' ':
			return '-'
		}
		return '_'
	}, r.Key), "-_.")
	if base == "" {
		base = "doc"
	}
	name := base
	if n := used[base]; n > 0 {
		name = fmt.Sprintf("%s-%d", base, n)
	}
	used[base]++
	return replaceFile(filepath.Join(dir, name+".json"), append(append([]byte{}, r.Doc...), '\n'))
}

func runNamespace(cl *cli, args []string) error {
	if len(args) > 0 && args[0] == "set" {
		return runNamespaceSet(cl, args[1:])
	}
	if len(args) > 0 && args[0] == "get" {
		args = args[1:]
	}
	fs := cl.flagSet("namespace")
	ns := fs.StringP("namespace", "n", "", "namespace (default $"+envNamespace+", else the server's)")
	output := fs.StringP("output", "o", "json", "output: json or text")
	if err := cl.parse(fs, "lockd client namespace [get] [flags] | namespace set query --preferred ENGINE [--fallback ENGINE]", args, map[string]string{"namespace": envNamespace}); err != nil {
		return err
	}
	mode, err := outputMode(*output)
	if err != nil {
		return err
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	cfg, etag, err := c.NamespaceConfig(cl.context(), *ns)
	if err != nil {
		return err
	}
	return cl.printNamespace(mode, cfg, etag)
}

func runNamespaceSet(cl *cli, args []string) error {
	if len(args) > 0 && args[0] == "query" {
		args = args[1:]
	}
	fs := cl.flagSet("namespace set query")
	ns := fs.StringP("namespace", "n", "", "namespace (default $"+envNamespace+", else the server's)")
	preferred := fs.String("preferred", "", "preferred query engine: index or scan")
	fallback := fs.String("fallback", "", "fallback query engine: scan or none")
	ifMatch := fs.String("if-match", "", "only if the configuration's etag is this")
	output := fs.StringP("output", "o", "json", "output: json or text")
	if err := cl.parse(fs, "lockd client namespace set query [flags]", args, map[string]string{"namespace": envNamespace}); err != nil {
		return err
	}
	mode, err := outputMode(*output)
	if err != nil {
		return err
	}
	if *preferred == "" && *fallback == "" {
		return fmt.Errorf("give --preferred or --fallback")
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	cfg, etag, err := c.UpdateNamespaceConfig(cl.context(), api.NamespaceConfigRequest{Namespace: *ns,
		Query: api.NamespaceQueryConfig{PreferredEngine: *preferred, FallbackEngine: *fallback}}, *ifMatch)
	if err != nil {
		return err
	}
	return cl.printNamespace(mode, cfg, etag)
}

func (cl *cli) printNamespace(mode string, cfg *api.NamespaceConfigResponse, etag string) error {
	if mode == "text" {
		fmt.Fprintf(cl.stdout, "namespace: %s\npreferred_engine: %s\nfallback_engine: %s\netag: %s\n",
			cfg.Namespace, cfg.Query.PreferredEngine, cfg.Query.FallbackEngine, etag)
		return nil
	}
	return writeJSON(cl.stdout, struct {
		*api.NamespaceConfigResponse
		ETag string `json:"etag,omitempty"`
	}{cfg, etag})
}
