package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/warden-authz/warden"
)

func newWho() *cobra.Command {
	var (
		storeURL string
		config   string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "who --config FILE RESOURCE ACTION",
		Short: "List every subject allowed to do ACTION on RESOURCE, and the rule that allows each",
		Long: `who lists every subject that may do ACTION on RESOURCE: each user, group
and role the policy declares, decided one by one (members of groups are
listed themselves, so a member that a narrower rule denies is left out),
with the rule item that allows it and the group or role it matched through.
Subjects the policy does not name are listed as "other" entries when a '*'
or pattern rule (or an allowing mismatch decision) lets them in: one per
region of names the policy's patterns tell apart, such as "any other
subject matching user:*". Pass "" as RESOURCE for no particular resource.

Exit codes: 0 answered (even when nobody is allowed), 2 usage or input
error.`,
		Example: `  warden who --config examples/publishing/policy.toml articles:animals:42 articles:update
  warden who --config policy.toml --json part_b GET`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadPolicyData(cmd.Context(), config, storeURL)
			if err != nil {
				return err
			}
			grants, err := p.Who(args[0], args[1])
			if err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if grants == nil {
					grants = []warden.Grant{}
				}
				return writeJSON(out, struct {
					Resource      string          `json:"resource"`
					Action        string          `json:"action"`
					Strategy      warden.Strategy `json:"strategy"`
					PolicyVersion string          `json:"policy_version"`
					Allowed       []warden.Grant  `json:"allowed"`
				}{args[0], args[1], p.Strategy(), p.Version(), grants})
			}
			printGrants(out, args[0], args[1], p, grants)
			return nil
		},
	}
	configFlag(cmd, &config)
	storeFlag(cmd, &storeURL)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the subjects as JSON")
	return cmd
}

func printGrants(w io.Writer, resource, action string, p *warden.Policy, grants []warden.Grant) {
	res := fmt.Sprintf("%q", resource)
	if resource == "" {
		res = "(no particular resource)"
	}
	fmt.Fprintf(w, "allowed to do %q on %s  (policy %s, %s):\n", action, res, p.Version(), p.Strategy())
	if len(grants) == 0 {
		fmt.Fprintln(w, "  nobody")
		return
	}
	for _, g := range grants {
		name := g.Subject
		if g.StandsFor != "" {
			name = fmt.Sprintf("%s (%s)", g.Subject, g.StandsFor)
		}
		fmt.Fprintf(w, "  %-5s  %s\n", g.Kind, name)
		fmt.Fprintf(w, "         %s\n", g.Reason)
		if g.Via != "" {
			fmt.Fprintf(w, "         via %s\n", g.Via)
		}
	}
	fmt.Fprintf(w, "%d subject(s)\n", len(grants))
}
