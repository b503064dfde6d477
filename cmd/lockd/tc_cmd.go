package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

// "lockd tc" manages the transaction coordinator cluster: membership
// (announce, leave, list, as lockd v0.9), and, as extensions of this
// server, the leader and the resource-manager registry. Servers announce
// and refresh their own membership; these commands are for operators.

// tcCommands is the "lockd tc" command table.
func tcCommands() map[string]clientCommand {
	return map[string]clientCommand{
		"announce": {"announce a node's TC membership (--self) and list the members", runTCAnnounce},
		"leave":    {"remove a node's TC membership and list the remaining members", runTCLeave},
		"list":     {"list the TC members", runTCList},
		"leader":   {"show the TC leader, its term and lease expiry", runTCLeader},
		"rm":       {"register, unregister, list resource-manager endpoints per backend island", runTCRM},
	}
}

// runTC runs "lockd tc ARGS".
func runTC(args []string, stdout, stderr io.Writer) error {
	return runTCGroup("tc", "lockd tc [connection flags] COMMAND [flags]", tcCommands(), args, stdout, stderr)
}

// tcFlags are the flags every tc command takes besides the connection
// flags.
type tcFlags struct {
	endpoints              []string
	serverBundle, trustDir string
	output                 string
}

func (cl *cli) tcCmdFlagSet(name string, f *tcFlags) *pflag.FlagSet {
	fs := cl.tcFlagSet("tc "+name, &f.trustDir)
	fs.StringSliceVar(&f.endpoints, "endpoint", nil, "TC endpoint to contact (repeatable or comma-separated; default --server)")
	fs.StringVar(&f.serverBundle, "server-bundle", "", "server bundle to present (default $HOME/.lockd/server.pem for announce and leave)")
	fs.StringVar(&f.output, "output", "text", "output: text or json")
	return fs
}

// client connects to --endpoint (else --server). preferServer makes the
// node's server bundle the default identity.
func (cl *cli) tcCmdClient(f *tcFlags, preferServer bool) (*sdk.Client, error) {
	raw := strings.Join(f.endpoints, ",")
	if strings.TrimSpace(raw) == "" {
		raw = cl.conn.server
	}
	eps, err := sdk.ParseEndpoints(raw, cl.conn.disableMTLS)
	if err != nil {
		return nil, err
	}
	return cl.tcClient(tcTarget{endpoints: eps, bundle: cl.conn.bundle, serverBundle: f.serverBundle,
		preferServer: preferServer, trustDir: f.trustDir, disableMTLS: cl.conn.disableMTLS})
}

// plaintextCheck is lockd v0.9's rule for --disable-mtls: membership is
// not sent in the clear to other nodes, so every endpoint must be self
// (announce), or there must be one endpoint (leave, list).
func (cl *cli) plaintextCheck(f *tcFlags, self string) error {
	if !cl.conn.disableMTLS {
		return nil
	}
	if self == "" {
		if len(f.endpoints) > 1 {
			return fmt.Errorf("mTLS is required when contacting several TC endpoints")
		}
		return nil
	}
	for _, ep := range f.endpoints {
		if strings.TrimRight(strings.TrimSpace(ep), "/") != strings.TrimRight(self, "/") {
			return fmt.Errorf("mTLS is required when contacting non-self TC endpoints (%s)", ep)
		}
	}
	return nil
}

// tcRun connects and runs do, then prints its endpoints one per line or
// the JSON answer.
func (cl *cli) tcRun(f *tcFlags, preferServer bool, do func(context.Context, *sdk.Client) (any, []string, error)) error {
	mode, err := outputMode(f.output)
	if err != nil {
		return err
	}
	c, err := cl.tcCmdClient(f, preferServer)
	if err != nil {
		return err
	}
	defer c.Close()
	resp, eps, err := do(cl.context(), c)
	if err != nil {
		return err
	}
	if mode == "json" {
		return writeJSON(cl.stdout, resp)
	}
	for _, ep := range eps {
		fmt.Fprintln(cl.stdout, ep)
	}
	return nil
}

func runTCAnnounce(cl *cli, args []string) error {
	var f tcFlags
	fs := cl.tcCmdFlagSet("announce", &f)
	self := fs.String("self", "", "the announced node's endpoint, an http(s) URL (required)")
	if err := cl.parse(fs, "lockd tc announce --self URL [--endpoint URL ...] [flags]", args, map[string]string{}); err != nil {
		return err
	}
	if err := required(*self, "self", "--self"); err != nil {
		return fmt.Errorf("--self is required")
	}
	if err := cl.plaintextCheck(&f, strings.TrimSpace(*self)); err != nil {
		return err
	}
	return cl.tcRun(&f, true, func(ctx context.Context, c *sdk.Client) (any, []string, error) {
		r, err := c.TCClusterAnnounce(ctx, api.TCClusterAnnounceRequest{SelfEndpoint: strings.TrimSpace(*self)})
		if err != nil {
			return nil, nil, err
		}
		return r, r.Endpoints, nil
	})
}

