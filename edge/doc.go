// Package edge is lockd's HTTP surface on fasthttp: routing, decoding and
// validation of requests, the mapping of domain errors to status codes and
// error codes, correlation ids, metrics and health. It translates HTTP to
// calls on the domain services and back; it holds no business rules.
//
// Every failure answers {"error":"code","detail":"…"} with a 4xx or 5xx
// status; a handler panic answers 500 and the server keeps serving.
package edge
