package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lockdhq/lockd/index/lql"
)

// Document is a JSON state document held in memory, with LQL mutations
// applied locally (lockd v0.9's client.Document). Save it with
// LeaseSession.Save(ctx, doc.Body) or stream it with Reader.
type Document struct {
	Namespace string
	Key       string
	Version   string
	ETag      string
	Metadata  map[string]string
	// Body is the document; nil reads as {}.
	Body map[string]any
}

// errNilDocument is returned by the methods of a nil *Document.
var errNilDocument = errors.New("lockd: nil document")

// NewDocument returns an empty document for namespace/key.
func NewDocument(namespace, key string) *Document {
	return &Document{Namespace: namespace, Key: key, Body: map[string]any{}}
}

// Mutate applies LQL mutations ("/count++", "/status=\"done\"") with the
// wall clock for NOW. It is atomic: on error the body is unchanged.
func (d *Document) Mutate(exprs ...string) error { return d.MutateWithTime(time.Now(), exprs...) }

// MutateWithTime applies LQL mutations with now for NOW.
func (d *Document) MutateWithTime(now time.Time, exprs ...string) error {
	if d == nil {
		return errNilDocument
	}
	muts, err := lql.ParseMutations(exprs...)
	if err != nil {
		return fmt.Errorf("lockd: document %s: %w", d.Key, err)
	}
	var doc any = map[string]any{}
	if d.Body != nil {
		doc = d.Body
	}
	out, err := lql.Apply(doc, muts, func() time.Time { return now })
	if err != nil {
		return fmt.Errorf("lockd: document %s: %w", d.Key, err)
	}
	body, ok := out.(map[string]any)
	if !ok {
		return fmt.Errorf("lockd: document %s: mutations made the root a %T, not an object", d.Key, out)
	}
	d.Body = body
	return nil
}

// Bytes returns the body as compact JSON.
func (d *Document) Bytes() ([]byte, error) {
	if d == nil {
		return nil, errNilDocument
	}
	if d.Body == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(d.Body)
}

// Reader returns a reader of the body's JSON (for LeaseSession.Update).
func (d *Document) Reader() (io.Reader, error) {
	b, err := d.Bytes()
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

// LoadFrom replaces the body with the JSON object read from r.
func (d *Document) LoadFrom(r io.Reader) error {
	if d == nil {
		return errNilDocument
	}
	var body map[string]any
	if err := json.NewDecoder(r).Decode(&body); err != nil {
		return fmt.Errorf("lockd: document %s: %w", d.Key, err)
	}
	d.Body = body
	return nil
}

// Write replaces the body with the JSON object in p (io.Writer, for
// io.Copy from a GetResponse); p must hold the whole document.
func (d *Document) Write(p []byte) (int, error) {
	if err := d.LoadFrom(bytes.NewReader(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// LoadInto decodes the body into v.
func (d *Document) LoadInto(v any) error {
	b, err := d.Bytes()
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
