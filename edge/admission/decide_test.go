package admission

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	host := Reason{Name: "cpu_hard"}
	lockGuard := Reason{Name: "lock_inflight_hard", Guard: KindLock}
	consumerGuard := Reason{Name: "queue_consumer_soft", Guard: KindQueueConsumer}
	cfg := Config{Enabled: true, PacingFloor: 4, LockHardLimit: 100, QueryHardLimit: 3, QueueHardLimit: 50,
		SoftDelay: 50 * time.Millisecond, EngagedDelay: 250 * time.Millisecond, RecoveryDelay: 200 * time.Millisecond,
		MaxWait: time.Second}.normalized()
	lockC, prodC, consC, queryC := Class{Kind: KindLock}, Class{Kind: KindQueueProducer}, Class{Kind: KindQueueConsumer}, Class{Kind: KindQuery}
	busy := Inflight{Lock: 4, QueueProducer: 4, QueueConsumer: 40, Query: 1}
	ms := time.Millisecond
	cases := []struct {
		name     string
		state    State
		why      Reason
		cls      Class
		live     Inflight
		waiting  int64
		budget   time.Duration
		delay    time.Duration
		throttle bool
		retry    time.Duration
		posture  State
	}{
		{"disengaged admits", Disengaged, Reason{}, lockC, busy, 0, 0, 0, false, 0, Disengaged},
		{"soft host paces lock above the floor", SoftArm, host, lockC, busy, 0, 0, 50 * ms, false, 0, SoftArm},
		{"host pressure spares a lone request", Engaged, host, lockC, Inflight{Lock: 3}, 0, 0, 0, false, 0, Engaged},
		{"host pressure never paces consumers", Engaged, host, consC, busy, 0, 0, 0, false, 0, Engaged},
		{"drain is never paced", Engaged, host, Class{Kind: KindLock, Drain: true}, busy, 9, 0, 0, false, 0, Engaged},
		{"control routes are never paced", Engaged, host, Class{}, busy, 0, 0, 0, false, 0, Engaged},
		{"engaged delay grows with the queue", Engaged, host, prodC, busy, 2, 0, 750 * ms, false, 0, Engaged},
		{"past max wait answers 429", Engaged, host, prodC, busy, 4, 0, 0, true, 2 * time.Second, Engaged},
		{"the request's budget caps the wait", Engaged, host, prodC, busy, 1, 400 * ms, 0, true, time.Second, Engaged},
		{"recovery paces with its own delay", Recovery, Reason{Name: "recovering"}, lockC, busy, 0, 0, 200 * ms, false, 0, Recovery},
		{"a guard paces only its kind", Engaged, lockGuard, queryC, busy, 0, 0, 0, false, 0, Engaged},
		{"a guard ignores the floor", Engaged, lockGuard, lockC, Inflight{Lock: 1}, 0, 0, 250 * ms, false, 0, Engaged},
		{"consumer guard paces consumers", SoftArm, consumerGuard, consC, busy, 0, 0, 50 * ms, false, 0, SoftArm},
		{"live hard guard acts while disengaged", Disengaged, Reason{}, queryC, Inflight{Query: 3}, 0, 0, 250 * ms, false, 0, Engaged},
		{"queue hard guard counts every queue request", Disengaged, Reason{}, prodC, Inflight{QueueConsumer: 45, QueueAck: 5}, 0, 0, 250 * ms, false, 0, Engaged},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(&cfg, tc.state, tc.why, tc.cls, tc.live, tc.waiting, tc.budget)
			if d.Delay != tc.delay || d.Throttle != tc.throttle || d.RetryAfter != tc.retry || d.State != tc.posture {
				t.Fatalf("got %+v; want delay %v throttle %v retry %v state %s", d, tc.delay, tc.throttle, tc.retry, tc.posture)
			}
			if (d.Delay > 0 || d.Throttle) && d.Reason == "" {
				t.Fatalf("paced or refused without a reason: %+v", d)
			}
		})
	}
}

func TestDecideDisabledAdmitsAll(t *testing.T) {
	cfg := Config{LockHardLimit: 1}.normalized()
	if d := Decide(&cfg, Engaged, Reason{Name: "cpu_hard"}, Class{Kind: KindLock}, Inflight{Lock: 100}, 50, 0); d.Delay != 0 || d.Throttle {
		t.Fatalf("disabled controller decided %+v", d)
	}
}

func TestRoundUpSeconds(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		time.Millisecond: time.Second, time.Second: time.Second, 1001 * time.Millisecond: 2 * time.Second,
	} {
		if got := roundUpSeconds(in); got != want {
			t.Errorf("roundUpSeconds(%v) = %v, want %v", in, got, want)
		}
	}
}
