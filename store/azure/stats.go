package azure

import (
	"context"
	"net/http"
	"sync/atomic"
)

// op is a store operation kind, the unit Stats counts in.
type op int

const (
	opGet op = iota
	opPut
	opDelete
	opList
	opWriteBlob
	opOpenBlob
	opDeleteBlob
	opListBlobs
	opOther // Open's container check and other housekeeping
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

type counters struct {
	calls, trips [numOps]atomic.Uint64
}

func (c *counters) snapshot() Stats {
	get := func(o op) OpStats { return OpStats{Calls: c.calls[o].Load(), RoundTrips: c.trips[o].Load()} }
	return Stats{
		Get: get(opGet), Put: get(opPut), Delete: get(opDelete), List: get(opList),
		WriteBlob: get(opWriteBlob), OpenBlob: get(opOpenBlob), DeleteBlob: get(opDeleteBlob),
		ListBlobs: get(opListBlobs), Other: get(opOther),
	}
}

// call tracks one store method call; the transport finds it in the
// request's context.
type call struct {
	op    op
	trips atomic.Int32
}

type callKey struct{}

// begin counts a call of kind o and returns a context that attributes the
// HTTP requests made under it to the call.
func (c *counters) begin(ctx context.Context, o op) (context.Context, *call) {
	c.calls[o].Add(1)
	cl := &call{op: o}
	return context.WithValue(ctx, callKey{}, cl), cl
}

// countingTransport counts every HTTP request by the call that sent it.
type countingTransport struct {
	base http.RoundTripper
	c    *counters
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	o := opOther
	if cl, ok := req.Context().Value(callKey{}).(*call); ok {
		cl.trips.Add(1)
		o = cl.op
	}
	t.c.trips[o].Add(1)
	return t.base.RoundTrip(req)
}