func runTCLeave(cl *cli, args []string) error {
	var f tcFlags
	fs := cl.tcCmdFlagSet("leave", &f)
	self := fs.String("self", "", "the leaving node's announced endpoint (this server needs it)")
	if err := cl.parse(fs, "lockd tc leave --self URL [--endpoint URL] [flags]", args, map[string]string{}); err != nil {
		return err
	}
	if err := cl.plaintextCheck(&f, ""); err != nil {
		return err
	}
	return cl.tcRun(&f, true, func(ctx context.Context, c *sdk.Client) (any, []string, error) {
		r, err := c.TCClusterLeave(ctx, api.TCClusterLeaveRequest{SelfEndpoint: strings.TrimSpace(*self)})
		if err != nil {
			return nil, nil, err
		}
		return r, r.Endpoints, nil
	})
}

func runTCList(cl *cli, args []string) error {
	var f tcFlags
	fs := cl.tcCmdFlagSet("list", &f)
	if err := cl.parse(fs, "lockd tc list [--endpoint URL ...] [flags]", args, map[string]string{}); err != nil {
		return err
	}
	if err := cl.plaintextCheck(&f, ""); err != nil {
		return err
	}
	return cl.tcRun(&f, false, func(ctx context.Context, c *sdk.Client) (any, []string, error) {
		r, err := c.TCClusterList(ctx)
		if err != nil {
			return nil, nil, err
		}
		return r, r.Endpoints, nil
	})
}

func runTCLeader(cl *cli, args []string) error {
	var f tcFlags
	fs := cl.tcCmdFlagSet("leader", &f)
	if err := cl.parse(fs, "lockd tc leader [--endpoint URL ...] [flags]", args, map[string]string{}); err != nil {
		return err
	}
	return cl.tcRun(&f, false, func(ctx context.Context, c *sdk.Client) (any, []string, error) {
		r, err := c.TCLeader(ctx)
		if err != nil {
			return nil, nil, err
		}
		line := fmt.Sprintf("leader_id=%s leader_endpoint=%s term=%d expires_at_unix=%d", r.LeaderID, r.LeaderEndpoint, r.Term, r.ExpiresAt)
		return r, []string{line}, nil
	})
}

func runTCRM(cl *cli, args []string) error {
	subs := map[string]func(*cli, []string) error{"register": tcRMEdit(true), "unregister": tcRMEdit(false), "list": runTCRMList}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(cl.stdout, "Usage: lockd tc rm register|unregister|list [flags]")
		return nil
	}
	run, ok := subs[args[0]]
	if !ok {
		return fmt.Errorf("unknown rm command %q (register, unregister, list)", args[0])
	}
	if err := run(cl, args[1:]); err != nil && !errors.Is(err, errHelpShown) {
		return &subcommandError{name: args[0], err: err}
	}
	return nil
}

// tcRMEdit registers or unregisters an RM endpoint of a backend island.
func tcRMEdit(register bool) func(*cli, []string) error {
	name := "unregister"
	if register {
		name = "register"
	}
	return func(cl *cli, args []string) error {
		var f tcFlags
		fs := cl.tcCmdFlagSet("rm "+name, &f)
		hash := fs.String("backend-hash", "", "backend island the RM serves (required)")
		rm := fs.String("rm-endpoint", "", "the RM's endpoint, an http(s) URL (required)")
		if err := cl.parse(fs, "lockd tc rm "+name+" --backend-hash HASH --rm-endpoint URL [flags]", args, map[string]string{}); err != nil {
			return err
		}
		if err := required(*hash, "backend-hash", "--backend-hash"); err != nil {
			return fmt.Errorf("--backend-hash is required")
		}
		if err := required(*rm, "rm-endpoint", "--rm-endpoint"); err != nil {
			return fmt.Errorf("--rm-endpoint is required")
		}
		return cl.tcRun(&f, true, func(ctx context.Context, c *sdk.Client) (any, []string, error) {
			if register {
				r, err := c.TCRMRegister(ctx, api.TCRMRegisterRequest{BackendHash: *hash, Endpoint: *rm})
				if err != nil {
					return nil, nil, err
				}
				return r, r.Endpoints, nil
			}
			r, err := c.TCRMUnregister(ctx, api.TCRMUnregisterRequest{BackendHash: *hash, Endpoint: *rm})
			if err != nil {
				return nil, nil, err
			}
			return r, r.Endpoints, nil
		})
	}
}

func runTCRMList(cl *cli, args []string) error {
	var f tcFlags
	fs := cl.tcCmdFlagSet("rm list", &f)
	if err := cl.parse(fs, "lockd tc rm list [flags]", args, map[string]string{}); err != nil {
		return err
	}
	return cl.tcRun(&f, false, func(ctx context.Context, c *sdk.Client) (any, []string, error) {
		r, err := c.TCRMList(ctx)
		if err != nil {
			return nil, nil, err
		}
		lines := make([]string, 0, len(r.Backends))
		for _, b := range r.Backends {
			lines = append(lines, b.BackendHash+" "+strings.Join(b.Endpoints, ","))
		}
		return r, lines, nil
	})
}
