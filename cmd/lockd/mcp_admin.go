package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/lockdhq/lockd/mcp/oauth"
	"github.com/lockdhq/lockd/mcp/state"
)

const mcpAdminUsage = `usage: lockd mcp admin COMMAND [flags]

  create --name NAME --namespace NS[=r|w|rw]... [--redirect-uri URI]...
                         register a confidential client; prints its id and secret (shown once)
  list [--json]          list the clients
  rotate CLIENT_ID       give a client a new secret; its old secret and tokens stop working
  revoke CLIENT_ID       revoke a client; its tokens are refused at once

Every command takes --oauth-state PATH and --state-bundle BUNDLE (the
bundle whose key encrypts the state; default the only $HOME/.lockd/client*.pem).
`

// runMCPAdmin runs "lockd mcp admin ARGS".
func runMCPAdmin(args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprint(out, mcpAdminUsage)
		return nil
	}
	st := &mcpStateFlags{}
	fs := pflag.NewFlagSet("lockd mcp admin "+args[0], pflag.ContinueOnError)
	st.add(fs)
	var name string
	var namespaces, redirects []string
	var asJSON bool
	switch args[0] {
	case "create":
		fs.StringVar(&name, "name", "", "a name for the client (shown by list)")
		fs.StringArrayVar(&namespaces, "namespace", nil, "namespace claim: NS (read-write), NS=r, NS=w, NS=rw, or ALL=rw; repeat or comma-separate")
		fs.StringArrayVar(&redirects, "redirect-uri", nil, "redirect URI for the authorization code grant (https, or http on loopback); repeatable")
	case "list":
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	case "rotate", "revoke":
	default:
		return fmt.Errorf("mcp admin: unknown command %q\n%s", args[0], mcpAdminUsage)
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := mcpApplyEnv(fs); err != nil {
		return err
	}
	store, err := st.open("")
	if err != nil {
		return err
	}
	now := time.Now()
	switch args[0] {
	case "create":
		if fs.NArg() > 0 {
			return fmt.Errorf("mcp admin create: unexpected argument %q", fs.Arg(0))
		}
		cr, err := oauth.CreateClient(store, oauth.ClientSpec{Name: name, Namespaces: namespaces, RedirectURIs: redirects}, now)
		if err != nil {
			return fmt.Errorf("mcp admin create: %w", err)
		}
		return printJSON(out, cr)
	case "list":
		return listClients(out, store, asJSON)
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("mcp admin %s: give exactly one CLIENT_ID", args[0])
	}
	id := fs.Arg(0)
	if args[0] == "rotate" {
		cr, err := oauth.RotateSecret(store, id, now)
		if err != nil {
			return fmt.Errorf("mcp admin rotate: %w", err)
		}
		return printJSON(out, cr)
	}
	if err := oauth.RevokeClient(store, id, now); err != nil {
		return fmt.Errorf("mcp admin revoke: %w", err)
	}
	return printJSON(out, map[string]any{"client_id": id, "revoked": true})
}

func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// clientRow is a client as list prints it.
type clientRow struct {
	ClientID     string    `json:"client_id"`
	Name         string    `json:"name"`
	Namespaces   []string  `json:"namespaces"`
	RedirectURIs []string  `json:"redirect_uris,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	RotatedAt    time.Time `json:"rotated_at,omitzero"`
	RevokedAt    time.Time `json:"revoked_at,omitzero"`
}

func listClients(out io.Writer, store *state.Store, asJSON bool) error {
	list, err := oauth.ListClients(store)
	if err != nil {
		return err
	}
	rows := make([]clientRow, 0, len(list))
	for _, c := range list {
		rows = append(rows, clientRow{ClientID: c.ID, Name: c.Name, Namespaces: c.Namespaces, RedirectURIs: c.RedirectURIs,
			CreatedAt: c.CreatedAt, RotatedAt: c.RotatedAt, RevokedAt: c.RevokedAt})
	}
	if asJSON {
		return printJSON(out, rows)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT_ID\tNAME\tNAMESPACES\tSTATUS\tCREATED")
	for _, r := range rows {
		status := "active"
		if !r.RevokedAt.IsZero() {
			status = "revoked " + r.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ClientID, r.Name, strings.Join(r.Namespaces, ","), status, r.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}
