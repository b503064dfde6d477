// Package sdk is the Go client of lockd: leases with fencing tokens,
// transactional JSON state and attachments per key, queries, and the
// at-least-once queue, over lockd's HTTP API (wire-compatible with lockd
// v0.9).
//
// A Client talks to one or more endpoints (https://, http:// or
// unix:///path.sock). It is safe for concurrent use and should be reused:
// it keeps connections alive and tracks the fencing token of every lease
// it acquired.
//
//	cli, err := sdk.New("http://127.0.0.1:9341")
//	sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "orders", Owner: "worker-1", TTLSeconds: 30})
//	defer sess.Close() // releases (commits) the lease
//	var st struct{ Counter int }
//	err = sess.Load(ctx, &st)
//	st.Counter++
//	err = sess.Save(ctx, st)
//
// Failures the server reports are *APIError values carrying the server's
// error code; match them with errors.Is against the Err* sentinels
// (errors.Is(err, sdk.ErrAlreadyExists)). Transport errors, 429 and 503 are
// retried with exponential backoff that honours Retry-After, rotating
// through the endpoints, within one bounded budget per call.
//
// Unless disabled with WithDrainAwareShutdown(false), the client watches
// for the Shutdown-Imminent header of a draining server and releases its
// leases as soon as no request of theirs is in flight.
package sdk
