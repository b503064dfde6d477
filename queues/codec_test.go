package queues

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func sampleRecords() []record {
	return []record{
		{},
		{ID: "01a2", EnqueuedAt: 1, VisibleAt: 2, MaxAttempts: 5, Size: 3, Inline: []byte("abc"), ContentType: "text/plain"},
		{ID: "01a3", EnqueuedAt: 10, VisibleAt: 40, Visibility: 30e9, ExpiresAt: 99, MaxAttempts: 2, Attempts: 7, Failures: 1,
			Fencing: 1 << 40, Lease: &leaseRec{ID: "l", Owner: "ö wner", Txn: "t", Expires: -5, Fencing: 1 << 40, Visibility: 1},
			CorrelationID: "cid", Attributes: json.RawMessage(`{"a":[1,2]}`), Size: 1 << 33, Blob: "ns/q/jobs:p/01a3",
			LastError: json.RawMessage(`"boom"`), Dead: &deadRec{Reason: "max_attempts_exceeded", At: 123}},
	}
}

// Binary records decode to what they were, and to what the JSON form of
// earlier builds decodes to.
func TestCodecRoundTrip(t *testing.T) {
	for i, r := range sampleRecords() {
		b, err := r.encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeRecord(b)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		js, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		old, err := decodeRecord(js)
		if err != nil {
			t.Fatalf("record %d as JSON: %v", i, err)
		}
		if !reflect.DeepEqual(got, old) || !reflect.DeepEqual(got, r) {
			t.Fatalf("record %d:\nbinary %+v\njson   %+v\nwant   %+v", i, got, old, r)
		}
	}
}

func TestCodecRejectsDamage(t *testing.T) {
	b, _ := sampleRecords()[2].encode()
	for _, bad := range [][]byte{nil, {0x00}, b[:len(b)-1], append(append([]byte(nil), b...), 0)} {
		if _, err := decodeRecord(bad); !errors.Is(err, errCorrupt) {
			t.Fatalf("%x: %v", bad, err)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, r := range sampleRecords() {
		b, _ := r.encode()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil || len(b) == 0 || b[0] != codecV1 {
			return
		}
		again, _ := r.encode()
		back, err := decodeRecord(again)
		if err != nil || !reflect.DeepEqual(back, r) {
			t.Fatalf("re-encoded record does not round-trip: %v", err)
		}
	})
}
