package crypt

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/lockdhq/lockd/store"
)

// Report is what Inspect found in a sample of a store.
type Report struct {
	Records, Blobs int // objects sampled
	Encrypted      int // envelopes that open with the key
	Plain          int // objects without an envelope
	WrongKey       int // envelopes of another root key
	Corrupt        int // envelopes that fail to open
	// First is the first problem seen, for error messages.
	First string
}

// Inspect reads up to limit records and limit blobs of raw (the store
// under the decorator) and classifies them. key may be nil when encryption
// is off: every envelope then counts as WrongKey.
func Inspect(ctx context.Context, raw store.Store, key *Key, limit int) (Report, error) {
	var r Report
	keys, err := raw.List(ctx, "", "", limit)
	if err != nil {
		return r, fmt.Errorf("crypt: list records: %w", err)
	}
	for _, k := range keys {
		rec, err := raw.Get(ctx, k)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return r, fmt.Errorf("crypt: read record %q: %w", k, err)
		}
		r.Records++
		r.classify("record "+k, recordErr(key, k, rec.Value))
	}
	names, err := raw.ListBlobs(ctx, "", "", limit)
	if err != nil {
		return r, fmt.Errorf("crypt: list blobs: %w", err)
	}
	for _, n := range names {
		err := blobErr(ctx, raw, key, n)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		r.Blobs++
		if err != nil && !isClass(err) {
			return r, fmt.Errorf("crypt: read blob %q: %w", n, err)
		}
		r.classify("blob "+n, err)
	}
	return r, nil
}

func recordErr(key *Key, name string, v []byte) error {
	if key == nil {
		if isMagic(v) {
			return ErrWrongKey
		}
		return ErrNotEncrypted
	}
	_, err := key.openRecord(name, v)
	return err
}

// blobErr reads the first frame of a blob through the key (or its first
// bytes without one): that checks the key and one authenticated frame
// without reading large blobs whole.
func blobErr(ctx context.Context, raw store.Store, key *Key, name string) error {
	rc, _, err := raw.OpenBlob(ctx, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	if key == nil {
		head := make([]byte, 4)
		n, _ := io.ReadFull(rc, head)
		if isMagic(head[:n]) {
			return ErrWrongKey
		}
		return ErrNotEncrypted
	}
	o, err := key.openStream(name, io.NopCloser(rc))
	if err != nil {
		return err
	}
	if _, err = o.Read(make([]byte, 1)); errors.Is(err, io.EOF) {
		err = nil // an empty blob: its final frame authenticated
	}
	return err
}

func isClass(err error) bool {
	return errors.Is(err, ErrNotEncrypted) || errors.Is(err, ErrWrongKey) || errors.Is(err, ErrCorrupt)
}

func (r *Report) classify(what string, err error) {
	switch {
	case err == nil:
		r.Encrypted++
		return
	case errors.Is(err, ErrNotEncrypted):
		r.Plain++
	case errors.Is(err, ErrWrongKey):
		r.WrongKey++
	default:
		r.Corrupt++
	}
	if r.First == "" {
		r.First = what + ": " + err.Error()
	}
}

// Check returns an error when the sample contradicts the configuration:
// with encryption on (encrypted), any plaintext, foreign or corrupt object;
// with it off, any envelope.
func (r Report) Check(encrypted bool) error {
	if encrypted {
		switch {
		case r.WrongKey > 0:
			return fmt.Errorf("%w: %d of the sampled objects (%s); load the bundle whose root key wrote this store", ErrWrongKey, r.WrongKey, r.First)
		case r.Corrupt > 0:
			return fmt.Errorf("%w: %d of the sampled objects (%s)", ErrCorrupt, r.Corrupt, r.First)
		case r.Plain > 0:
			return fmt.Errorf("%w: the store holds unencrypted data (%s); start with --disable-storage-encryption, or use an empty store", ErrNotEncrypted, r.First)
		}
		return nil
	}
	if r.WrongKey > 0 || r.Encrypted > 0 {
		return fmt.Errorf("crypt: the store holds encrypted data but storage encryption is off; start lockd with the server bundle (--bundle) that holds its root key")
	}
	return nil
}
