package keyspace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/lockdhq/lockd/internal/domainerr"
	"github.com/lockdhq/lockd/store"
)

// Committed is one commit of a key's published state, in commit order per
// key. The commit is durable once Durable.Wait returns.
type Committed struct {
	Ref
	Version int64
	// Removed is set when the commit removed the state (Doc is nil).
	Removed bool
	Hidden  bool
	ETag    string
	// Doc is the compacted JSON state when it is small; otherwise nil and
	// the state is read with Service.OpenState(View).
	Doc     []byte
	View    View
	Durable store.Durable
}

// Observer receives commits (for the secondary index). Observe is called
// from the key's actor and must not block: queue the event and return.
type Observer interface {
	Observe(Committed)
}

// SetObserver installs the commit observer; call it before serving.
func (s *Service) SetObserver(o Observer) { s.observer = o }

// notify tells the observer that a commit of published state happened.
func (a *keyActor) notify(d store.Durable) {
	o := a.svc.observer
	if o == nil {
		return
	}
	v := a.rec.committedView()
	o.Observe(Committed{Ref: a.ref, Version: a.rec.Version, Removed: v.NoState, Hidden: a.rec.Hidden,
		ETag: a.rec.ETag, Doc: v.Inline, View: v, Durable: d})
}

// Document is a committed document found by Scan.
type Document struct {
	Ref
	Version int64
	Hidden  bool
	ETag    string
	View    View
}

// Scan calls fn for every key of namespace with committed state, in key
// order, starting after the key after. It reads durable records from the
// store without waking actors, so it sees what was committed. fn returning
// an error stops the scan with that error.
func (s *Service) Scan(ctx context.Context, namespace, after string, fn func(Document) error) error {
	prefix := namespace + "/k/"
	cursor := ""
	if after != "" {
		cursor = prefix + after
	}
	visit := func(k string, value []byte) error {
		r, err := decodeRecord(value)
		if err != nil {
			return fmt.Errorf("keyspace: scan: record %s: %w", k, err)
		}
		if r.ETag == "" {
			return nil
		}
		return fn(Document{Ref: Ref{Namespace: namespace, Key: strings.TrimPrefix(k, prefix)},
			Version: r.Version, Hidden: r.Hidden, ETag: r.ETag, View: r.committedView()})
	}
	if sc, ok := s.st.(store.Scanner); ok {
		return sc.Scan(ctx, prefix, cursor, 0, func(k string, rec store.Record) error { return visit(k, rec.Value) })
	}
	for {
		keys, err := s.st.List(ctx, prefix, cursor, 500)
		if err != nil {
			return fmt.Errorf("%w: scan: %w", ErrUnavailable, err)
		}
		if len(keys) == 0 {
			return nil
		}
		for _, k := range keys {
			rec, err := s.st.Get(ctx, k)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("%w: scan: %w", ErrUnavailable, err)
			}
			if err := visit(k, rec.Value); err != nil {
				return err
			}
		}
		cursor = keys[len(keys)-1]
	}
}

// ReadCommitted returns a key's published view from its durable record,
// without waking the key's actor (for bulk readers such as queries).
func (s *Service) ReadCommitted(ctx context.Context, ref Ref) (View, error) {
	rec, err := s.st.Get(ctx, RecordKey(ref))
	if errors.Is(err, store.ErrNotFound) {
		return View{NoState: true}, nil
	}
	if err != nil {
		return View{}, fmt.Errorf("%w: read %s: %w", ErrUnavailable, RecordKey(ref), err)
	}
	r, err := decodeRecord(rec.Value)
	if err != nil {
		return View{}, fmt.Errorf("keyspace: record %s: %w", RecordKey(ref), err)
	}
	return r.committedView(), nil
}

// Namespaces lists the namespaces that have key records.
func (s *Service) Namespaces(ctx context.Context) ([]string, error) {
	var out []string
	after := ""
	for {
		keys, err := s.st.List(ctx, "", after, 1)
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			return out, nil
		}
		ns, _, _ := strings.Cut(keys[0], "/")
		if !strings.HasPrefix(ns, ".") {
			out = append(out, ns)
		}
		after = ns + "/\xff" // skip the rest of this namespace
	}
}

// ReadDocument decodes a view's JSON state (json.Number for numbers).
func (s *Service) ReadDocument(ctx context.Context, v View) (any, error) {
	r, err := s.OpenState(ctx, v)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
			// The stored state was validated JSON when written.
			return nil, fmt.Errorf("keyspace: state of %s: %w: %w", v.ETag, store.ErrCorrupt, err)
		}
		return nil, fmt.Errorf("%w: decode state: %w", ErrUnavailable, err)
	}
	return doc, nil
}

// MutateRequest changes the holder's state with a function.
type MutateRequest struct {
	Ref
	LeaseProof
	IfVersion *int64
	IfETag    string
}

// Mutate reads the holder's view of the state (nil when there is none),
// passes the decoded document to fn and stages what fn returns. If the
// state changed between the read and the write the call fails with
// ErrETagMismatch; nothing is staged when fn fails.
func (s *Service) Mutate(ctx context.Context, req MutateRequest, fn func(doc any) (any, error)) (UpdateResult, error) {
	v, err := s.Get(ctx, GetRequest{Ref: req.Ref, LeaseProof: req.LeaseProof})
	if err != nil {
		return UpdateResult{}, err
	}
	var doc any
	if !v.NoState {
		if doc, err = s.ReadDocument(ctx, v); err != nil {
			return UpdateResult{}, err
		}
	}
	out, err := fn(doc)
	if err != nil {
		return UpdateResult{}, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return UpdateResult{}, fmt.Errorf("keyspace: encode mutated state: %w", err)
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	ifTag := req.IfETag
	if ifTag == "" && !v.NoState {
		ifTag = v.ETag // the state must not change under us
	}
	if ifTag != "" && v.ETag != "" && trimQuotes(ifTag) != v.ETag {
		return UpdateResult{}, &domainerr.Error{Err: ErrETagMismatch, Detail: "current state etag does not match", CurrentETag: v.ETag}
	}
	return s.Update(ctx, UpdateRequest{Ref: req.Ref, LeaseProof: req.LeaseProof, IfVersion: req.IfVersion, IfETag: ifTag,
		Body: io.NopCloser(bytes.NewReader(body)), Size: int64(len(body)), ETag: sha256Hex(body)})
}
