// Package index answers queries over the committed JSON documents of a
// namespace (/v1/query) with two engines, and maintains the secondary
// index that makes selective queries cheap.
//
// # What a query sees
//
// Only published state: the committed document of each key, never a
// lease holder's staged writes, and never a key marked query_hidden.
// Every result is re-checked against the key's current committed
// document, so a query never returns a document that does not match its
// selector, whichever engine answered. The index is fed by commits after
// they are acknowledged, so a commit may take a moment to become
// findable through it; once Flush (/v1/index/flush, or a query with
// refresh=wait_for) returns, every commit acknowledged before the flush
// began is visible to index queries, and index and scan engines return
// the same keys.
//
// # Engines
//
// The scan engine walks the namespace's records in key order and matches
// each document. The index engine compiles the selector into a candidate
// superset (equality, in, numeric/time/string ranges, case-sensitive
// prefix and exists on scalar values at JSON Pointer paths; an And uses
// its most selective indexable clause; not, contains and case-insensitive
// prefixes are not indexed) and verifies candidates in key order.
// Selectors it cannot narrow are answered by the scan engine. Auto
// queries use the namespace configuration (<ns>/x/config, /v1/namespace):
// preferred engine index or scan, fallback scan or none while the index
// catches up; a plan that would visit more than a few thousand postings
// goes to the scan engine too.
//
// # Cursors
//
// Results come in ascending key order. A page that reaches its limit
// returns a cursor naming its last key; the next page starts strictly
// after it, so pagination neither skips nor repeats a key that exists
// throughout. Cursors are valid across engines. A page that stops early
// (bounded work) also returns a cursor, possibly with fewer hits.
//
// # Memory
//
// A query holds one window of candidate keys (at most 8192) and one
// document at a time and streams hits to the caller: a namespace of
// millions of documents is never materialized. The index lives in store
// records (postings, one per term and key), not in memory.
//
// # Maintenance and restart
//
// Commits are queued by Observe, which never blocks the key actor; the
// queue is bounded in events and bytes, and a commit that does not fit
// marks its namespace stale instead of being dropped silently. One
// indexer goroutine applies commits in order (one atomic store batch per
// namespace and round) and runs reconcile passes: a merge of the
// committed records with the index entries in key order that re-indexes
// keys whose version differs. Each namespace's meta record says "open"
// while a process maintains it and "clean" after Close indexed every
// commit; Start reconciles only namespaces not closed cleanly, so a
// clean restart does no work and a crash costs one read per key, with
// writes only for keys that changed. The layout is in docs/STORAGE.md.
package index
