// Command lockd is the lockd server and its command-line tools.
//
//	lockd [flags]            run the server (see lockd --help)
//	lockd client COMMAND     talk to a server (see lockd client --help)
//	lockd auth COMMAND       issue, revoke, inspect and verify bundles
//	lockd verify store       check the store's credentials and encryption
//	lockd mcp [flags]        serve the MCP facade for agents (see docs/MCP.md)
//	lockd config gen|show    write a config template, show the settings in effect
//	lockd tc COMMAND         TC cluster membership, leader, RM registry (TC-auth)
//	lockd txn COMMAND        prepare, commit, rollback, replay a transaction (TC-auth)
//
// A first argument that does not start with '-' names a command; an
// unknown one is an error (exit status 2), never a server.
package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "lockd:", err)
		var usage usageError
		if errors.As(err, &usage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a mistake in the command line itself (unknown command or
// flag, stray argument); lockd exits with status 2 for it.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// commands are the words that may follow the binary name.
var commands = map[string]func(args []string) error{
	"client": func(args []string) error { return runClient(args, os.Stdin, os.Stdout, os.Stderr) },
	"auth":   func(args []string) error { return runAuth(args, os.Stdout, os.Stderr) },
	"verify": func(args []string) error { return runVerify(args, os.Stdout, os.Stderr) },
	"config": func(args []string) error { return runConfig(args, os.Stdout, os.Stderr) },
	"mcp":    func(args []string) error { return runMCP(args, os.Stdout, os.Stderr) },
	"tc":     func(args []string) error { return runTC(args, os.Stdout, os.Stderr) },
	"txn":    func(args []string) error { return runTxn(args, os.Stdout, os.Stderr) },
	"help":   func([]string) error { return serve([]string{"--help"}) },
}

func run(args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return serve(args)
	}
	if cmd, ok := commands[args[0]]; ok {
		return cmd(args[1:])
	}
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return usageError{fmt.Errorf("unknown command %q (commands: %s; the server takes flags only, see lockd --help)",
		args[0], strings.Join(names, ", "))}
}
