package main

// v09Flag is one flag of the lockd v0.9 server command line (the root
// command of its binary). Every one of them is accepted here, so an
// operator keeps their command line, LOCKD_* environment and config file.
//
// A flag with an empty reason is implemented by a real flag of the same
// name (or an alias in v09Aliases). A flag with a reason is registered as
// an inert flag when the real flag set has none of that name: it parses
// and validates like v0.9's, has no effect, and one warning line gives the
// reason when it is set. Reasons for features that are being built
// (HA, clustering, TC federation, QRF/LSF, connguard) say so, and
// the real flag shadows the inert one the moment it is registered.
type v09Flag struct {
	name    string
	short   string // v0.9's one-letter form, if any
	kind    inertKind
	example string // a value v0.9 accepts (its default where it has one)
	reason  string // why the flag has no effect here; "" when implemented
}

// v09Aliases maps v0.9 spellings to the flags that implement them here.
// tc-join is the name v0.9 gave --join (flag and config key).
var v09Aliases = map[string]string{
	"tc-join":                "join",
	"storage-retry-attempts": "storage-retry-max-attempts",
}

const (
	whyTC = "TC federation (fan-out to remote resource managers, TC peer certificates) " +
		"is not in this build yet: each node coordinates its own transactions"
	whyLogstore = "disk:// is pebble here, not v0.9's logstore: pebble group-commits, sizes " +
		"and compacts its own files and takes no per-key lock files"
	whyPushQueue = "queues are push-based: the queue actor hands a message to a waiting " +
		"consumer the moment it is enqueued or becomes visible, so nothing polls or " +
		"watches the store"
	whyQueueDecision = "the coordinator acks or nacks the queue messages of a transaction " +
		"when it decides; dequeues never apply pending decisions, so there is nothing " +
		"to cache, cap or time out"
	whyIdleSweep = "the sweeper runs every --sweeper-interval and collects only blobs " +
		"older than --sweeper-grace; it is not gated on idleness or paced per operation"
	whyRetention = "keys are never pruned by age in this build (no disk retention janitor)"
	whyIndexer   = "the indexer applies commits continuously in the background instead of " +
		"flushing memtables by count or time; /v1/index/flush (or refresh=wait_for) " +
		"makes them visible at once"
	whyClientFlag = "a `lockd client` connection flag that v0.9 also accepted on the server " +
		"command line; the server ignores it (as v0.9's did)"
)

