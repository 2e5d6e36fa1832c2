// Command align aligns language models with preference objectives: it reads preference data,
// trains a policy on the CPU over GGUF weights, and evaluates it through a local Ollama server.
//
// The commands are thin: they parse flags, call a package, and print. See `align --help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(os.Stderr, "align:", ee.msg)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "align:", err)
		os.Exit(1)
	}
}

// exitError carries a specific exit status out of a command (e.g. `data validate` exits 1 when it
// finds problems, after it has printed them).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }
