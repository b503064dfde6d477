package objstore

import (
	"context"
	"net/http"
	"sync/atomic"
)

// Op is a store operation kind, the unit Stats counts in.
type Op int

const (
	OpGet Op = iota
	OpPut
	OpDelete
	OpList
	OpWriteBlob
	OpOpenBlob
	OpDeleteBlob
	OpListBlobs
	OpOther // Open's bucket or container check and other housekeeping
	numOps
)

// OpStats counts one kind of store operation.
type OpStats struct {
	// Calls is the number of store method calls.
	Calls uint64
	// RoundTrips is the number of HTTP requests they sent, retries
	// included. RoundTrips/Calls is the cost of one operation.
	RoundTrips uint64
}

// Stats is a snapshot of a Store's counters since Open.
type Stats struct {
	Get, Put, Delete, List          OpStats
	WriteBlob, OpenBlob, DeleteBlob OpStats
	ListBlobs, Other                OpStats
}

// RoundTrips returns the total number of HTTP requests sent.
func (s Stats) RoundTrips() uint64 {
	var n uint64
	for _, o := range []OpStats{s.Get, s.Put, s.Delete, s.List, s.WriteBlob, s.OpenBlob, s.DeleteBlob, s.ListBlobs, s.Other} {
		n += o.RoundTrips
	}
	return n
}

// Counters counts calls and HTTP round trips per operation kind.
type Counters struct {
	calls, trips [numOps]atomic.Uint64
}

// Snapshot returns the counts so far.
func (c *Counters) Snapshot() Stats {
	get := func(o Op) OpStats { return OpStats{Calls: c.calls[o].Load(), RoundTrips: c.trips[o].Load()} }
	return Stats{
		Get: get(OpGet), Put: get(OpPut), Delete: get(OpDelete), List: get(OpList),
		WriteBlob: get(OpWriteBlob), OpenBlob: get(OpOpenBlob), DeleteBlob: get(OpDeleteBlob),
		ListBlobs: get(OpListBlobs), Other: get(OpOther),
	}
}

// Call tracks one store method call; the transport finds it in the
// request's context.
type Call struct {
	op    Op
	trips atomic.Int32
}

// Trips is the number of HTTP requests the call has sent so far.
func (c *Call) Trips() int32 { return c.trips.Load() }

type callKey struct{}

// Begin counts a call of kind o and returns a context that attributes the
// HTTP requests made under it to the call.
func (c *Counters) Begin(ctx context.Context, o Op) (context.Context, *Call) {
	c.calls[o].Add(1)
	cl := &Call{op: o}
	return context.WithValue(ctx, callKey{}, cl), cl
}

// CountingTransport counts every HTTP request by the call that sent it.
type CountingTransport struct {
	Base     http.RoundTripper
	Counters *Counters
}

func (t *CountingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	o := OpOther
	if cl, ok := req.Context().Value(callKey{}).(*Call); ok {
		cl.trips.Add(1)
		o = cl.op
	}
	t.Counters.trips[o].Add(1)
	return t.Base.RoundTrip(req)
}
