package keyspace

import (
	"encoding/json"
	"reflect"
	"testing"
)

func sampleRecords() []record {
	t, f := true, false
	att := &attachment{ID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Name: "a.pdf", Size: 12, ContentType: "application/pdf", SHA256: "ab", Created: 1, Updated: 2, Blob: "ns/a/k:x"}
	return []record{
		{},
		{Fencing: 7, Version: 3, ETag: "e", State: json.RawMessage(`{"a":1}`), UpdatedAt: 99, Hidden: true},
		{Fencing: 1, Blob: "ns/s/k:x", Size: 1 << 30, Lease: &leaseRec{ID: "l", Owner: "ö wner", Txn: "t", Expires: -5, Fencing: 1, Enlisted: true, PreparedBy: "b-hash"},
			Staged: &stagedRec{Txn: "t", Version: 4, Removed: true, Hidden: &t, ClearAttachments: true,
				Attachments: map[string]*attachment{"gone": nil, "new": {ID: "i", Name: "new", SHA256: "s", Blob: "b"}}},
			Attachments: map[string]*attachment{"a.pdf": att}, Ended: &endedRec{ID: "old", Outcome: "expired", Staged: true}},
		{Staged: &stagedRec{Txn: "t", Version: 1, ETag: "x", State: json.RawMessage(`[1]`), Hidden: &f}},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for i, r := range sampleRecords() {
		b, err := r.encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeRecord(b)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("%d: round trip\n got %+v\nwant %+v", i, got, r)
		}
		legacy, _ := json.Marshal(r) // records of earlier builds
		if old, err := decodeRecord(legacy); err != nil || old.Fencing != r.Fencing || old.Version != r.Version {
			t.Fatalf("%d: legacy JSON: %+v %v", i, old, err)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, r := range sampleRecords() {
		b, _ := r.encode()
		f.Add(b)
	}
	f.Add([]byte{codecV1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		again, err := r.encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeRecord(again); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
	})
}
