package lql

import "time"

// parseTime reads the timestamps LQL compares as times: RFC 3339 with an
// optional fraction ("2025-11-07T02:00:00Z", "…T02:00:00.5+01:00") and a
// bare date ("2025-11-07", midnight UTC).
func parseTime(s string) (time.Time, bool) {
	if len(s) < 10 || len(s) > 64 || s[4] != '-' {
		return time.Time{}, false
	}
	if len(s) == 10 {
		t, err := time.Parse(time.DateOnly, s)
		return t, err == nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// FormatTime renders t the way time: mutations store it: RFC 3339 with
// nanoseconds, in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
