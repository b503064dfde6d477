package edge

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/lockdhq/lockd/sdk/api"
)

// FuzzEnqueueMultipart feeds arbitrary bodies and content types to the
// enqueue decoder: it never panics, calls onPayload at most once (exactly
// once on success), and every error is a 4xx with an error code.
func FuzzEnqueueMultipart(f *testing.F) {
	f.Add("multipart/form-data; boundary=XX", []byte("--XX\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{\"queue\":\"q\"}\r\n--XX\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\nhello\r\n--XX--\r\n"))
	f.Add("multipart/related; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"payload\"\r\nContent-Type: text/plain\r\n\r\nearly\r\n--b\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{\"queue\":\"q\",\"delay_seconds\":1}\r\n--b--\r\n"))
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\n\r\nunnamed\r\n--b--"))
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{\"queue\":\r\n--b--"))
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{}\r\n--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n\r\n--b--"))
	f.Add("text/plain", []byte("x"))
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		calls := 0
		err := readEnqueue(ctype, bytes.NewReader(body), 64, func(meta api.EnqueueRequest, ct string, r io.Reader) error {
			calls++
			_, err := io.Copy(io.Discard, r)
			return err
		})
		if calls > 1 || (err == nil && calls != 1) {
			t.Fatalf("onPayload called %d times (err %v)", calls, err)
		}
		if err == nil {
			return
		}
		var he *httpError
		if !errors.As(err, &he) {
			if calls == 1 {
				return // a read error surfaced through onPayload's io.Copy
			}
			t.Fatalf("untyped error %v", err)
		}
		if he.status < 400 || he.status >= 500 || he.code == "" || he.detail == "" {
			t.Fatalf("error %d %q %q", he.status, he.code, he.detail)
		}
	})
}

// FuzzEnqueueMeta checks the meta JSON decoder alone.
func FuzzEnqueueMeta(f *testing.F) {
	f.Add([]byte(`{"queue":"q","attributes":{"a":[1,2]},"max_attempts":3}`))
	f.Add([]byte(`{"queue":1}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := decodeEnqueueMeta(b)
		var he *httpError
		if err != nil && (!errors.As(err, &he) || he.status != 400) {
			t.Fatalf("meta %q: %v", b, err)
		}
	})
}

// FuzzFastEnqueue checks that the fast enqueue split accepts only bodies
// that mime/multipart reads to the same meta, payload and content type.
func FuzzFastEnqueue(f *testing.F) {
	f.Add("multipart/form-data; boundary=XX", []byte("--XX\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{\"queue\":\"q\"}\r\n--XX\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\nhello\r\n--XX--\r\n"))
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{\"queue\":\"q\"}\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n\r\n--b\r\n--b--"))
	f.Add("Multipart/Form-Data; Boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{}\r\n--b\r\nContent-Disposition:  form-data; name=\"payload\" \r\n\r\n\r\n--bx\r\n--b--"))
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		meta, payload, ptype, ok := fastEnqueue(ctype, body)
		if !ok {
			return
		}
		type got struct {
			meta    api.EnqueueRequest
			ct      string
			payload string
		}
		var slow got
		calls := 0
		err := readMultipart(ctype, bytes.NewReader(body), 64, func(m api.EnqueueRequest, ct string, r io.Reader) error {
			calls++
			b, err := io.ReadAll(r)
			slow = got{m, ct, string(b)}
			return err
		})
		m, merr := decodeEnqueueMeta(meta)
		if (err == nil) != (merr == nil) {
			t.Fatalf("fast split accepted %q (%q): meta error %v, mime/multipart error %v", body, ctype, merr, err)
		}
		if err != nil {
			return
		}
		if calls != 1 || slow.payload != string(payload) {
			t.Fatalf("payload %q, mime/multipart read %q (%d calls)", payload, slow.payload, calls)
		}
		ct := strings.TrimSpace(m.PayloadContentType)
		if ct == "" {
			ct = strings.TrimSpace(ptype)
		}
		if ct != slow.ct || !reflect.DeepEqual(m, slow.meta) {
			t.Fatalf("fast %+v %q, mime/multipart %+v %q", m, ct, slow.meta, slow.ct)
		}
	})
}
