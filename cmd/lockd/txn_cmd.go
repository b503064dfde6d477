package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

// "lockd txn" drives the transaction coordinator directly (TC-auth). The
// ordinary way to end a transaction is `lockd client release` (commit, or
// --rollback) or a queue ack/nack; these commands are for TC tooling,
// recovery and incident response.

// txnCommands is the "lockd txn" command table.
func txnCommands() map[string]clientCommand {
	return map[string]clientCommand{
		"prepare":  {"record participants of a pending transaction (decide state=pending)", runTxnPrepare},
		"commit":   {"decide commit and apply it to every participant", txnDecision(sdk.TxnCommit)},
		"rollback": {"decide rollback and apply it to every participant", txnDecision(sdk.TxnRollback)},
		"replay":   {"re-apply a recorded decision (a stale pending one rolls back)", runTxnReplay},
	}
}

// runTxn runs "lockd txn ARGS".
func runTxn(args []string, stdout, stderr io.Writer) error {
	return runTCGroup("txn", "lockd txn [connection flags] COMMAND [flags]", txnCommands(), args, stdout, stderr)
}

// runTCGroup parses the connection flags of a TC command group and runs
// its subcommand; errors read "GROUP SUB: explanation".
func runTCGroup(group, usage string, cmds map[string]clientCommand, args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cl := newCLI(ctx, os.Stdin, stdout, stderr)
	cl.conn = newTCConnFlags()
	global := pflag.NewFlagSet("lockd "+group, pflag.ContinueOnError)
	global.SetOutput(io.Discard)
	global.SetInterspersed(false)
	global.AddFlagSet(cl.conn.fs)
	if err := global.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			groupOverview(cl, usage, cmds)
			return nil
		}
		return usageError{fmt.Errorf("%s: %w (see lockd %s --help)", group, err, group)}
	}
	rest := global.Args()
	if len(rest) == 0 || rest[0] == "help" {
		groupOverview(cl, usage, cmds)
		return nil
	}
	cmd, ok := cmds[rest[0]]
	if !ok {
		return usageError{fmt.Errorf("%s: unknown command %q (see lockd %s --help)", group, rest[0], group)}
	}
	if err := cmd.run(cl, rest[1:]); err != nil {
		if errors.Is(err, errHelpShown) {
			return nil
		}
		name := rest[0]
		var se *subcommandError
		if errors.As(err, &se) {
			name, err = name+" "+se.name, se.err
		}
		return fmt.Errorf("%s %s: %s", group, name, explain(err))
	}
	return nil
}

func groupOverview(cl *cli, usage string, cmds map[string]clientCommand) {
	fmt.Fprintln(cl.stdout, "Usage: "+usage)
	fmt.Fprintln(cl.stdout, "\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(cl.stdout, "  %-12s %s\n", n, cmds[n].synopsis)
	}
	fmt.Fprintln(cl.stdout, "\nUnder mTLS these commands present a TC identity: --bundle, else the only")
	fmt.Fprintln(cl.stdout, "$HOME/.lockd/tc-client*.pem (lockd auth new tcclient), else $HOME/.lockd/server.pem.")
	fmt.Fprintln(cl.stdout, "\nConnection flags (every command accepts them):")
	fmt.Fprint(cl.stdout, cl.conn.fs.FlagUsages())
}

