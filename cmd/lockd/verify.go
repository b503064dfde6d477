package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/crypt"
)

const verifyUsage = `usage: lockd verify store [server flags]

Checks the store the server flags (and LOCKD_* variables) name: that its
credentials can list, read, write and delete records and blobs, that the
bundle's root key encrypts and decrypts a probe object, and that a sample of
the existing objects decrypts with that key (or is plaintext when storage
encryption is off). Nothing is left behind. Exits non-zero on any failure.
`

// runVerify runs "lockd verify ARGS".
func runVerify(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "store" {
		fmt.Fprint(stdout, verifyUsage)
		if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
			return nil
		}
		return fmt.Errorf("verify: unknown target %q", args[0])
	}
	s, err := loadSettings(args[1:], stdout)
	if errors.Is(err, errHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	f := s.f
	log := zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true, PartsExclude: []string{zerolog.TimestampFieldName}}).Level(zerolog.WarnLevel)
	s.report(log)
	f.cfg.StoreOptions.S3MaxPartSize = *f.s3PartSize
	sec, err := f.sec.security(log, false)
	if err != nil {
		return err
	}
	v := &verifier{out: stdout, sec: &sec}
	if err := v.run(f.cfg.Store, f.cfg.StoreOptions); err != nil {
		return fmt.Errorf("verify store: %w", err)
	}
	return nil
}

type verifier struct {
	out    io.Writer
	sec    *server.Security
	failed int
}

func (v *verifier) check(name string, err error) {
	if err != nil {
		v.failed++
		fmt.Fprintf(v.out, "FAIL  %s: %v\n", name, err)
		return
	}
	fmt.Fprintf(v.out, "ok    %s\n", name)
}

func (v *verifier) run(url string, o server.StoreOptions) error {
	if url == "" {
		url = server.DefaultStore
	}
	raw, err := server.OpenStore(url, o)
	if err != nil {
		v.check("open "+url, err)
		advise(v.out, url, o, false)
		return errors.New("cannot open the store")
	}
	defer raw.Close()
	v.check("open "+url, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mode := "storage encryption off"
	if v.sec.Encrypted() {
		mode = "storage encryption on, root key id " + keyID(v.sec.Bundle.StorageKey)
	}
	fmt.Fprintf(v.out, "      %s\n", mode)
	st := v.sec.WrapStore(raw) // not closed: raw is, once
	recErr := probeRecords(ctx, st)
	v.check("records: create, read, compare-and-swap, list, delete", recErr)
	blobErr := probeBlobs(ctx, st)
	v.check("blobs: write, read, list, delete", blobErr)
	if recErr != nil || blobErr != nil {
		advise(v.out, url, o, recErr != nil && strings.Contains(recErr.Error(), "conditional"))
	}
	rep, err := crypt.Inspect(ctx, raw, storeKey(v.sec), 64)
	if err == nil {
		fmt.Fprintf(v.out, "      sampled %d record(s), %d blob(s): ", rep.Records, rep.Blobs)
		if v.sec.Encrypted() {
			fmt.Fprintf(v.out, "%d decrypt with this key, %d plaintext, %d of another key, %d corrupt\n",
				rep.Encrypted, rep.Plain, rep.WrongKey, rep.Corrupt)
		} else {
			fmt.Fprintf(v.out, "%d plaintext, %d encrypted\n", rep.Plain, rep.WrongKey)
		}
		err = rep.Check(v.sec.Encrypted())
	}
	v.check("existing objects readable with this configuration", err)
	if v.failed > 0 {
		return fmt.Errorf("%d check(s) failed", v.failed)
	}
	return nil
}

func storeKey(s *server.Security) *crypt.Key {
	if !s.Encrypted() {
		return nil
	}
	k, err := crypt.NewKey(s.Bundle.StorageKey)
	if err != nil {
		return nil
	}
	return k
}

func probeName() string {
	b := make([]byte, 8)
	rand.Read(b)
	return ".lockd-verify/" + hex.EncodeToString(b)
}

func probeRecords(ctx context.Context, st store.Store) (err error) {
	key := probeName()
	defer func() {
		if derr := st.Delete(ctx, key, store.Cond{}); err == nil && derr != nil {
			err = fmt.Errorf("delete: %w", derr)
		}
	}()
	value := []byte(`{"probe":"lockd verify store"}`)
	tag, err := st.Put(ctx, key, value, store.Cond{IfNotExists: true})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	rec, err := st.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	if !bytes.Equal(rec.Value, value) || rec.ETag != tag {
		return errors.New("read back a different value or etag")
	}
	if _, err := st.Put(ctx, key, value, store.Cond{IfMatch: tag}); err != nil {
		return fmt.Errorf("conditional write: %w", err)
	}
	if _, err := st.Put(ctx, key, value, store.Cond{IfMatch: tag}); !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("a stale conditional write was not refused (%w): compare-and-swap is broken", err)
	}
	keys, err := st.List(ctx, ".lockd-verify/", "", 0)
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	for _, k := range keys {
		if k == key {
			return nil
		}
	}
	return errors.New("list does not show the probe record")
}

func probeBlobs(ctx context.Context, st store.Store) (err error) {
	name := probeName()
	defer func() {
		if derr := st.DeleteBlob(ctx, name); err == nil && derr != nil {
			err = fmt.Errorf("delete: %w", derr)
		}
	}()
	data := bytes.Repeat([]byte("lockd verify store "), 8000) // > 2 encryption segments
	if _, err := st.WriteBlob(ctx, name, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	rc, size, err := st.OpenBlob(ctx, name)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if size != int64(len(data)) || !bytes.Equal(got, data) {
		return errors.New("read back different bytes")
	}
	names, err := st.ListBlobs(ctx, ".lockd-verify/", "", 0)
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	for _, n := range names {
		if n == name {
			return nil
		}
	}
	return errors.New("list does not show the probe blob")
}
