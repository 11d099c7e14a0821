package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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

// cmdCase is one run of a command and what it must show.
type cmdCase struct {
	name string
	args []string
	code int
	out  []string // substrings stdout must contain
	err  string   // a substring stderr must contain
}

// runCases runs every case as a parallel subtest, each on a command fresh
// from newCmd, and checks its exit code and streams.
func runCases(t *testing.T, newCmd func() *cobra.Command, tests []cmdCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCmd(t, newCmd(), tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			for _, want := range tt.out {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout does not contain %q:\n%s", want, r.stdout)
				}
			}
			if !strings.Contains(r.stderr, tt.err) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.err)
			}
		})
	}
}

// lintRoot is the root command with lint on it, as Run builds it.
func lintRoot() *cobra.Command {
	root := newRoot(strings.NewReader(""), io.Discard, io.Discard)
	if c, _, err := root.Find([]string{"lint"}); err != nil || c == root {
		root.AddCommand(newLint())
	}
	return root
}
