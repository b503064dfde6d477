package edge_test

import (
	"testing"
	"time"

	"github.com/lockdhq/lockd/edge/admission"
	"github.com/lockdhq/lockd/edge/edgetest"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
)

// qrfServer starts a server whose admission controller is driven only by
// forced samples (the LSF samples the host once at start and then every
// hour, with host thresholds off) and a lock guard.
func qrfServer(t *testing.T, maxWait time.Duration) *edgetest.Server {
	return edgetest.Start(t, edgetest.Mem, server.Config{Admission: admission.Config{
		Enabled: true, LockSoftLimit: 1000, LockHardLimit: 2000, QuerySoftLimit: 1000, RecoverySamples: 1,
		SoftDelay: 100 * time.Millisecond, EngagedDelay: 250 * time.Millisecond, MaxWait: maxWait,
		SampleInterval: time.Hour,
	}})
}

// force drives the controller to want and checks it got there.
func force(t *testing.T, s *edgetest.Server, want admission.State, snaps ...admission.Snapshot) {
	t.Helper()
	for _, sn := range snaps {
		s.ForceQRFObserve(sn)
	}
	if got := s.QRFStatus().State; got != want {
		t.Fatalf("QRF state %s, want %s", got, want)
	}
}

var (
	lockHard = admission.Snapshot{Inflight: admission.Inflight{Lock: 2000}}
	lockSoft = admission.Snapshot{Inflight: admission.Inflight{Lock: 1000}}
	healthy  = admission.Snapshot{}
)

func TestQRFEngagedAnswers429Throttled(t *testing.T) {
	t.Parallel()
	s := qrfServer(t, time.Millisecond)
	held := acquire(t, s, "qrf-held", "a")
	force(t, s, admission.Engaged, lockHard)

	r := s.Do("POST", "/v1/acquire", `{"key":"qrf-k","owner":"o","ttl_seconds":5}`)
	if r.Status != 429 || r.ErrorCode() != api.CodeThrottled {
		t.Fatalf("acquire while engaged: %d %s", r.Status, r.Body)
	}
	if r.Header.Get("Retry-After") != "1" || r.Header.Get(api.HeaderQRFState) != "engaged" {
		t.Fatalf("429 headers: Retry-After %q, X-Lockd-QRF-State %q", r.Header.Get("Retry-After"), r.Header.Get(api.HeaderQRFState))
	}
	var env api.ErrorResponse
	r.JSON(t, &env)
	if env.RetryAfterSeconds != 1 || env.Detail != "perimeter defence engaged" {
		t.Fatalf("429 body %s", r.Body)
	}
	// The lock guard targets lock work only: queries, health and draining
	// work (release) pass.
	if r := s.Do("GET", "/healthz", nil); r.Status != 200 {
		t.Fatalf("healthz while engaged: %d", r.Status)
	}
	if r := s.Do("POST", "/v1/query", `{"namespace":"default","selector":{}}`); r.Status == 429 {
		t.Fatalf("query refused by the lock guard: %s", r.Body)
	}
	rel := s.Do("POST", "/v1/release", map[string]any{"key": held.Key, "lease_id": held.LeaseID, "txn_id": held.TxnID},
		held.headers()...)
	if rel.Status != 200 {
		t.Fatalf("release while engaged: %d %s", rel.Status, rel.Body)
	}

	// Recovery still paces lock work; healthy samples disengage.
	force(t, s, admission.Recovery, healthy)
	if r := s.Do("POST", "/v1/acquire", `{"key":"qrf-k","owner":"o"}`); r.Status != 429 || r.Header.Get(api.HeaderQRFState) != "recovery" {
		t.Fatalf("acquire while recovering: %d %s %q", r.Status, r.Body, r.Header.Get(api.HeaderQRFState))
	}
	force(t, s, admission.Disengaged, healthy)
	r = s.Do("POST", "/v1/acquire", `{"key":"qrf-k","owner":"o"}`)
	if r.Status != 200 || r.Header.Get(api.HeaderQRFState) != "" {
		t.Fatalf("acquire after disengage: %d %s (state header %q)", r.Status, r.Body, r.Header.Get(api.HeaderQRFState))
	}
}

