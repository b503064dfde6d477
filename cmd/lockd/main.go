// Command lockd is the lockd server and its command-line tools.
//
//	lockd [flags]            run the server (see lockd --help)
//	lockd client COMMAND     talk to a server (see lockd client --help)
//	lockd auth COMMAND       issue, revoke, inspect and verify bundles
//	lockd verify store       check the store's credentials and encryption
//	lockd mcp [flags]        serve the MCP facade for agents (see docs/MCP.md)
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "lockd:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 && args[0] == "client" {
		return runClient(args[1:], os.Stdin, os.Stdout, os.Stderr)
	}
	if len(args) > 0 && args[0] == "auth" {
		return runAuth(args[1:], os.Stdout, os.Stderr)
	}
	if len(args) > 0 && args[0] == "mcp" {
		return runMCP(args[1:], os.Stdout, os.Stderr)
	}
	if len(args) > 0 && args[0] == "verify" {
		return runVerify(args[1:], os.Stdout, os.Stderr)
	}
	return serve(args)
}
