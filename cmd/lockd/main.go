// Command lockd is the lockd server and its command-line tools.
//
//	lockd [flags]            run the server (see lockd --help)
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
	return serve(args)
}
