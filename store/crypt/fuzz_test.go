package crypt_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/crypt"
	"github.com/lockdhq/lockd/store/mem"
)

var fuzzRoot = bytes.Repeat([]byte{7}, crypt.RootKeySize)

// FuzzOpen feeds arbitrary stored bytes to the record and blob readers:
// they must fail with one of the package's errors (or, for bytes that are
// a valid envelope, return what was sealed), never panic or hang.
func FuzzOpen(f *testing.F) {
	c := context.Background()
	raw := mem.New()
	s, _ := crypt.New(raw, fuzzRoot, crypt.Options{Compress: true})
	s.Put(c, "k", []byte(`{"a":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`), store.Cond{})
	s.WriteBlob(c, "k", bytes.NewReader(bytes.Repeat([]byte("x"), 70000)))
	rec, _ := raw.Get(c, "k")
	f.Add(rec.Value)
	rc, _, _ := raw.OpenBlob(c, "k")
	blob, _ := io.ReadAll(rc)
	rc.Close()
	f.Add(blob)
	f.Add([]byte("LKE\x01"))
	f.Add([]byte("LKS\x01\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		raw := mem.New()
		s, _ := crypt.New(raw, fuzzRoot, crypt.Options{Compress: true})
		raw.Put(c, "k", data, store.Cond{})
		if _, err := s.Get(c, "k"); err != nil && !known(err) {
			t.Fatalf("Get: unexpected error %v", err)
		}
		raw.WriteBlob(c, "k", bytes.NewReader(data))
		rc, _, err := s.OpenBlob(c, "k")
		if err != nil {
			if !known(err) {
				t.Fatalf("OpenBlob: unexpected error %v", err)
			}
			return
		}
		defer rc.Close()
		if _, err := io.Copy(io.Discard, rc); err != nil && !known(err) {
			t.Fatalf("read blob: unexpected error %v", err)
		}
	})
}

func known(err error) bool {
	return errors.Is(err, crypt.ErrCorrupt) || errors.Is(err, crypt.ErrNotEncrypted) || errors.Is(err, crypt.ErrWrongKey)
}