// tcFlagSet is a TC command's flag set with the connection flags and
// --trust-dir.
func (cl *cli) tcFlagSet(name string, trustDir *string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("lockd "+name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.AddFlagSet(cl.conn.fs)
	fs.StringVar(trustDir, "trust-dir", "", "extra trusted CA certificates (default $HOME/.lockd/"+tcTrustDirName+")")
	return fs
}

// tcClient builds an SDK client that presents a TC identity.
func (cl *cli) tcClient(t tcTarget) (*sdk.Client, error) {
	opts := []sdk.Option{sdk.WithHTTPTimeout(cl.conn.timeout), sdk.WithDrainAwareShutdown(false), sdk.WithUserAgent("lockd-cli")}
	log, err := cl.logger()
	if err != nil {
		return nil, err
	}
	if log != nil {
		opts = append(opts, sdk.WithLogger(log))
	}
	tlsOpts, err := t.options()
	if err != nil {
		return nil, err
	}
	return sdk.NewWithEndpoints(t.endpoints, append(opts, tlsOpts...)...)
}

// txnClient is tcClient for --server and --bundle.
func (cl *cli) txnClient(trustDir string) (*sdk.Client, error) {
	eps, err := cl.conn.endpoints()
	if err != nil {
		return nil, err
	}
	return cl.tcClient(tcTarget{endpoints: eps, bundle: cl.conn.bundle, trustDir: trustDir, disableMTLS: cl.conn.disableMTLS})
}

// txnFlags are the flags of prepare, commit and rollback.
type txnFlags struct {
	txnID, namespace, trustDir, output string
	participants                       []string
}

func (cl *cli) txnFlagSet(name string, f *txnFlags) *pflag.FlagSet {
	fs := cl.tcFlagSet(name, &f.trustDir)
	fs.StringVar(&f.txnID, "txn-id", "", "transaction id, an xid (default $"+envTxnID+")")
	fs.StringSliceVarP(&f.participants, "participant", "p", nil, "participant [NS:]KEY[@BACKEND_HASH] (repeatable or comma-separated)")
	fs.StringVarP(&f.namespace, "namespace", "n", "", "namespace of participants without NS: (default $"+envNamespace+", else default)")
	fs.StringVar(&f.output, "output", "text", "output: text or json")
	return fs
}

// request checks the flags and builds the decision request.
func (f *txnFlags) request() (api.TxnDecisionRequest, error) {
	if err := required(f.txnID, "txn-id", envTxnID); err != nil {
		return api.TxnDecisionRequest{}, err
	}
	ns := strings.TrimSpace(f.namespace)
	if ns == "" {
		ns = "default"
	}
	parts, err := parseParticipants(f.participants, ns)
	if err != nil {
		return api.TxnDecisionRequest{}, err
	}
	return api.TxnDecisionRequest{TxnID: strings.TrimSpace(f.txnID), Participants: parts}, nil
}

func txnEnv() map[string]string {
	return map[string]string{"txn-id": envTxnID, "namespace": envNamespace}
}

// parseParticipants reads [NS:]KEY[@BACKEND_HASH] entries; ns is the
// namespace of entries without one.
func parseParticipants(values []string, ns string) ([]api.TxnParticipant, error) {
	var out []api.TxnParticipant
	for _, v := range values {
		raw := strings.TrimSpace(v)
		if raw == "" {
			continue
		}
		p := api.TxnParticipant{Namespace: ns, Key: raw}
		if at := strings.LastIndex(raw, "@"); at >= 0 {
			p.Key, p.BackendHash = strings.TrimSpace(raw[:at]), strings.TrimSpace(raw[at+1:])
			if p.BackendHash == "" {
				return nil, fmt.Errorf("participant %q: empty backend hash after @", v)
			}
		}
		if n, k, ok := strings.Cut(p.Key, ":"); ok {
			p.Namespace, p.Key = strings.TrimSpace(n), strings.TrimSpace(k)
		}
		if p.Key == "" || p.Namespace == "" {
			return nil, fmt.Errorf("participant %q: want [NS:]KEY[@BACKEND_HASH]", v)
		}
		out = append(out, p)
	}
	return out, nil
}

func runTxnPrepare(cl *cli, args []string) error {
	var f txnFlags
	fs := cl.txnFlagSet("txn prepare", &f)
	expires := fs.Int64("expires-unix", 0, "roll the transaction back if still pending at this Unix time (seconds)")
	if err := cl.parse(fs, "lockd txn prepare --txn-id ID -p [NS:]KEY ... [flags]", args, txnEnv()); err != nil {
		return err
	}
	req, err := f.request()
	if err != nil {
		return err
	}
	req.ExpiresAtUnix = *expires
	return cl.txnCall(f, func(ctx context.Context, c *sdk.Client) (any, string, string, error) {
		r, err := c.TxnPrepare(ctx, req)
		if err != nil {
			return nil, "", "", err
		}
		return r, r.TxnID, r.State, nil
	})
}

// txnDecision runs commit or rollback: a decision through the TC
// (/v1/txn/decide), or with --apply the RM apply endpoint of the node
// (/v1/txn/commit, /v1/txn/rollback) for a decision taken already.
func txnDecision(state string) func(*cli, []string) error {
	return func(cl *cli, args []string) error {
		var f txnFlags
		fs := cl.txnFlagSet("txn "+state, &f)
		term := fs.Int64("tc-term", 0, "TC term the decision carries; a node that knows a newer one refuses it (0: none)")
		apply := fs.Bool("apply", false, "apply a decision already taken, on this node only (RM endpoint /v1/txn/"+state+")")
		if err := cl.parse(fs, "lockd txn "+state+" --txn-id ID [-p [NS:]KEY ...] [flags]", args, txnEnv()); err != nil {
			return err
		}
		req, err := f.request()
		if err != nil {
			return err
		}
		req.TCTerm = *term
		return cl.txnCall(f, func(ctx context.Context, c *sdk.Client) (any, string, string, error) {
			call := c.TxnRollback
			switch {
			case state == sdk.TxnCommit && *apply:
				call = c.TxnApplyCommit
			case state == sdk.TxnCommit:
				call = c.TxnCommit
			case *apply:
				call = c.TxnApplyRollback
			}
			r, err := call(ctx, req)
			if err != nil {
				return nil, "", "", err
			}
			return r, r.TxnID, r.State, nil
		})
	}
}

func runTxnReplay(cl *cli, args []string) error {
	var f txnFlags
	fs := cl.tcFlagSet("txn replay", &f.trustDir)
	fs.StringVar(&f.txnID, "txn-id", "", "transaction id, an xid (default $"+envTxnID+")")
	fs.StringVar(&f.output, "output", "text", "output: text or json")
	if err := cl.parse(fs, "lockd txn replay --txn-id ID [flags]", args, map[string]string{"txn-id": envTxnID}); err != nil {
		return err
	}
	if err := required(f.txnID, "txn-id", envTxnID); err != nil {
		return err
	}
	return cl.txnCall(f, func(ctx context.Context, c *sdk.Client) (any, string, string, error) {
		r, err := c.TxnReplay(ctx, strings.TrimSpace(f.txnID))
		if err != nil {
			return nil, "", "", err
		}
		return r, r.TxnID, r.State, nil
	})
}

// txnCall connects, runs do and prints "txn_id=ID state=STATE" (as lockd
// v0.9) or the JSON answer.
func (cl *cli) txnCall(f txnFlags, do func(context.Context, *sdk.Client) (any, string, string, error)) error {
	mode, err := outputMode(f.output)
	if err != nil {
		return err
	}
	c, err := cl.txnClient(f.trustDir)
	if err != nil {
		return err
	}
	defer c.Close()
	resp, id, state, err := do(cl.context(), c)
	if err != nil {
		return err
	}
	if mode == "json" {
		return writeJSON(cl.stdout, resp)
	}
	fmt.Fprintf(cl.stdout, "txn_id=%s state=%s\n", id, state)
	return nil
}
