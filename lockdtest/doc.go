// Package lockdtest runs a real lockd node inside a Go test: NewTestServer
// starts one on a loopback port (in memory unless told otherwise), hands
// out an SDK client and an HTTP client for it, and stops it when the test
// ends, so a user's integration tests need nothing else installed.
//
// WithChaos puts a TCP chaos proxy between the clients and the node:
// bounded latency per chunk, dropped chunks, abrupt resets, a forced
// disconnect after a delay, and a bandwidth limit. It works below TLS, so
// mutual TLS (WithMTLS) goes through it unchanged. ChaosConfig has the
// fields of lockd v0.9's lockd.ChaosConfig.
package lockdtest
