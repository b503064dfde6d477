// Package server wires a complete lockd node — store, actor system, domain
// services and HTTP edge — from one Config. The lockd binary, the SDK's
// in-process mode and the end-to-end tests all start servers through it.
package server
