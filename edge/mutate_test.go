package edge_test

import (
	"strings"
	"testing"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

func TestMutate(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		put(t, s, "default", "m", `{"count":1,"meta":{"owner":"a"}}`)
		l := acquire(t, s, "m", "w")
		r := s.Do("POST", l.path("mutate"), `{"mutations":["/count++","/meta{/owner=\"b\",/seen=true}","rm:/nothing","/status=ready"]}`, l.headers()...)
		var ur api.UpdateResponse
		r.JSON(t, &ur)
		if r.Status != 200 || ur.NewVersion != 2 || ur.NewStateETag == "" || ur.Bytes == 0 {
			t.Fatalf("mutate: %d %s", r.Status, r.Body)
		}
		if r.Header.Get(api.HeaderMutateCandidatesWritten) != "1" || r.Header.Get(api.HeaderETag) != ur.NewStateETag {
			t.Fatalf("headers: %v", r.Header)
		}
		if got := string(l.get().Body); got != `{"count":2,"meta":{"owner":"b","seen":true},"status":"ready"}` {
			t.Fatalf("staged: %s", got)
		}
		if got := string(publicGet(s, "m").Body); got != `{"count":1,"meta":{"owner":"a"}}` {
			t.Fatalf("published before release: %s", got)
		}
		wantError(t, s.Do("POST", l.path("mutate"), `{"mutations":[]}`, l.headers()...), 400, api.CodeInvalidBody)
		wantError(t, s.Do("POST", l.path("mutate"), `{"mutations":`, l.headers()...), 400, api.CodeInvalidBody)
		r = s.Do("POST", l.path("mutate"), `{"mutations":["/ok=1","/broken"]}`, l.headers()...)
		wantError(t, r, 400, api.CodeInvalidMutations)
		if !strings.Contains(string(r.Body), "expression 2") {
			t.Fatalf("no position: %s", r.Body)
		}
		wantError(t, s.Do("POST", l.path("mutate"), `{"mutations":["/meta/owner++"]}`, l.headers()...), 400, api.CodeInvalidMutations)
		wantError(t, s.Do("POST", l.path("mutate"), `{"mutations":["/a=1"]}`, append(l.headers(), api.HeaderIfStateETag, "deadbeef")...), 409, api.CodeETagMismatch)
		wantError(t, s.Do("POST", l.path("mutate"), `{"mutations":["/a=1"]}`, api.HeaderLeaseID, l.LeaseID), 400, api.CodeMissingTxn)
		wantError(t, s.Do("POST", "/v1/mutate", `{"mutations":["/a=1"]}`, l.headers()...), 400, api.CodeMissingKey)
		wantError(t, s.Do("GET", l.path("mutate"), nil, l.headers()...), 405, api.CodeMethodNotAllowed)
		mustOK(t, l.release(false), "release")
		flush(t, s, "default")
		qr, _ := queryKeys(t, s, "/v1/query", `{"selector":{"eq":{"field":"/status","value":"ready"}}}`)
		if strings.Join(qr.Keys, ",") != "m" {
			t.Fatalf("mutation not queryable: %v", qr.Keys)
		}
		// A key without state: mutations build the document.
		l2 := acquire(t, s, "fresh", "w")
		mustOK(t, s.Do("POST", l2.path("mutate"), `{"mutations":["/a/b=1"]}`, l2.headers()...), "mutate fresh")
		if got := string(l2.get().Body); got != `{"a":{"b":1}}` {
			t.Fatalf("fresh: %s", got)
		}
	})
}

func TestMutateNamespaceFromBody(t *testing.T) {
	each(t, server.Config{}, func(t *testing.T, s *edgetest.Server) {
		l := acquire(t, s, "nb", "w", `"namespace":"other"`)
		r := s.Do("POST", "/v1/mutate?key=nb", `{"namespace":"other","mutations":["/x=1"]}`, l.headers()...)
		mustOK(t, r, "mutate with body namespace")
		wantError(t, s.Do("POST", "/v1/mutate?key=nb", `{"namespace":"Bad Ns","mutations":["/x=1"]}`, l.headers()...), 400, api.CodeInvalidNamespace)
	})
}
