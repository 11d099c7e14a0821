package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

const (
	publishing     = "../../examples/publishing/policy.toml"
	publishingTest = "../../examples/publishing/policy_test.toml"
	fullRBACPolicy = "../../examples/accesscontrol/full-rbac.toml"
)

type outcome struct {
	code           int
	stdout, stderr string
}

// runCmd runs one command the way Run runs the root: the same streams,
// the same mapping of errors to exit codes.
func runCmd(t testing.TB, cmd *cobra.Command, args ...string) outcome {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(strings.NewReader(""))
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	code := 0
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.code
		if ee.err != nil {
			fmt.Fprintln(&errOut, "warden:", strings.TrimPrefix(ee.err.Error(), "warden: "))
		}
	default:
		code = ExitUsage
		fmt.Fprintln(&errOut, "warden:", err)
	}
	return outcome{code, out.String(), errOut.String()}
}

// write puts text in a file named name in a new temporary directory and
// returns its path.
func write(t testing.TB, dir, name, text string) string {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
