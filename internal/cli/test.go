package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/testfile"
	"github.com/warden-authz/warden/types"
)

func newTest() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "test FILE...",
		Short: "Run policy test files: expected decisions, with a coverage report",
		Long: `test runs policy test files. Each names a policy (relative to the test
file) and lists cases: a request (subject, resource, action) and the
expected decision (allowed), optionally the rule that must decide it and a
substring of its reason. A failing case shows what differed and the full
explanation, as explain prints it. Then, per policy, the rule items that no
case decided are listed.

Exit codes: 0 every case passed, 1 a case failed, 2 a test file or its
policy could not be read or has problems (each shown as file:line:col).`,
		Example: `  warden test examples/publishing/policy_test.toml
  warden test --json policies/*_test.toml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			suite := testfile.RunFiles(args)
			out := cmd.OutOrStdout()
			var err error
			if asJSON {
				err = writeJSON(out, testJSON(suite))
			} else {
				printSuite(out, suite)
			}
			if err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			failed, _, broken := suite.Failed()
			switch {
			case broken > 0:
				return &exitError{code: ExitUsage}
			case failed > 0:
				return &exitError{code: ExitDenied}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the results and coverage as JSON")
	return cmd
}

func printSuite(w io.Writer, s *testfile.Suite) {
	for _, f := range s.Files {
		if f.Err != nil {
			fmt.Fprintf(w, "ERROR %s\n", f.Path)
			for _, line := range errorLines(f.Err) {
				fmt.Fprintf(w, "  %s\n", line)
			}
			continue
		}
		for i := range f.Results {
			r := &f.Results[i]
			if r.Passed() {
				fmt.Fprintf(w, "PASS  %v  %s\n", r.Case.Pos, r.Case.Label())
				continue
			}
			fmt.Fprintf(w, "FAIL  %v  %s\n", r.Case.Pos, r.Case.Label())
			for _, msg := range r.Failures {
				fmt.Fprintf(w, "  %s\n", msg)
			}
			var b strings.Builder
			r.Explanation.WriteText(&b, types.Request{Subject: r.Case.Subject, Resource: r.Case.Resource, Action: r.Case.Action})
			for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
				fmt.Fprintf(w, "  | %s\n", line)
			}
		}
	}
	for i, c := range s.Coverage {
		un := c.Uncovered()
		total := len(c.Src.Rules)
		fmt.Fprintf(w, "\ncoverage: %s: %d of %d rule items decided some case\n", s.Paths[i], total-len(un), total)
		for _, r := range un {
			fmt.Fprintf(w, "  not covered: %s  %v  [%q, %q, %q]\n", testfile.ItemName(r), r.Pos, r.Subject, r.Resource, r.Action)
		}
	}
	failed, passed, broken := s.Failed()
	fmt.Fprintf(w, "\n%d passed, %d failed", passed, failed)
	if broken > 0 {
		fmt.Fprintf(w, ", %d file(s) with errors", broken)
	}
	fmt.Fprintln(w)
}

// errorLines splits an error into the lines to show: one per diagnostic.
func errorLines(err error) []string {
	var l diag.List
	if errors.As(err, &l) && err.Error() == l.Error() {
		out := make([]string, len(l))
		for i, d := range l {
			out[i] = d.Error()
		}
		return out
	}
	return strings.Split(err.Error(), "\n")
}

type jsonCase struct {
	Name     string          `json:"name"`
	Position string          `json:"position"`
	Subject  string          `json:"subject"`
	Resource string          `json:"resource"`
	Action   string          `json:"action"`
	Passed   bool            `json:"passed"`
	Failures []string        `json:"failures,omitempty"`
	Decision decisionSummary `json:"decision"`
}

type decisionSummary struct {
	Allowed bool   `json:"allowed"`
	Effect  string `json:"effect"`
	Rule    string `json:"rule,omitempty"`
	Item    int    `json:"item,omitempty"`
	Reason  string `json:"reason"`
}

type jsonFile struct {
	File   string     `json:"file"`
	Policy string     `json:"policy,omitempty"`
	Errors []string   `json:"errors,omitempty"`
	Cases  []jsonCase `json:"cases"`
}

type jsonItem struct {
	Rule     string `json:"rule"`
	Effect   string `json:"effect"`
	Item     int    `json:"item"`
	Position string `json:"position,omitempty"`
	Subject  string `json:"subject"`
	Resource string `json:"resource"`
	Action   string `json:"action"`
}

type jsonCoverage struct {
	Policy    string     `json:"policy"`
	Items     int        `json:"items"`
	Uncovered []jsonItem `json:"uncovered"`
}

func testJSON(s *testfile.Suite) any {
	failed, passed, broken := s.Failed()
	out := struct {
		Passed   int            `json:"passed"`
		Failed   int            `json:"failed"`
		Broken   int            `json:"files_with_errors"`
		Files    []jsonFile     `json:"files"`
		Coverage []jsonCoverage `json:"coverage"`
	}{Passed: passed, Failed: failed, Broken: broken, Files: []jsonFile{}, Coverage: []jsonCoverage{}}
	for _, f := range s.Files {
		jf := jsonFile{File: f.Path, Policy: f.Policy, Cases: []jsonCase{}}
		if f.Err != nil {
			jf.Errors = errorLines(f.Err)
		}
		for i := range f.Results {
			r := &f.Results[i]
			d := r.Explanation.Decision
			jf.Cases = append(jf.Cases, jsonCase{
				Name: r.Case.Label(), Position: r.Case.Pos.String(),
				Subject: r.Case.Subject, Resource: r.Case.Resource, Action: r.Case.Action,
				Passed: r.Passed(), Failures: r.Failures,
				Decision: decisionSummary{Allowed: d.Allowed, Effect: d.Effect.String(), Rule: d.Rule, Item: d.Item, Reason: d.Reason},
			})
		}
		out.Files = append(out.Files, jf)
	}
	for i, c := range s.Coverage {
		jc := jsonCoverage{Policy: s.Paths[i], Items: len(c.Src.Rules), Uncovered: []jsonItem{}}
		for _, r := range c.Uncovered() {
			pos := ""
			if r.Pos.Line > 0 {
				pos = r.Pos.String()
			}
			jc.Uncovered = append(jc.Uncovered, jsonItem{Rule: r.ID, Effect: r.Effect.String(), Item: r.Item,
				Position: pos, Subject: r.Subject, Resource: r.Resource, Action: r.Action})
		}
		out.Coverage = append(out.Coverage, jc)
	}
	return out
}
