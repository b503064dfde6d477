package edge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

// Requests without a valid X-Correlation-Id get a fresh UUIDv7, a
// different one each time; valid ones are echoed.
func TestGeneratedCorrelationIDs(t *testing.T) {
	s := edgetest.Start(t, edgetest.Mem, server.Config{})
	seen := map[string]bool{}
	for i := 0; i < 500; i++ {
		h := ""
		if i%2 == 1 {
			h = strings.Repeat("x", api.MaxCorrelationIDLen+1) // too long: replaced
		}
		var r edgetest.Response
		if h == "" {
			r = s.Do("GET", "/healthz", nil)
		} else {
			r = s.Do("GET", "/healthz", nil, api.HeaderCorrelationID, h)
		}
		cid := r.Header.Get(api.HeaderCorrelationID)
		u, err := uuid.Parse(cid)
		if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("generated correlation id %q: version %v variant %v err %v", cid, u.Version(), u.Variant(), err)
		}
		if sec, _ := u.Time().UnixTime(); sec < time.Now().Unix()-60 || sec > time.Now().Unix()+60 {
			t.Fatalf("correlation id %q carries time %d, now is %d", cid, sec, time.Now().Unix())
		}
		if seen[cid] {
			t.Fatalf("correlation id %q generated twice", cid)
		}
		seen[cid] = true
	}
	r := s.Do("GET", "/healthz", nil, api.HeaderCorrelationID, "caller-42")
	if got := r.Header.Get(api.HeaderCorrelationID); got != "caller-42" {
		t.Fatalf("valid correlation id echoed as %q", got)
	}
}
