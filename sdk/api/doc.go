// Package api holds lockd's wire types: request and response bodies, error
// codes and header names of the HTTP API (compatible with lockd v0.9). The
// server's edge and the Go SDK both use it, so they cannot drift apart.
package api
