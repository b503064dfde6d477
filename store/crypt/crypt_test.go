package crypt_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/crypt"
	"github.com/lockdhq/lockd/store/disk"
	"github.com/lockdhq/lockd/store/mem"
	"github.com/lockdhq/lockd/store/storetest"
)

func rootKey(t testing.TB) []byte {
	k := make([]byte, crypt.RootKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func wrap(t testing.TB, inner store.Store, root []byte, o crypt.Options) store.Store {
	t.Helper()
	s, err := crypt.New(inner, root, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestContractOverMem(t *testing.T) {
	for _, compress := range []bool{false, true} {
		storetest.Run(t, func(t *testing.T) store.Store {
			return wrap(t, mem.New(), rootKey(t), crypt.Options{Compress: compress})
		})
	}
}

func TestContractOverDisk(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		d, err := disk.Open(t.TempDir(), disk.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return wrap(t, d, rootKey(t), crypt.Options{Compress: true})
	})
}

// The decorator keeps every optional ability of the store it wraps, and
// each works through it (the contract suite runs over every combination).
func TestKeepsCapabilities(t *testing.T) {
	storetest.RunDecorator(t, func(*testing.T) store.Store { return mem.New() },
		func(t *testing.T, inner store.Store) store.Store {
			return wrap(t, inner, rootKey(t), crypt.Options{Compress: true})
		})
}

// TestNoPlaintextAtRest writes a known secret as a record (plain and
// compressible), in a batch and as multi-segment blobs, then scans every
// raw byte of the inner store for it.
func TestNoPlaintextAtRest(t *testing.T) {
	c := ctx(t)
	secret := "s3cr3t-" + strings.Repeat("launch-code-", 4)
	for _, compress := range []bool{false, true} {
		raw := mem.New()
		s := wrap(t, raw, rootKey(t), crypt.Options{Compress: compress})
		doc := `{"password":"` + secret + `","pad":"` + strings.Repeat("a", 4096) + `"}`
		if _, err := s.Put(c, "ns/k/doc", []byte(doc), store.Cond{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := store.Apply(c, s, []store.Op{{Key: "ns/k/batch", Value: []byte(secret)}}); err != nil {
			t.Fatal(err)
		}
		big := strings.Repeat(secret, 20000) // ~1.3 MB, many segments
		if _, err := s.WriteBlob(c, "ns/s/blob", strings.NewReader(big)); err != nil {
			t.Fatal(err)
		}
		assertNoSecret(t, c, raw, secret)
		// The decorator still reads everything back.
		rec, err := s.Get(c, "ns/k/doc")
		if err != nil || string(rec.Value) != doc {
			t.Fatalf("read back: %v", err)
		}
	}
}

func assertNoSecret(t *testing.T, c context.Context, raw store.Store, secret string) {
	t.Helper()
	keys, _ := raw.List(c, "", "", 0)
	for _, k := range keys {
		rec, err := raw.Get(c, k)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(rec.Value, []byte(secret)) || bytes.Contains(rec.Value, []byte(secret[:8])) {
			t.Fatalf("record %q holds plaintext", k)
		}
	}
	names, _ := raw.ListBlobs(c, "", "", 0)
	for _, n := range names {
		rc, _, err := raw.OpenBlob(c, n)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if bytes.Contains(b, []byte(secret[:8])) {
			t.Fatalf("blob %q holds plaintext", n)
		}
	}
}

func TestWrongKeyIsAClearError(t *testing.T) {
	c := ctx(t)
	raw := mem.New()
	a := wrap(t, raw, rootKey(t), crypt.Options{})
	a.Put(c, "k", []byte("v"), store.Cond{})
	a.WriteBlob(c, "b", strings.NewReader("blob"))
	b := wrap(t, raw, rootKey(t), crypt.Options{})
	if _, err := b.Get(c, "k"); !errors.Is(err, crypt.ErrWrongKey) {
		t.Fatalf("Get with another key: %v, want ErrWrongKey", err)
	}
	if _, _, err := b.OpenBlob(c, "b"); !errors.Is(err, crypt.ErrWrongKey) {
		t.Fatalf("OpenBlob with another key: %v, want ErrWrongKey", err)
	}
	rep, err := crypt.Inspect(c, raw, mustKey(t, rootKey(t)), 10)
	if err != nil || rep.WrongKey != 2 || !errors.Is(rep.Check(true), crypt.ErrWrongKey) {
		t.Fatalf("Inspect: %+v %v", rep, err)
	}
	if err := rep.Check(false); err == nil {
		t.Fatal("an encrypted store passes the check with encryption off")
	}
}

func TestPlaintextStoreIsAClearError(t *testing.T) {
	c := ctx(t)
	raw := mem.New()
	raw.Put(c, "k", []byte(`{"a":1}`), store.Cond{})
	raw.WriteBlob(c, "b", strings.NewReader("plain blob"))
	root := rootKey(t)
	s := wrap(t, raw, root, crypt.Options{})
	if _, err := s.Get(c, "k"); !errors.Is(err, crypt.ErrNotEncrypted) {
		t.Fatalf("Get plaintext: %v", err)
	}
	if _, _, err := s.OpenBlob(c, "b"); !errors.Is(err, crypt.ErrNotEncrypted) {
		t.Fatalf("OpenBlob plaintext: %v", err)
	}
	rep, _ := crypt.Inspect(c, raw, mustKey(t, root), 10)
	if rep.Plain != 2 || !errors.Is(rep.Check(true), crypt.ErrNotEncrypted) || rep.Check(false) != nil {
		t.Fatalf("Inspect: %+v", rep)
	}
}

func mustKey(t *testing.T, root []byte) *crypt.Key {
	k, err := crypt.NewKey(root)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestTamperedRecordFails(t *testing.T) {
	c := ctx(t)
	raw := mem.New()
	s := wrap(t, raw, rootKey(t), crypt.Options{})
	s.Put(c, "a", []byte("value-a"), store.Cond{})
	s.Put(c, "b", []byte("value-b"), store.Cond{})
	recA, _ := raw.Get(c, "a")
	// Swapping a value under another key fails: the key is authenticated.
	raw.Put(c, "b", recA.Value, store.Cond{})
	if _, err := s.Get(c, "b"); !errors.Is(err, crypt.ErrCorrupt) {
		t.Fatalf("moved record: %v, want ErrCorrupt", err)
	}
	for i := range recA.Value {
		v := bytes.Clone(recA.Value)
		v[i] ^= 0x40
		raw.Put(c, "a", v, store.Cond{})
		if got, err := s.Get(c, "a"); err == nil {
			t.Fatalf("flipped byte %d: read %q", i, got.Value)
		}
	}
}

func TestBlobSizesAndTruncation(t *testing.T) {
	c := ctx(t)
	seg := crypt.SegmentSize
	for _, n := range []int{0, 1, seg - 1, seg, seg + 1, 3 * seg, 3*seg + 7} {
		raw := mem.New()
		s := wrap(t, raw, rootKey(t), crypt.Options{})
		data := make([]byte, n)
		rand.Read(data)
		w, err := s.WriteBlob(c, "b", bytes.NewReader(data))
		if err != nil || w != int64(n) {
			t.Fatalf("n=%d: WriteBlob %d %v", n, w, err)
		}
		rc, size, err := s.OpenBlob(c, "b")
		if err != nil || size != int64(n) {
			t.Fatalf("n=%d: OpenBlob size %d %v", n, size, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("n=%d: content differs (%v)", n, err)
		}
		rc, _, _ = raw.OpenBlob(c, "b")
		env, _ := io.ReadAll(rc)
		rc.Close()
		// Every truncation, and one extra byte, fails to read back.
		cuts := []int{len(env) - 1, len(env) - 17, 60, 53}
		if n > seg {
			cuts = append(cuts, 53+4+seg+16) // exactly after the first frame
		}
		for _, cut := range cuts {
			if cut < 0 || cut >= len(env) {
				continue
			}
			raw.WriteBlob(c, "t", bytes.NewReader(env[:cut]))
			if err := readAll(c, s, "t"); !errors.Is(err, crypt.ErrCorrupt) {
				t.Fatalf("n=%d cut=%d/%d: %v, want ErrCorrupt", n, cut, len(env), err)
			}
		}
		raw.WriteBlob(c, "t", bytes.NewReader(append(bytes.Clone(env), 0)))
		if err := readAll(c, s, "t"); !errors.Is(err, crypt.ErrCorrupt) {
			t.Fatalf("n=%d extended: %v, want ErrCorrupt", n, err)
		}
	}
}

func readAll(c context.Context, s store.Store, name string) error {
	rc, _, err := s.OpenBlob(c, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

func TestBlobStreamsWithBoundedMemory(t *testing.T) {
	c := ctx(t)
	s := wrap(t, mem.New(), rootKey(t), crypt.Options{})
	// A reader that would panic if anyone asked for more than a segment at
	// once proves the sealer reads in segments.
	src := &chunkGuard{r: io.LimitReader(zeros{}, 10<<20), max: crypt.SegmentSize}
	if n, err := s.WriteBlob(c, "big", src); err != nil || n != 10<<20 {
		t.Fatalf("WriteBlob: %d %v", n, err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type chunkGuard struct {
	r   io.Reader
	max int
}

func (g *chunkGuard) Read(p []byte) (int, error) {
	if len(p) > g.max {
		panic("read larger than a segment")
	}
	return g.r.Read(p)
}

func TestFailedSourceLeavesNoBlob(t *testing.T) {
	c := ctx(t)
	s := wrap(t, mem.New(), rootKey(t), crypt.Options{})
	_, err := s.WriteBlob(c, "b", io.MultiReader(strings.NewReader("abc"), errReader{}))
	if err == nil {
		t.Fatal("WriteBlob with failing source succeeded")
	}
	if _, _, err := s.OpenBlob(c, "b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("OpenBlob: %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("client went away") }

func TestKeyWrapRFC3394(t *testing.T) {
	// RFC 3394 section 4.6: 256 bits of key data with a 256-bit KEK.
	kek := unhex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
	data := unhex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")
	want := unhex("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21")
	got, ok := crypt.KeyWrapForTest(kek, data)
	if !ok || !bytes.Equal(got, want) {
		t.Fatalf("wrap = %X", got)
	}
}

func unhex(s string) []byte {
	b := make([]byte, len(s)/2)
	for i := range b {
		b[i] = hexVal(s[2*i])<<4 | hexVal(s[2*i+1])
	}
	return b
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
