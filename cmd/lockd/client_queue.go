package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

func runQueue(cl *cli, args []string) error {
	return runSub(cl, "queue", map[string]func(*cli, []string) error{
		"enqueue": runEnqueue, "dequeue": runDequeue, "ack": runAck, "nack": runNack,
		"extend": runExtend, "stats": runQueueStats,
	}, args)
}

// queueNamespace is --namespace, else LOCKD_QUEUE_NAMESPACE, else
// LOCKD_CLIENT_NAMESPACE.
func queueNamespace(flag string) string {
	for _, v := range []string{flag, os.Getenv(envQueueNamespace), os.Getenv(envNamespace)} {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

func runEnqueue(cl *cli, args []string) error {
	fs := cl.flagSet("queue enqueue")
	queue := fs.StringP("queue", "q", "", "queue name (required)")
	ns := fs.StringP("namespace", "n", "", "namespace (default $"+envQueueNamespace+", $"+envNamespace+")")
	data := fs.StringP("data", "d", "", "the payload")
	file := fs.StringP("file", "f", "", "read the payload from FILE (- for stdin)")
	ctype := fs.String("content-type", "", "payload content type")
	delay := fs.Duration("delay", 0, "invisible for this long after enqueueing")
	vis := fs.Duration("visibility", 0, "visibility timeout of deliveries")
	ttl := fs.Duration("ttl", 0, "dead-letter the message if undelivered this long")
	maxAttempts := fs.Int("max-attempts", 0, "failed deliveries before dead-lettering")
	attrs := fs.StringArray("attr", nil, "attribute KEY=VALUE (repeatable)")
	output := fs.String("output", "text", "output: text or json")
	if err := cl.parse(fs, "lockd client queue enqueue --queue NAME [--data D | --file F|-] [flags]", args, map[string]string{}); err != nil {
		return err
	}
	mode, err := outputMode(*output)
	if err != nil {
		return err
	}
	if err := required(*queue, "queue", "--queue"); err != nil {
		return fmt.Errorf("--queue is required")
	}
	attributes, err := parseAttrs(*attrs)
	if err != nil {
		return err
	}
	payload, closePayload, err := cl.payload(fs, *data, *file)
	if err != nil {
		return err
	}
	defer closePayload()
	c, err := cl.client()
	if err != nil {
		return err
	}
	res, err := c.Enqueue(cl.context(), *queue, payload, sdk.EnqueueOptions{Namespace: queueNamespace(*ns),
		Delay: *delay, Visibility: *vis, TTL: *ttl, MaxAttempts: *maxAttempts, Attributes: attributes, ContentType: *ctype})
	if err != nil {
		return err
	}
	if mode == "json" {
		return writeJSON(cl.stdout, res)
	}
	fmt.Fprintf(cl.stdout, "message_id=%s attempts=%d max_attempts=%d\n", res.MessageID, res.Attempts, res.MaxAttempts)
	return nil
}

// payload is --data, --file, or stdin when it is not a terminal.
func (cl *cli) payload(fs *pflag.FlagSet, data, file string) (io.Reader, func(), error) {
	switch {
	case fs.Changed("data") && file != "":
		return nil, nil, fmt.Errorf("give --data or --file, not both")
	case fs.Changed("data"):
		return strings.NewReader(data), func() {}, nil
	case file != "":
		in, err := cl.openInput(file)
		if err != nil {
			return nil, nil, err
		}
		return in, func() { in.Close() }, nil
	}
	if f, ok := cl.stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice == 0 {
			return f, func() {}, nil
		}
	}
	return strings.NewReader(""), func() {}, nil
}

func parseAttrs(pairs []string) (map[string]any, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	out := map[string]any{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if k = strings.TrimSpace(k); !ok || k == "" {
			return nil, fmt.Errorf("invalid --attr %q (KEY=VALUE)", p)
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

func runDequeue(cl *cli, args []string) error {
	fs := cl.flagSet("queue dequeue")
	queue := fs.StringP("queue", "q", "", "queue name (default $"+envQueueName+")")
	ns := fs.StringP("namespace", "n", "", "namespace (default $"+envQueueNamespace+", $"+envNamespace+")")
	owner := fs.String("owner", "", "consumer identity (default HOST-PID)")
	block := fs.String("block", "forever", "how long to wait for a message: 30s, 2m, forever (0), nowait (-1)")
	vis := fs.Duration("visibility", 0, "visibility timeout of the delivery")
	startAfter := fs.String("start-after", "", "skip messages up to this cursor")
	stateful := fs.BoolP("stateful", "s", false, "also lease the message's workflow state")
	payloadOut := fs.StringP("payload-out", "o", "", "write the payload to FILE (default: a temporary file)")
	output := fs.String("output", "text", "output: text (export lines for eval) or json")
	if err := cl.parse(fs, "lockd client queue dequeue --queue NAME [flags]", args, map[string]string{"queue": envQueueName}); err != nil {
		return err
	}
	mode, err := outputMode(*output)
	if err != nil {
		return err
	}
	if err := required(*queue, "queue", envQueueName); err != nil {
		return err
	}
	blockSecs, err := parseBlock(*block)
	if err != nil {
		return err
	}
	if *owner == "" {
		*owner = defaultOwner()
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	opts := sdk.DequeueOptions{Namespace: queueNamespace(*ns), Owner: *owner, Visibility: *vis,
		BlockSeconds: blockSecs, StartAfter: *startAfter}
	var m *sdk.QueueMessage
	if *stateful {
		m, err = c.DequeueWithState(cl.context(), *queue, opts)
	} else {
		m, err = c.Dequeue(cl.context(), *queue, opts)
	}
	if errors.Is(err, sdk.ErrWaiting) {
		return errors.New("no messages available (try again later)")
	}
	if err != nil {
		return err
	}
	path, n, err := savePayload(m, *payloadOut)
	if err != nil {
		return err // the delivery's lease runs out and it is redelivered
	}
	if *payloadOut == "" {
		fmt.Fprintf(cl.stderr, "payload written to %s\n", path)
	}
	return cl.printDelivery(mode, m, path, n)
}

// savePayload streams the payload to path (a new temporary file when
// empty).
func savePayload(m *sdk.QueueMessage, path string) (string, int64, error) {
	var f *os.File
	var err error
	if path == "" {
		f, err = os.CreateTemp("", "lockd-queue-*.bin")
	} else {
		f, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	}
	if err != nil {
		return "", 0, fmt.Errorf("payload file: %w", err)
	}
	n, err := m.WritePayloadTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, fmt.Errorf("write payload: %w", err)
	}
	return f.Name(), n, nil
}

func (cl *cli) printDelivery(mode string, m *sdk.QueueMessage, path string, n int64) error {
	msg := m.Meta()
	if mode == "json" {
		return writeJSON(cl.stdout, map[string]any{"message": msg, "cursor": m.Cursor(), "payload_path": path, "payload_bytes": n})
	}
	stateFencing := "" // cleared unless this delivery has a workflow state
	if msg.StateLeaseID != "" {
		stateFencing = strconv.FormatInt(msg.StateFencingToken, 10)
	}
	exports := []export{
		{envQueueNamespace, msg.Namespace}, {envQueueName, msg.Queue}, {envQueueMessageID, msg.MessageID},
		{envQueueLease, msg.LeaseID}, {envQueueFencing, strconv.FormatInt(msg.FencingToken, 10)},
		{envQueueMetaETag, msg.MetaETag}, {envQueuePayloadPath, path}, {envQueueCursor, m.Cursor()},
		{envQueueStateLease, msg.StateLeaseID}, {envQueueStateFencing, stateFencing}, {envQueueStateETag, msg.StateETag},
	}
	writeExports(cl.stdout, exports)
	return nil
}

// deliveryFlags name a delivery: flags, else the LOCKD_QUEUE_* exported
// by "lockd client queue dequeue".
type deliveryFlags struct {
	queue, ns, message, lease, metaETag, fencing, stateLease, stateFencing, stateETag string
}

func addDeliveryFlags(fs *pflag.FlagSet) *deliveryFlags {
	d := &deliveryFlags{}
	fs.StringVarP(&d.queue, "queue", "q", "", "queue (default $"+envQueueName+")")
	fs.StringVarP(&d.ns, "namespace", "n", "", "namespace (default $"+envQueueNamespace+", $"+envNamespace+")")
	fs.StringVar(&d.message, "message", "", "message id (default $"+envQueueMessageID+")")
	fs.StringVar(&d.lease, "lease", "", "delivery lease id (default $"+envQueueLease+")")
	fs.StringVar(&d.metaETag, "meta-etag", "", "delivery meta etag (default $"+envQueueMetaETag+")")
	fs.StringVar(&d.fencing, "fencing-token", "", "delivery fencing token (default $"+envQueueFencing+")")
	fs.StringVar(&d.stateLease, "state-lease", "", "state lease id (default $"+envQueueStateLease+")")
	fs.StringVar(&d.stateFencing, "state-fencing-token", "", "state fencing token (default $"+envQueueStateFencing+")")
	fs.StringVar(&d.stateETag, "state-etag", "", "state etag (default $"+envQueueStateETag+")")
	return d
}

func deliveryEnv() map[string]string {
	return map[string]string{"queue": envQueueName, "message": envQueueMessageID,
		"lease": envQueueLease, "meta-etag": envQueueMetaETag, "fencing-token": envQueueFencing,
		"state-lease": envQueueStateLease, "state-fencing-token": envQueueStateFencing, "state-etag": envQueueStateETag}
}

// delivery holds the checked identifiers of a delivery.
type delivery struct {
	ns, queue, message, lease, metaETag, stateLease, stateETag string
	fencing, stateFencing                                      int64
}

func (d *deliveryFlags) resolve() (delivery, error) {
	out := delivery{ns: queueNamespace(d.ns), queue: d.queue, message: d.message, lease: d.lease,
		metaETag: d.metaETag, stateLease: d.stateLease, stateETag: d.stateETag}
	for _, c := range []struct{ v, flag, env string }{
		{d.queue, "queue", envQueueName}, {d.message, "message", envQueueMessageID}, {d.lease, "lease", envQueueLease},
		{d.metaETag, "meta-etag", envQueueMetaETag}, {d.fencing, "fencing-token", envQueueFencing},
	} {
		if err := required(c.v, c.flag, c.env); err != nil {
			return out, err
		}
	}
	var err error
	if out.fencing, err = strconv.ParseInt(d.fencing, 10, 64); err != nil {
		return out, fmt.Errorf("invalid --fencing-token %q", d.fencing)
	}
	if d.stateLease != "" {
		if out.stateFencing, err = strconv.ParseInt(d.stateFencing, 10, 64); err != nil {
			return out, fmt.Errorf("invalid --state-fencing-token %q (required with --state-lease)", d.stateFencing)
		}
	}
	return out, nil
}

func runAck(cl *cli, args []string) error {
	fs := cl.flagSet("queue ack")
	df := addDeliveryFlags(fs)
	if err := cl.parse(fs, "lockd client queue ack [flags]", args, deliveryEnv()); err != nil {
		return err
	}
	d, err := df.resolve()
	if err != nil {
		return err
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	_, err = c.QueueAck(cl.context(), api.AckRequest{Namespace: d.ns, Queue: d.queue, MessageID: d.message,
		LeaseID: d.lease, FencingToken: d.fencing, MetaETag: d.metaETag,
		StateLeaseID: d.stateLease, StateFencingToken: d.stateFencing, StateETag: d.stateETag})
	if err != nil {
		return err
	}
	fmt.Fprintln(cl.stdout, "acknowledged")
	return nil
}

func runNack(cl *cli, args []string) error {
	fs := cl.flagSet("queue nack")
	df := addDeliveryFlags(fs)
	delay := fs.Duration("delay", 0, "keep the message invisible this long")
	reason := fs.String("reason", "", "why it failed (recorded as last_error; --intent failure only)")
	intent := fs.StringP("intent", "i", "failure", "failure (counts toward max_attempts) or defer (does not)")
	if err := cl.parse(fs, "lockd client queue nack [--intent failure|defer] [--delay D] [--reason R] [flags]", args, deliveryEnv()); err != nil {
		return err
	}
	in := api.NackIntent(strings.ToLower(*intent))
	if in != api.NackIntentFailure && in != api.NackIntentDefer {
		return fmt.Errorf("invalid --intent %q (failure or defer)", *intent)
	}
	if *reason != "" && in != api.NackIntentFailure {
		return fmt.Errorf("--reason goes with --intent failure")
	}
	d, err := df.resolve()
	if err != nil {
		return err
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	req := api.NackRequest{Namespace: d.ns, Queue: d.queue, MessageID: d.message, LeaseID: d.lease,
		FencingToken: d.fencing, MetaETag: d.metaETag, StateLeaseID: d.stateLease, StateFencingToken: d.stateFencing,
		DelaySeconds: seconds(*delay), Intent: in}
	if *reason != "" {
		req.LastError = []byte(fmt.Sprintf(`{"detail":%q}`, *reason))
	}
	res, err := c.QueueNack(cl.context(), req)
	if err != nil {
		return err
	}
	if res.DeadLettered {
		fmt.Fprintln(cl.stdout, "dead-lettered")
		return nil
	}
	fmt.Fprintln(cl.stdout, "requeued")
	return nil
}

func runExtend(cl *cli, args []string) error {
	fs := cl.flagSet("queue extend")
	df := addDeliveryFlags(fs)
	by := fs.Duration("extend", 30*time.Second, "keep the delivery leased this much longer from now")
	output := fs.String("output", "text", "output: text (export of the new meta etag for eval) or json")
	if err := cl.parse(fs, "lockd client queue extend [--extend D] [flags]", args, deliveryEnv()); err != nil {
		return err
	}
	mode, err := outputMode(*output)
	if err != nil {
		return err
	}
	d, err := df.resolve()
	if err != nil {
		return err
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	res, err := c.QueueExtend(cl.context(), api.ExtendRequest{Namespace: d.ns, Queue: d.queue, MessageID: d.message,
		LeaseID: d.lease, FencingToken: d.fencing, MetaETag: d.metaETag, StateLeaseID: d.stateLease,
		StateFencingToken: d.stateFencing, ExtendBySeconds: seconds(*by)})
	if err != nil {
		return err
	}
	if mode == "json" {
		return writeJSON(cl.stdout, res)
	}
	// Extending rewrites the message, so its meta etag changes and a
	// later ack or nack needs the new one: eval "$(lockd client queue extend)".
	fmt.Fprintf(cl.stderr, "lease_expires_at_unix=%d visibility_timeout_seconds=%d\n", res.LeaseExpiresAtUnix, res.VisibilityTimeoutSeconds)
	writeExports(cl.stdout, []export{{envQueueMetaETag, res.MetaETag}})
	return nil
}

func runQueueStats(cl *cli, args []string) error {
	fs := cl.flagSet("queue stats")
	queue := fs.StringP("queue", "q", "", "queue name (default $"+envQueueName+")")
	ns := fs.StringP("namespace", "n", "", "namespace (default $"+envQueueNamespace+", $"+envNamespace+")")
	if err := cl.parse(fs, "lockd client queue stats --queue NAME [flags]", args, map[string]string{"queue": envQueueName}); err != nil {
		return err
	}
	if err := required(*queue, "queue", envQueueName); err != nil {
		return err
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	st, err := c.QueueStats(cl.context(), *queue, sdk.WithNamespace(queueNamespace(*ns)))
	if err != nil {
		return err
	}
	return writeJSON(cl.stdout, st)
}
