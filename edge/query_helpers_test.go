package edge_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
)

// put commits body under key in ns through the HTTP API.
func put(t *testing.T, s *edgetest.Server, ns, key, body string, extra ...string) {
	t.Helper()
	l := acquire(t, s, key, "q", `"namespace":"`+ns+`"`)
	mustOK(t, l.update(body, extra...), "update "+key)
	mustOK(t, l.release(false), "release "+key)
}

func flush(t *testing.T, s *edgetest.Server, ns string) {
	t.Helper()
	mustOK(t, s.Do("POST", "/v1/index/flush?namespace="+ns, nil), "flush")
}

// queryKeys runs a keys-mode query and decodes the response.
func queryKeys(t *testing.T, s *edgetest.Server, path string, body any) (api.QueryResponse, edgetest.Response) {
	t.Helper()
	r := s.Do("POST", path, body)
	if r.Status != 200 {
		t.Fatalf("query %s: %d %s", path, r.Status, r.Body)
	}
	var qr api.QueryResponse
	r.JSON(t, &qr)
	return qr, r
}

// allKeys pages through a query with the cursor until it ends.
func allKeys(t *testing.T, s *edgetest.Server, path string, body map[string]any) []string {
	t.Helper()
	var out []string
	for page := 0; page < 1000; page++ {
		qr, r := queryKeys(t, s, path, body)
		if r.Header.Get(api.HeaderQueryReturn) != "keys" || r.Header.Get(api.HeaderQueryCursor) != qr.Cursor {
			t.Fatalf("headers %v vs body cursor %q", r.Header, qr.Cursor)
		}
		out = append(out, qr.Keys...)
		if qr.Cursor == "" {
			return out
		}
		body["cursor"] = qr.Cursor
	}
	t.Fatal("too many pages")
	return nil
}

// docStream is a documents-mode response read with net/http, trailers
// included.
type docStream struct {
	status  int
	header  http.Header
	rows    []api.QueryRow
	raw     []string
	trailer http.Header
	err     error
}

func queryDocs(t *testing.T, s *edgetest.Server, path, body string) docStream {
	t.Helper()
	resp, err := s.Client.Post(s.URL()+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := docStream{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		out.raw = []string{string(b)}
		return out
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var row api.QueryRow
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("row %q: %v", sc.Text(), err)
		}
		out.rows = append(out.rows, row)
		out.raw = append(out.raw, sc.Text())
	}
	out.err = sc.Err()
	out.trailer = resp.Trailer
	return out
}

func keysOfRows(rows []api.QueryRow) string {
	var k []string
	for _, r := range rows {
		k = append(k, r.Key)
	}
	return strings.Join(k, ",")
}
