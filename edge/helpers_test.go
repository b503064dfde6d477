package edge_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

// each runs fn against a fresh server on every backend.
func each(t *testing.T, cfg server.Config, fn func(t *testing.T, s *edgetest.Server)) {
	for _, b := range edgetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, edgetest.Start(t, b, cfg))
		})
	}
}

type lease struct {
	api.AcquireResponse
	s *edgetest.Server
}

func acquire(t *testing.T, s *edgetest.Server, key, owner string, extra ...string) lease {
	t.Helper()
	body := fmt.Sprintf(`{"key":%q,"owner":%q%s}`, key, owner, join(extra))
	r := s.Do("POST", "/v1/acquire", body)
	if r.Status != 200 {
		t.Fatalf("acquire %s: %d %s", key, r.Status, r.Body)
	}
	var l lease
	r.JSON(t, &l.AcquireResponse)
	l.s = s
	if r.Header.Get(api.HeaderFencingToken) != strconv.FormatInt(l.FencingToken, 10) {
		t.Fatalf("X-Fencing-Token header %q != %d", r.Header.Get(api.HeaderFencingToken), l.FencingToken)
	}
	return l
}

func join(extra []string) string {
	out := ""
	for _, e := range extra {
		out += "," + e
	}
	return out
}

func (l lease) headers(extra ...string) []string {
	return append([]string{api.HeaderLeaseID, l.LeaseID, api.HeaderTxnID, l.TxnID,
		api.HeaderFencingToken, strconv.FormatInt(l.FencingToken, 10)}, extra...)
}

func (l lease) path(ep string) string {
	return fmt.Sprintf("/v1/%s?key=%s&namespace=%s", ep, l.Key, l.Namespace)
}

func (l lease) update(body string, extra ...string) edgetest.Response {
	return l.s.Do("POST", l.path("update"), body, l.headers(extra...)...)
}

func (l lease) get() edgetest.Response {
	return l.s.Do("POST", l.path("get"), nil, l.headers()...)
}

func (l lease) release(rollback bool) edgetest.Response {
	body := fmt.Sprintf(`{"key":%q,"namespace":%q,"lease_id":%q,"txn_id":%q,"rollback":%v}`, l.Key, l.Namespace, l.LeaseID, l.TxnID, rollback)
	return l.s.Do("POST", "/v1/release", body, api.HeaderFencingToken, strconv.FormatInt(l.FencingToken, 10))
}

func mustOK(t *testing.T, r edgetest.Response, what string) {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("%s: %d %s", what, r.Status, r.Body)
	}
}

func publicGet(s *edgetest.Server, key string) edgetest.Response {
	return s.Do("POST", "/v1/get?public=1&key="+key, nil)
}

// wantError checks status and error code of a failed request.
func wantError(t *testing.T, r edgetest.Response, status int, code string) {
	t.Helper()
	if r.Status != status || r.ErrorCode() != code {
		t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, status, code)
	}
	var e api.ErrorResponse
	r.JSON(t, &e)
	if e.Detail == "" {
		t.Fatalf("error without detail: %s", r.Body)
	}
}

// waitersOf is the number of acquirers blocked on key, from /v1/describe
// (served by the key's owner, in a cluster too).
func waitersOf(t *testing.T, s *edgetest.Server, key string) int {
	t.Helper()
	r := s.Do("GET", "/v1/describe?key="+key, nil)
	n, err := strconv.Atoi(r.Header.Get(api.HeaderWaiters))
	if r.Status != 200 || err != nil {
		t.Fatalf("describe %s: %d %s (waiters %q)", key, r.Status, r.Body, r.Header.Get(api.HeaderWaiters))
	}
	return n
}
