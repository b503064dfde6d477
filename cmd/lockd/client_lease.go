package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

func runAcquire(cl *cli, args []string) error {
	fs := cl.flagSet("acquire")
	key := fs.StringP("key", "k", "", "key to lease (omit for a server-generated key)")
	ns := fs.StringP("namespace", "n", "", "namespace (default $"+envNamespace+", else the server's)")
	owner := fs.String("owner", "", "owner identity (default HOST-PID)")
	ttl := fs.Duration("ttl", 30*time.Second, "lease TTL")
	block := fs.String("block", "10s", "how long to wait for a held key: 30s, 2m, forever (0), nowait (-1)")
	ifNotExists := fs.Bool("if-not-exists", false, "fail with already_exists if the key exists (create-only)")
	txn := fs.String("txn-id", "", "join this transaction (xid)")
	output := fs.String("output", "text", "output: text (export lines for eval) or json")
	retries := fs.Int("retries", sdk.DefaultFailureRetries, "retries on transport errors, 429 and 503")
	if err := cl.parse(fs, "lockd client acquire [flags]", args, map[string]string{"namespace": envNamespace}); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (the key goes in --key)", fs.Arg(0))
	}
	mode, err := outputMode(*output)
	if err != nil {
		return err
	}
	blockSecs, err := parseBlock(*block)
	if err != nil {
		return err
	}
	if *ttl <= 0 {
		return fmt.Errorf("--ttl must be positive")
	}
	if *owner == "" {
		*owner = defaultOwner()
	}
	var extra []sdk.Option
	if fs.Changed("retries") {
		extra = append(extra, sdk.WithRetries(*retries))
	}
	c, err := cl.client(extra...)
	if err != nil {
		return err
	}
	// A lease that outlives this process: no keepalive, no release.
	sess, err := c.Acquire(cl.context(), api.AcquireRequest{Namespace: *ns, Key: *key, Owner: *owner,
		TTLSeconds: seconds(*ttl), BlockSeconds: blockSecs, IfNotExists: *ifNotExists, TxnID: *txn},
		sdk.WithoutKeepAlive())
	if err != nil {
		return err
	}
	if mode == "json" {
		return writeJSON(cl.stdout, sess.AcquireResponse)
	}
	eps, _ := cl.conn.endpoints()
	writeExports(cl.stdout, []export{
		{envLease, sess.LeaseID}, {envKey, sess.Key}, {envOwner, sess.Owner},
		{envFencingToken, strconv.FormatInt(sess.FencingToken, 10)}, {envTxnID, sess.TxnID},
		{envServer, strings.Join(eps, ",")}, {envVersion, strconv.FormatInt(sess.Version, 10)},
		{envETag, sess.StateETag}, {envExpires, strconv.FormatInt(sess.ExpiresAtUnix, 10)},
		{envNamespace, sess.Namespace}, {envCorrelationID, sess.CorrelationID},
	})
	return nil
}

func runKeepAlive(cl *cli, args []string) error {
	fs := cl.flagSet("keepalive")
	l := addLeaseFlags(fs)
	ttl := fs.Duration("ttl", 30*time.Second, "new TTL from now")
	output := fs.String("output", "json", "output: json or text")
	if err := cl.parse(fs, "lockd client keepalive [flags]", args, leaseEnv()); err != nil {
		return err
	}
	mode, err := outputMode(*output)
	if err != nil {
		return err
	}
	sess, err := cl.session(l)
	if err != nil {
		return err
	}
	exp, err := sess.KeepAlive(cl.context(), *ttl)
	if err != nil {
		return err
	}
	if mode == "text" {
		fmt.Fprintf(cl.stdout, "expires_at_unix: %d (%s)\n", exp.Unix(), exp.UTC().Format(time.RFC3339))
	} else if err := writeJSON(cl.stdout, map[string]any{"expires_at_unix": exp.Unix(), "expires_at_iso": exp.UTC().Format(time.RFC3339)}); err != nil {
		return err
	}
	cl.afterDrain(sess)
	return nil
}

func runRelease(cl *cli, args []string) error {
	fs := cl.flagSet("release")
	l := addLeaseFlags(fs)
	rollback := fs.Bool("rollback", false, "discard what was staged instead of committing it")
	output := fs.String("output", "json", "output: json or text")
	if err := cl.parse(fs, "lockd client release [--rollback] [flags]", args, leaseEnv()); err != nil {
		return err
	}
	mode, err := outputMode(*output)
	if err != nil {
		return err
	}
	sess, err := cl.session(l)
	if err != nil {
		return err
	}
	if *rollback {
		err = sess.Rollback(cl.context())
	} else {
		err = sess.Release(cl.context())
	}
	if err != nil {
		return err
	}
	if mode == "text" {
		fmt.Fprintln(cl.stdout, "released: true")
		return nil
	}
	return writeJSON(cl.stdout, map[string]any{"released": true, "rollback": *rollback})
}

func runDescribe(cl *cli, args []string) error {
	fs := cl.flagSet("describe")
	key := fs.StringP("key", "k", "", "key (default $"+envKey+")")
	ns := fs.StringP("namespace", "n", "", "namespace (default $"+envNamespace+")")
	output := fs.String("output", "json", "output: json or text")
	if err := cl.parse(fs, "lockd client describe [flags]", args, keyEnv()); err != nil {
		return err
	}
	mode, err := outputMode(*output)
	if err != nil {
		return err
	}
	if err := required(*key, "key", envKey); err != nil {
		return err
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	d, err := c.Describe(cl.context(), *key, sdk.WithNamespace(*ns))
	if err != nil {
		return err
	}
	if mode == "json" {
		return writeJSON(cl.stdout, d)
	}
	fmt.Fprintf(cl.stdout, "namespace: %s\nkey: %s\nversion: %d\nstate_etag: %s\nowner: %s\nlease_id: %s\nexpires_at_unix: %d\nquery_hidden: %t\n",
		d.Namespace, d.Key, d.Version, d.StateETag, d.Owner, d.LeaseID, d.ExpiresAtUnix, d.Metadata.QueryHidden)
	return nil
}