func TestQRFPacesBeforeRefusing(t *testing.T) {
	t.Parallel()
	s := qrfServer(t, 5*time.Second)
	force(t, s, admission.SoftArm, lockSoft)
	start := time.Now()
	r := s.Do("POST", "/v1/acquire", `{"key":"paced","owner":"o"}`)
	if r.Status != 200 || r.Header.Get(api.HeaderQRFState) != "soft_arm" {
		t.Fatalf("paced acquire: %d %s state %q", r.Status, r.Body, r.Header.Get(api.HeaderQRFState))
	}
	// Pacing is a server-side wait of at least the soft delay.
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Fatalf("acquire took %v; the soft delay is 100ms", took)
	}
}

// A hard in-flight guard acts on the live count, before any sample: with
// one blocking acquire in flight and a lock hard limit of 1, the next
// lock request is paced and, past the max wait, refused.
func TestLiveGuardRefusesWithoutASample(t *testing.T) {
	t.Parallel()
	s := edgetest.Start(t, edgetest.Mem, server.Config{Admission: admission.Config{
		Enabled: true, LockHardLimit: 1, MaxWait: time.Millisecond, SampleInterval: time.Hour}})
	holder := acquire(t, s, "guarded", "a")
	blocked := make(chan edgetest.Response, 1)
	go func() {
		// The guard counts this acquire too: if it arrives while a probe
		// below is in flight it is the one refused, so it tries again.
		for i := 0; i < 1000; i++ {
			r := s.Do("POST", "/v1/acquire", `{"key":"guarded","owner":"b","block_seconds":30}`)
			if r.Status != 429 {
				blocked <- r
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		blocked <- edgetest.Response{Status: 429}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := s.Do("POST", "/v1/describe?key=other", nil)
		if r.Status == 429 {
			if r.Header.Get(api.HeaderQRFState) != "engaged" || r.Header.Get("Retry-After") == "" {
				t.Fatalf("guard 429 without its headers: %v", r.Header)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lock guard never refused while a blocking acquire was in flight")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Do("POST", "/v1/release", map[string]any{"key": holder.Key, "lease_id": holder.LeaseID, "txn_id": holder.TxnID}, holder.headers()...)
	select {
	case r := <-blocked:
		if r.Status != 200 {
			t.Fatalf("blocked acquire: %d %s", r.Status, r.Body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("blocked acquire never returned")
	}
	if st := s.QRFStatus(); st.State != admission.Disengaged {
		t.Fatalf("live guard moved the sampled state: %s", st.State)
	}
}

// Queue stats are observability: they answer while the QRF is engaged
// and refuses the query work they used to be counted with (query, DLQ
// list).
func TestQRFQueueStatsExempt(t *testing.T) {
	t.Parallel()
	s := edgetest.Start(t, edgetest.Mem, server.Config{Admission: admission.Config{
		Enabled: true, QuerySoftLimit: 1, QueryHardLimit: 2, RecoverySamples: 1,
		EngagedDelay: 250 * time.Millisecond, MaxWait: time.Millisecond, SampleInterval: time.Hour}})
	force(t, s, admission.Engaged, admission.Snapshot{Inflight: admission.Inflight{Query: 2}})
	if r := s.Do("POST", "/v1/query", `{"namespace":"default","selector":{}}`); r.Status != 429 || r.ErrorCode() != api.CodeThrottled {
		t.Fatalf("query while the query guard is engaged: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/v1/queue/dlq/list", `{"queue":"q"}`); r.Status != 429 {
		t.Fatalf("DLQ list while the query guard is engaged: %d %s", r.Status, r.Body)
	}
	for i := 0; i < 20; i++ {
		r := s.Do("POST", "/v1/queue/stats", `{"queue":"q"}`)
		if r.Status != 200 {
			t.Fatalf("queue stats while engaged (%d): %d %s", i, r.Status, r.Body)
		}
		var st api.QueueStatsResponse
		r.JSON(t, &st)
		if st.Queue != "q" {
			t.Fatalf("queue stats answer %s", r.Body)
		}
	}
	if st := s.QRFStatus(); st.State != admission.Engaged {
		t.Fatalf("state %s after the stats reads, want engaged", st.State)
	}
}
