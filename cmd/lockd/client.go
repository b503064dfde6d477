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
)

// clientCommand is one "lockd client" subcommand.
type clientCommand struct {
	synopsis string
	run      func(cl *cli, args []string) error
}

// clientCommands is the "lockd client" command table.
func clientCommands() map[string]clientCommand {
	return map[string]clientCommand{
		"acquire":     {"acquire a lease and print export LOCKD_CLIENT_*= lines for eval", runAcquire},
		"keepalive":   {"extend the lease named by LOCKD_CLIENT_*", runKeepAlive},
		"release":     {"release the lease (commit, or --rollback)", runRelease},
		"describe":    {"show a key's holder, version and metadata", runDescribe},
		"get":         {"read a key's state (lease-bound, or --public)", runGet},
		"update":      {"stage new state from FILE or stdin", runUpdate},
		"remove":      {"stage the removal of a key's state", runRemove},
		"mutate":      {"apply LQL mutations on the server (or --local)", runMutate},
		"set":         {"apply LQL mutations locally (get, mutate, update)", runSet},
		"edit":        {"apply LQL mutations to a local JSON file or stdin (no server)", runEdit},
		"query":       {"list keys or stream documents matching an LQL selector", runQuery},
		"attachments": {"put, list, get, delete attachments", runAttachments},
		"queue":       {"enqueue, dequeue, ack, nack, extend, stats", runQueue},
		"namespace":   {"show or set a namespace's query configuration", runNamespace},
	}
}

// runClient runs "lockd client ARGS".
func runClient(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cl := newCLI(ctx, stdin, stdout, stderr)
	global := pflag.NewFlagSet("lockd client", pflag.ContinueOnError)
	global.SetOutput(io.Discard)
	global.SetInterspersed(false)
	global.AddFlagSet(cl.conn.fs)
	if err := global.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			cl.overview()
			return nil
		}
		return fmt.Errorf("client: %w (see lockd client --help)", err)
	}
	rest := global.Args()
	if len(rest) == 0 || rest[0] == "help" {
		cl.overview()
		return nil
	}
	cmd, ok := clientCommands()[rest[0]]
	if !ok {
		return fmt.Errorf("client: unknown command %q (see lockd client --help)", rest[0])
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
		return fmt.Errorf("client %s: %s", name, explain(err))
	}
	return nil
}

// subcommandError names the subcommand (queue ack, …) that failed.
type subcommandError struct {
	name string
	err  error
}

func (e *subcommandError) Error() string { return e.name + ": " + e.err.Error() }
func (e *subcommandError) Unwrap() error { return e.err }

// runSub dispatches a command group's subcommand.
func runSub(cl *cli, group string, subs map[string]func(*cli, []string) error, args []string) error {
	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(cl.stdout, "Usage: lockd client %s %s [flags]\n", group, strings.Join(names, "|"))
		return nil
	}
	run, ok := subs[args[0]]
	if !ok {
		return fmt.Errorf("unknown %s command %q (%s)", group, args[0], strings.Join(names, ", "))
	}
	if err := run(cl, args[1:]); err != nil && !errors.Is(err, errHelpShown) {
		return &subcommandError{name: args[0], err: err}
	}
	return nil
}

// errHelpShown ends a command whose --help was printed.
var errHelpShown = errors.New("help shown")

// cli is the state shared by the client commands of one invocation.
type cli struct {
	ctx            context.Context
	stdin          io.Reader
	stdout, stderr io.Writer
	conn           *connFlags
}

func newCLI(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) *cli {
	return &cli{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, conn: newConnFlags()}
}

func (cl *cli) overview() {
	fmt.Fprintln(cl.stdout, "Usage: lockd client [connection flags] COMMAND [flags]")
	fmt.Fprintln(cl.stdout, "\nCommands:")
	cmds := clientCommands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(cl.stdout, "  %-12s %s\n", n, cmds[n].synopsis)
	}
	fmt.Fprintln(cl.stdout, "\nConnection flags (every command accepts them):")
	fmt.Fprint(cl.stdout, cl.conn.fs.FlagUsages())
}

// flagSet returns a command's flag set, which includes the connection
// flags.
func (cl *cli) flagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("lockd client "+name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.AddFlagSet(cl.conn.fs)
	return fs
}

// parse parses a command's flags, then fills the flags not given from
// their environment variables (env maps flag name to variable; the
// connection flags are bound already).
func (cl *cli) parse(fs *pflag.FlagSet, usage string, args []string, env map[string]string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintf(cl.stdout, "Usage: %s\n\nFlags:\n%s", usage, fs.FlagUsages())
			return errHelpShown
		}
		return fmt.Errorf("%w (see %s --help)", err, fs.Name())
	}
	for k, v := range cl.conn.env {
		env[k] = v
	}
	for name, variable := range env {
		f := fs.Lookup(name)
		if f == nil || f.Changed {
			continue
		}
		if v, ok := os.LookupEnv(variable); ok && strings.TrimSpace(v) != "" {
			if err := fs.Set(name, strings.TrimSpace(v)); err != nil {
				return fmt.Errorf("%s=%q: %w", variable, v, err)
			}
		}
	}
	return nil
}

// context returns the command's context with its correlation id
// (LOCKD_CLIENT_CORRELATION_ID, else a fresh one).
func (cl *cli) context() context.Context {
	if id, ok := sdk.NormalizeCorrelationID(os.Getenv(envCorrelationID)); ok {
		return sdk.WithCorrelationID(cl.ctx, id)
	}
	return sdk.WithCorrelationID(cl.ctx, sdk.GenerateCorrelationID())
}

// explain turns an error into one line for the terminal.
func explain(err error) string {
	var ae *sdk.APIError
	if errors.As(err, &ae) {
		msg := ae.Code
		if ae.Detail != "" {
			msg += ": " + ae.Detail
		}
		msg += fmt.Sprintf(" (HTTP %d", ae.Status)
		if ae.RetryAfter > 0 {
			msg += fmt.Sprintf(", retry after %s", ae.RetryAfter)
		}
		return msg + ")"
	}
	msg := strings.TrimPrefix(strings.ReplaceAll(err.Error(), "\n", " "), "lockd: ")
	switch {
	case strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		msg += "; the server speaks plain HTTP: use --server http://HOST:PORT or --disable-mtls"
	case strings.Contains(msg, "connection refused"):
		msg += "; is lockd running there? (--server or LOCKD_CLIENT_SERVER)"
	}
	return msg
}
