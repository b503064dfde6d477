package edge

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/lockdhq/lockd/sdk/api"
)

// strictDecode is what decodeStrict does with a body.
func strictDecode(b []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if dec.Decode(v) != nil || dec.More() {
		return false
	}
	_, err := dec.Token()
	return err != nil
}

func TestDecodeFlatCases(t *testing.T) {
	for _, tc := range []struct {
		body string
		fast bool
	}{
		{`{"key":"k","owner":"o","ttl_seconds":30,"block_seconds":-1,"if_not_exists":true}`, true},
		{` { "key" : "k" , "txn_id":null } `, true},
		{`{}`, true},
		{`{"key":"k\n"}`, false},       // escape: encoding/json decides
		{`{"key":"ü"}`, false},         // non-ASCII: encoding/json decides
		{`{"Key":"k"}`, false},         // case-folded names: encoding/json decides
		{`{"ttl_seconds":1.5}`, false}, // not an integer
		{`{"ttl_seconds":"1"}`, false}, // wrong type
		{`{"bogus":1}`, false},         // unknown field
		{`{"key":"k"} {}`, false},      // trailing value
		{`{"key":"k",}`, false},        // trailing comma
		{`{"ttl_seconds":01}`, false},  // leading zero
		{`{"ttl_seconds":99999999999999999999}`, false},
	} {
		var got api.AcquireRequest
		if ok := fastDecode([]byte(tc.body), &got); ok != tc.fast {
			t.Errorf("%s: fast %v, want %v", tc.body, ok, tc.fast)
		}
	}
}

// FuzzDecodeFlat: whenever the fast path accepts a body, encoding/json's
// strict decoding accepts it too and yields the same value.
func FuzzDecodeFlat(f *testing.F) {
	for _, s := range []string{`{"key":"k","owner":"o","ttl_seconds":30}`, `{"lease_id":"x","rollback":true}`, `{}`, `{"key":null}`, `{"block_seconds":-0}`, `{"queue":"q","message_id":"m","lease_id":"l","fencing_token":3,"meta_etag":"e","state_fencing_token":1}`, `{"queue":"q","payload_content_type":"application/json","max_attempts":3,"delay_seconds":0}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, mk := range []func() (any, any){
			func() (any, any) { return &api.AcquireRequest{}, &api.AcquireRequest{} },
			func() (any, any) { return &api.ReleaseRequest{}, &api.ReleaseRequest{} },
			func() (any, any) { return &api.KeepAliveRequest{}, &api.KeepAliveRequest{} },
			func() (any, any) { return &api.AckRequest{}, &api.AckRequest{} },
			func() (any, any) { return &api.EnqueueRequest{}, &api.EnqueueRequest{} },
		} {
			fast, slow := mk()
			if !fastDecode(b, fast) {
				continue
			}
			if !strictDecode(b, slow) {
				t.Fatalf("fast path accepted %q, encoding/json refuses it", b)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("%q: fast %+v, encoding/json %+v", b, fast, slow)
			}
		}
	})
}
