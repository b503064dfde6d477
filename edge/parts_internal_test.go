package edge

import (
	"bytes"
	"mime/multipart"
	"net/textproto"
	"testing"
)

// partWriter writes the bytes mime/multipart.Writer writes for the same
// parts, so every multipart reader parses dequeue answers as before.
func TestPartWriterMatchesMultipart(t *testing.T) {
	type part struct {
		hdr  [][2]string // sorted by name
		body string
	}
	for _, parts := range [][]part{
		nil,
		{{hdr: [][2]string{{"Content-Disposition", `form-data; name="meta"`}, {"Content-Type", "application/json"}}, body: `{"a":1}` + "\n"}},
		{
			{hdr: [][2]string{{"Content-Disposition", `form-data; name="meta"; filename="meta-0.json"`}, {"Content-Type", "application/json"}}, body: "{}\n"},
			{hdr: [][2]string{{"Content-Disposition", `form-data; name="payload"; filename="payload-0"`}, {"Content-Length", "0"}, {"Content-Type", "text/plain"}}},
			{hdr: [][2]string{{"Content-Disposition", `form-data; name="payload"`}, {"Content-Length", "3"}, {"Content-Type", "x/y"}}, body: "abc"},
		},
	} {
		boundary := newBoundary()
		var want, got bytes.Buffer
		mw := multipart.NewWriter(&want)
		if err := mw.SetBoundary(boundary); err != nil {
			t.Fatal(err)
		}
		pw := newPartWriter(&got, boundary)
		for _, p := range parts {
			h := textproto.MIMEHeader{}
			var lines []string
			for _, kv := range p.hdr {
				h.Set(kv[0], kv[1])
				lines = append(lines, kv[0]+": "+kv[1])
			}
			w, err := mw.CreatePart(h)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte(p.body))
			if err := pw.open(lines...); err != nil {
				t.Fatal(err)
			}
			got.WriteString(p.body)
		}
		mw.Close()
		pw.close()
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("partWriter wrote\n%q\nmime/multipart\n%q", got.Bytes(), want.Bytes())
		}
	}
}