// v09Flags lists every server flag of lockd v0.9, from its README
// (/work/shared/seed) and the flag set of its root command.
var v09Flags = []v09Flag{
	// Implemented.
	{name: "config", short: "c", kind: kindString, example: ""},
	{name: "bootstrap", kind: kindString, example: ""},
	{name: "listen", kind: kindString, example: ":9341"},
	{name: "listen-proto", kind: kindString, example: "tcp"},
	{name: "metrics-listen", kind: kindString, example: ""},
	{name: "pprof-listen", kind: kindString, example: ""},
	{name: "enable-profiling-metrics", kind: kindBool, example: "true"},
	{name: "otlp-endpoint", kind: kindString, example: "localhost:4317"},
	{name: "store", kind: kindString, example: "mem://"},
	{name: "default-namespace", short: "n", kind: kindString, example: "default"},
	{name: "json-max", kind: kindSize, example: "100MB"},
	{name: "payload-spool-mem", kind: kindSize, example: "4MB"},
	{name: "default-ttl", kind: kindDuration, example: "30s"},
	{name: "max-ttl", kind: kindDuration, example: "30m"},
	{name: "acquire-block", kind: kindDuration, example: "60s"},
	{name: "sweeper-interval", kind: kindDuration, example: "5m"},
	{name: "drain-grace", kind: kindDuration, example: "10s"},
	{name: "shutdown-timeout", kind: kindDuration, example: "10s"},
	{name: "tc-decision-retention", kind: kindDuration, example: "24h"},
	{name: "disable-mtls", kind: kindBool, example: "true"},
	{name: "bundle", short: "b", kind: kindString, example: ""},
	{name: "disable-storage-encryption", kind: kindBool, example: "false"},
	{name: "storage-encryption-snappy", kind: kindBool, example: "false"},
	{name: "s3-sse", kind: kindString, example: ""},
	{name: "s3-kms-key-id", kind: kindString, example: ""},
	{name: "s3-max-part-size", kind: kindSize, example: "16MB"},
	{name: "aws-region", kind: kindString, example: ""},
	{name: "aws-kms-key-id", kind: kindString, example: ""},
	{name: "azure-key", kind: kindString, example: ""},
	{name: "azure-endpoint", kind: kindString, example: ""},
	{name: "azure-sas-token", kind: kindString, example: ""},
	{name: "storage-retry-attempts", kind: kindInt, example: "6"},
	{name: "storage-retry-base-delay", kind: kindDuration, example: "100ms"},
	{name: "storage-retry-max-delay", kind: kindDuration, example: "5s"},
	{name: "log-level", kind: kindString, example: "info"},

	// Features being built elsewhere.
	{name: "ha", kind: kindString, example: "failover"},
	{name: "ha-lease-ttl", kind: kindDuration, example: "10s"},
	{name: "ha-single-presence-ttl", kind: kindDuration, example: "5m"},
	{name: "self", kind: kindString, example: "https://node-1:9341"},
	{name: "join", kind: kindStrings, example: "https://node-2:9341"},
	{name: "tc-trust-dir", kind: kindString, example: "", reason: whyTC},
	{name: "tc-disable-auth", kind: kindBool, example: "false", reason: whyTC},
	{name: "tc-allow-default-ca", kind: kindBool, example: "false", reason: whyTC},
	{name: "tc-fanout-timeout", kind: kindDuration, example: "5s"},
	{name: "tc-fanout-attempts", kind: kindInt, example: "4"},
	{name: "tc-fanout-base-delay", kind: kindDuration, example: "100ms"},
	{name: "tc-fanout-max-delay", kind: kindDuration, example: "2s"},
	{name: "tc-fanout-multiplier", kind: kindFloat, example: "2"},
	{name: "tc-client-bundle", kind: kindString, example: "", reason: whyTC},
	{name: "connguard-enabled", kind: kindBool, example: "true"},
	{name: "connguard-failure-threshold", kind: kindInt, example: "5"},
	{name: "connguard-failure-window", kind: kindDuration, example: "30s"},
	{name: "connguard-block-duration", kind: kindDuration, example: "5m"},
	{name: "connguard-probe-timeout", kind: kindDuration, example: "250ms"},
	{name: "lsf-sample-interval", kind: kindDuration, example: "200ms"},
	{name: "lsf-log-interval", kind: kindDuration, example: "15s"},
	{name: "qrf-disabled", kind: kindBool, example: "false"},
	{name: "qrf-queue-soft-limit", kind: kindInt, example: "0"},
	{name: "qrf-queue-hard-limit", kind: kindInt, example: "0"},
	{name: "qrf-queue-consumer-soft-limit", kind: kindInt, example: "0"},
	{name: "qrf-queue-consumer-hard-limit", kind: kindInt, example: "0"},
	{name: "qrf-lock-soft-limit", kind: kindInt, example: "0"},
	{name: "qrf-lock-hard-limit", kind: kindInt, example: "0"},
	{name: "qrf-query-soft-limit", kind: kindInt, example: "0"},
	{name: "qrf-query-hard-limit", kind: kindInt, example: "0"},
	{name: "qrf-memory-soft-limit", kind: kindSize, example: "2GB"},
	{name: "qrf-memory-hard-limit", kind: kindSize, example: "3GB"},
	{name: "qrf-memory-soft-limit-percent", kind: kindFloat, example: "75"},
	{name: "qrf-memory-hard-limit-percent", kind: kindFloat, example: "85"},
	{name: "qrf-memory-strict-headroom-percent", kind: kindFloat, example: "15"},
	{name: "qrf-swap-soft-limit", kind: kindSize, example: "256MB"},
	{name: "qrf-swap-hard-limit", kind: kindSize, example: "512MB"},
	{name: "qrf-swap-soft-limit-percent", kind: kindFloat, example: "0"},
	{name: "qrf-swap-hard-limit-percent", kind: kindFloat, example: "0"},
	{name: "qrf-cpu-soft-limit", kind: kindFloat, example: "70"},
	{name: "qrf-cpu-hard-limit", kind: kindFloat, example: "85"},
	{name: "qrf-load-soft-limit-multiplier", kind: kindFloat, example: "4"},
	{name: "qrf-load-hard-limit-multiplier", kind: kindFloat, example: "8"},
	{name: "qrf-recovery-samples", kind: kindInt, example: "5"},
	{name: "qrf-soft-delay", kind: kindDuration, example: "50ms"},
	{name: "qrf-engaged-delay", kind: kindDuration, example: "250ms"},
	{name: "qrf-recovery-delay", kind: kindDuration, example: "200ms"},
	{name: "qrf-max-wait", kind: kindDuration, example: "5s"},

	// Meaningless or unsupported in this design.
	{name: "json-util", kind: kindString, example: "stdlib",
		reason: "this build has one JSON compactor (streamed, validated and compacted in one pass); there is no engine to choose"},
	{name: "state-cache-bytes", kind: kindSize, example: "64MB",
		reason: "published state is served from the key actor's memory while the key is live (--actor-idle-timeout); there is no separate state cache to size"},
	{name: "txn-replay-interval", kind: kindDuration, example: "5s",
		reason: "unapplied transaction decisions are replayed at start and on every --sweeper-interval pass; there is no separate replay interval"},
	{name: "queue-decision-cache-ttl", kind: kindDuration, example: "60s", reason: whyQueueDecision},
	{name: "queue-decision-max-apply", kind: kindInt, example: "50", reason: whyQueueDecision},
	{name: "queue-decision-apply-timeout", kind: kindDuration, example: "2s", reason: whyQueueDecision},
	{name: "idle-sweep-grace", kind: kindDuration, example: "5m", reason: whyIdleSweep},
	{name: "idle-sweep-op-delay", kind: kindDuration, example: "100ms", reason: whyIdleSweep},
	{name: "idle-sweep-max-ops", kind: kindInt, example: "1000", reason: whyIdleSweep},
	{name: "idle-sweep-max-runtime", kind: kindDuration, example: "30s", reason: whyIdleSweep},
	{name: "disk-retention", kind: kindDuration, example: "0s", reason: whyRetention},
	{name: "disk-janitor-interval", kind: kindDuration, example: "0s", reason: whyRetention},
	{name: "disk-queue-watch", kind: kindBool, example: "true", reason: whyPushQueue},
	{name: "disable-mem-queue-watch", kind: kindBool, example: "false", reason: whyPushQueue},
	{name: "queue-poll-interval", kind: kindDuration, example: "3s", reason: whyPushQueue},
	{name: "queue-poll-jitter", kind: kindDuration, example: "500ms", reason: whyPushQueue},
	{name: "queue-resilient-poll-interval", kind: kindDuration, example: "5m", reason: whyPushQueue},
	{name: "queue-list-page-size", kind: kindInt, example: "100", reason: whyPushQueue},
	{name: "queue-max-consumers", kind: kindInt, example: "1000",
		reason: "waiting consumers are not capped in this build: each is one entry in its queue actor, answered when a message is ready"},
	{name: "disk-lock-file-cache-size", kind: kindInt, example: "2048", reason: whyLogstore},
	{name: "logstore-commit-max-ops", kind: kindInt, example: "4096", reason: whyLogstore},
	{name: "logstore-segment-size", kind: kindSize, example: "64MB", reason: whyLogstore},
	{name: "logstore-compaction", kind: kindBool, example: "true", reason: whyLogstore},
	{name: "logstore-compaction-interval", kind: kindDuration, example: "30m", reason: whyLogstore},
	{name: "logstore-compaction-min-segments", kind: kindInt, example: "2", reason: whyLogstore},
	{name: "logstore-compaction-min-reclaim-size", kind: kindSize, example: "64MiB", reason: whyLogstore},
	{name: "logstore-compaction-delete-grace", kind: kindDuration, example: "15m", reason: whyLogstore},
	{name: "logstore-compaction-max-io-bytes-per-sec", kind: kindSize, example: "8MiB", reason: whyLogstore},
	{name: "disable-logstore-compaction-throttling", kind: kindBool, example: "false", reason: whyLogstore},
	{name: "disable-krypto-pool", kind: kindBool, example: "false",
		reason: "storage encryption here keeps no pool of crypto buffers (blobs stream in 64 KiB frames), so there is none to disable"},
	{name: "s3-encrypt-buffer-budget", kind: kindSize, example: "64MB",
		reason: "encrypted objects stream in 64 KiB frames with memory bounded per stream; there is no shared buffer budget"},
	{name: "http2-max-concurrent-streams", kind: kindInt, example: "1024",
		reason: "the server speaks HTTP/1.1 (fasthttp); there is no HTTP/2"},
	{name: "denylist-path", kind: kindString, example: "",
		reason: "revoked serials are kept in the server bundle itself (lockd auth revoke), re-read when it changes and on SIGHUP; there is no separate denylist file"},
	{name: "indexer-flush-docs", kind: kindInt, example: "2000", reason: whyIndexer},
	{name: "indexer-flush-interval", kind: kindDuration, example: "30s", reason: whyIndexer},
	{name: "query-doc-prefetch", kind: kindInt, example: "1",
		reason: "return=documents streams each hit from its key's committed record in key order; there is no prefetch depth to tune"},
	{name: "storage-retry-multiplier", kind: kindFloat, example: "2",
		reason: "the S3 and Azure SDK retryers grow their backoff by their own factor; only the attempts, base delay and max delay are tunable here"},
	{name: "s3-region", kind: kindString, example: "us-east-1",
		reason: "give the region in the store URL (s3://host/bucket?region=…), or --aws-region for aws:// stores"},
	{name: "s3-disable-tls", kind: kindBool, example: "false",
		reason: "name plain HTTP in the store URL instead: s3://host:port/bucket?insecure=1"},
	{name: "azure-account", kind: kindString, example: "account",
		reason: "the account name comes from the store URL (azure://account/container/prefix)"},

	// v0.9's root command also carried the client connection flags.
	{name: "server", short: "s", kind: kindString, example: "https://127.0.0.1:9341", reason: whyClientFlag},
	{name: "timeout", kind: kindDuration, example: "15s", reason: whyClientFlag},
	{name: "close-timeout", kind: kindDuration, example: "5s", reason: whyClientFlag},
	{name: "keepalive-timeout", kind: kindDuration, example: "5s", reason: whyClientFlag},
	{name: "drain-aware-shutdown", kind: kindBool, example: "true", reason: whyClientFlag},
	{name: "log-output", kind: kindString, example: "stderr", reason: whyClientFlag},
	{name: "verbose", short: "v", kind: kindBool, example: "false", reason: whyClientFlag},
}
