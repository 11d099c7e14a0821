// Package cli implements the warden command. It is a package of its own,
// with the process's streams passed in, so tests run the real command
// in-process.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/warden-authz/warden"
)

// Exit codes (SPEC 9.1).
const (
	ExitAllowed = 0
	ExitDenied  = 1
	ExitUsage   = 2
)

// exitError carries an exit code up through cobra, which only knows errors.
type exitError struct {
	code int
	err  error // nil when the message was already printed
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

// Run runs the command line args and returns the process exit code.
//
// A nil stdin reads as empty, and a nil stdout or stderr discards what
// is written to it.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "warden:", strings.TrimPrefix(ee.err.Error(), "warden: "))
		}
		return ee.code
	}
	// Anything cobra reports itself (unknown flag, wrong argument count) is
	// a usage error.
	fmt.Fprintln(stderr, "warden:", err)
	fmt.Fprintln(stderr, "Run 'warden --help' for usage.")
	return ExitUsage
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "warden",
		Short: "Decide, explain and validate authorization policies",
		Long: `warden decides whether a subject may perform an action on a resource,
under a policy file, and says why.

Exit codes: 0 allowed (or valid), 1 denied, 2 usage or input error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newCheck(), newExplain(), newValidate(), newAudit(), newLint(), newServe(), newTest(), newWho(), newCan(), newDiff(), newData(), newChanges(), newPublish(), newPolicy())
	return root
}

// configFlag adds --config, defaulting to $WARDEN_CONFIG.
func configFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVarP(dst, "config", "c", os.Getenv("WARDEN_CONFIG"), "policy file (TOML); default $WARDEN_CONFIG")
}

// loadPolicy loads the policy or returns an exit-2 error that lists every
// problem in the file.
func loadPolicy(path string) (*warden.Policy, error) {
	if path == "" {
		return nil, &exitError{code: ExitUsage, err: errors.New("no policy file: pass --config FILE or set WARDEN_CONFIG")}
	}
	p, err := warden.Load(path)
	if err != nil {
		return nil, &exitError{code: ExitUsage, err: err}
	}
	return p, nil
}
