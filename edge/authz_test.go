package edge_test

import (
	"bytes"
	"mime/multipart"
	"net/textproto"
	"testing"

	"github.com/lockdhq/lockd/sdk/api"
)

// TestEveryNamespacedRouteChecksClaims sends each namespaced route a
// request that names a namespace outside the certificate's claims; every
// one must answer 403 namespace_forbidden, whichever way the handler reads
// the namespace.
func TestEveryNamespacedRouteChecksClaims(t *testing.T) {
	m := startMTLS(t)
	c, _ := m.client("default")
	const ns = "forbidden"
	proof := []string{api.HeaderLeaseID, "c5v9d0sl70b3m3q8ndg0", api.HeaderTxnID, "c5v9d0sl70b3m3q8ndg0", api.HeaderFencingToken, "1"}
	enqBody, enqType := enqueueBody(t, `{"namespace":"forbidden","queue":"q"}`)
	dq := map[string]any{"namespace": ns, "queue": "q", "owner": "o"}
	msg := func(extra ...any) map[string]any {
		m := map[string]any{"namespace": ns, "queue": "q", "message_id": "m", "lease_id": "l",
			"txn_id": "c5v9d0sl70b3m3q8ndg0", "meta_etag": "e", "fencing_token": 1}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i].(string)] = extra[i+1]
		}
		return m
	}
	cases := []struct {
		method, path string
		body         any
		headers      []string
	}{
		{"POST", "/v1/acquire", acquireBody(ns, "k"), nil},
		{"POST", "/v1/keepalive", map[string]any{"namespace": ns, "key": "k", "lease_id": "l", "ttl_seconds": 5}, proof},
		{"POST", "/v1/release", map[string]any{"namespace": ns, "key": "k", "lease_id": "l", "txn_id": "c5v9d0sl70b3m3q8ndg0"}, proof},
		{"GET", "/v1/describe?namespace=forbidden&key=k", nil, nil},
		{"POST", "/v1/get?namespace=forbidden&key=k&public=1", nil, nil},
		{"POST", "/v1/update?namespace=forbidden&key=k", `{}`, proof},
		{"POST", "/v1/remove?namespace=forbidden&key=k", nil, proof},
		{"POST", "/v1/metadata?namespace=forbidden&key=k", `{"query_hidden":true}`, proof},
		{"POST", "/v1/mutate?key=k", map[string]any{"namespace": ns, "mutations": []string{"/a=1"}}, proof},
		{"GET", "/v1/attachments?namespace=forbidden&key=k&public=1", nil, nil},
		{"POST", "/v1/attachments?namespace=forbidden&key=k&name=a", "x", proof},
		{"DELETE", "/v1/attachments?namespace=forbidden&key=k", nil, proof},
		{"GET", "/v1/attachment?namespace=forbidden&key=k&name=a&public=1", nil, nil},
		{"DELETE", "/v1/attachment?namespace=forbidden&key=k&name=a", nil, proof},
		{"POST", "/v1/query", map[string]any{"namespace": ns, "selector": map[string]any{}}, nil},
		{"POST", "/v1/index/flush?namespace=forbidden", nil, nil},
		{"GET", "/v1/namespace?namespace=forbidden", nil, nil},
		{"POST", "/v1/namespace", map[string]any{"namespace": ns, "query": map[string]any{"preferred_engine": "scan"}}, nil},
		{"POST", "/v1/queue/enqueue", enqBody, []string{"Content-Type", enqType}},
		{"POST", "/v1/queue/dequeue", dq, nil},
		{"POST", "/v1/queue/dequeueWithState", dq, nil},
		{"POST", "/v1/queue/subscribe", dq, nil},
		{"POST", "/v1/queue/subscribeWithState", dq, nil},
		{"POST", "/v1/queue/ack", msg(), nil},
		{"POST", "/v1/queue/nack", msg("delay_seconds", 1), nil},
		{"POST", "/v1/queue/extend", msg("extend_by_seconds", 5), nil},
		{"POST", "/v1/queue/stats", map[string]any{"namespace": ns, "queue": "q"}, nil},
		{"POST", "/v1/queue/watch", map[string]any{"namespace": ns, "queue": "q"}, nil},
		{"POST", "/v1/queue/dlq/list", map[string]any{"namespace": ns, "queue": "q"}, nil},
		{"POST", "/v1/queue/dlq/requeue", map[string]any{"namespace": ns, "queue": "q", "message_ids": []string{"m"}}, nil},
	}
	for _, tc := range cases {
		r := m.mustDo(c, tc.method, tc.path, tc.body, tc.headers...)
		if r.status != 403 || r.code != api.CodeNamespaceForbidden {
			t.Errorf("%s %s: %d %s, want 403 %s", tc.method, tc.path, r.status, r.body, api.CodeNamespaceForbidden)
		}
	}
	// The same client is served in its own namespace.
	if r := m.mustDo(c, "POST", "/v1/acquire", acquireBody("default", "k")); r.status != 200 {
		t.Fatalf("own namespace: %d %s", r.status, r.body)
	}
}

func enqueueBody(t *testing.T, meta string) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="meta"`)
	h.Set("Content-Type", "application/json")
	p, err := w.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	p.Write([]byte(meta))
	h = textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="payload"`)
	p, _ = w.CreatePart(h)
	p.Write([]byte("payload"))
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}
