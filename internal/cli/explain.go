package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/warden-authz/warden"
)

func newExplain() *cobra.Command {
	var (
		config string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "explain --config FILE SUBJECT RESOURCE ACTION",
		Short: "List every rule that matches a request and say which one decided, and why",
		Long: `explain decides a request like check, then lists every rule item that
matched, in document order, each with the membership chains that made it
match, marks the one that decided, and says how the strategy chose it.

Exit codes: 0 allowed, 1 denied, 2 usage or input error.`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadPolicy(config)
			if err != nil {
				return err
			}
			req := warden.Request{Subject: args[0], Resource: args[1], Action: args[2]}
			e, err := p.Explain(req)
			if err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := writeJSON(out, e); err != nil {
					return err
				}
			} else {
				printExplanation(out, req, e)
			}
			return exitFor(e.Decision)
		},
	}
	configFlag(cmd, &config)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the explanation as JSON")
	return cmd
}

func printExplanation(w io.Writer, req warden.Request, e warden.Explanation) {
	d := e.Decision
	verdict := "DENIED"
	if d.Allowed {
		verdict = "ALLOWED"
	}
	resource := fmt.Sprintf("%q", req.Resource)
	if req.Resource == "" {
		resource = "(no particular resource)"
	}
	fmt.Fprintf(w, "request:  subject %q, action %q, resource %s\n", req.Subject, req.Action, resource)
	fmt.Fprintf(w, "decision: %s  %s\n", verdict, d.Reason)
	fmt.Fprintf(w, "why:      %s\n", e.Why)
	fmt.Fprintf(w, "policy:   %s (%s)\n", d.PolicyVersion, e.Strategy)
	if len(e.Matches) == 0 {
		fmt.Fprintln(w, "\nno rule matched")
		return
	}
	fmt.Fprintf(w, "\nmatching rules, in document order (%d):\n", len(e.Matches))
	for _, m := range e.Matches {
		mark := " "
		if m.Decided {
			mark = "*"
		}
		where := ""
		if m.Position != "" {
			where = "  " + m.Position
		}
		fmt.Fprintf(w, "%s %s %s[%d]  [%q, %q, %q]%s\n", mark, m.Rule, m.Effect, m.Item, m.Subject, m.Resource, m.Action, where)
		fmt.Fprintf(w, "    subject:  %s\n", strings.Join(m.SubjectPath, " → "))
		fmt.Fprintf(w, "    resource: %s\n", resourceChain(m.ResourcePath))
		fmt.Fprintf(w, "    action:   %s\n", strings.Join(m.ActionPath, " ∈ "))
	}
	fmt.Fprintln(w, "\n* decided")
}
