package policytest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warden-authz/warden/policytest"
)

// TestPublishingExample runs the bundled example's test file, as a
// project would run its own.
func TestPublishingExample(t *testing.T) {
	t.Parallel()
	policytest.Run(t, "../examples/publishing/policy_test.toml")
}

// TestFailuresFailTheTest runs Run in a child process on files that fail
// or cannot be read, and checks the child fails with each case's
// position, what differed, the explanation and the coverage gap.
func TestFailuresFailTheTest(t *testing.T) {
	t.Parallel()
	if dir := os.Getenv("POLICYTEST_CHILD_DIR"); dir != "" {
		return // only TestChild runs in the child
	}
	dir := t.TempDir()
	put := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	put("p.toml", "[rules.r1]\nallow = [['alice', 'doc', 'read'], ['bob', 'doc', 'read']]\n")
	put("fail_test.toml", "policy = 'p.toml'\n[[cases]]\nname = 'alice writes'\nsubject = 'alice'\nresource = 'doc'\naction = 'write'\nallowed = true\n[[cases]]\nname = 'alice reads'\nsubject = 'alice'\nresource = 'doc'\naction = 'read'\nallowed = true\n")
	put("bad_test.toml", "policy = 'p.toml'\n[[cases]]\nsubjet = 'alice'\n")
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.v")
	cmd.Env = append(os.Environ(), "POLICYTEST_CHILD_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the child passed:\n%s", out)
	}
	for _, want := range []string{
		"--- FAIL: TestChild/fail_test.toml/alice_writes",
		"--- PASS: TestChild/fail_test.toml/alice_reads",
		`fail_test.toml:2:1: case "alice writes" failed:`,
		"expected allowed, got denied",
		`request:  subject "alice", action "write", resource "doc"`,
		"--- FAIL: TestChild/bad_test.toml",
		`bad_test.toml:3:1: unknown key "subjet" in a case (did you mean "subject"?)`,
		"1 of 2 rule items decided no case",
		"rules.r1 allow[2]",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child output does not contain %q:\n%s", want, out)
		}
	}
}

// TestChild is the child of TestFailuresFailTheTest; it does nothing in
// an ordinary run.
func TestChild(t *testing.T) {
	dir := os.Getenv("POLICYTEST_CHILD_DIR")
	if dir == "" {
		t.Skip("run by TestFailuresFailTheTest")
	}
	policytest.Run(t, filepath.Join(dir, "fail_test.toml"), filepath.Join(dir, "bad_test.toml"))
}
