package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/warden-authz/warden"
)

func newCan() *cobra.Command {
	var (
		storeURL string
		config   string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "can --config FILE SUBJECT",
		Short: "List what SUBJECT is allowed and denied, as resource and action patterns",
		Long: `can lists what SUBJECT may and may not do: for every rule item that
decides at least one of its requests, the item's resource and action
patterns, whether it allows or denies, and the rule; in document order.
"partial" marks an entry that another entry overrides for some requests
inside its patterns. The last entry, resource "*" and action "*", is the
mismatch decision for every request no rule matches. SUBJECT need not be
declared in the policy.

Exit codes: 0 answered, 2 usage or input error.`,
		Example: `  warden can --config examples/publishing/policy.toml erin
  warden can --config policy.toml --json user1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadPolicyData(cmd.Context(), config, storeURL)
			if err != nil {
				return err
			}
			perms, err := p.Can(args[0])
			if err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if perms == nil {
					perms = []warden.Permission{}
				}
				return writeJSON(out, struct {
					Subject       string              `json:"subject"`
					Strategy      warden.Strategy     `json:"strategy"`
					PolicyVersion string              `json:"policy_version"`
					Permissions   []warden.Permission `json:"permissions"`
				}{args[0], p.Strategy(), p.Version(), perms})
			}
			printPermissions(out, args[0], p, perms)
			return nil
		},
	}
	configFlag(cmd, &config)
	storeFlag(cmd, &storeURL)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the permissions as JSON")
	return cmd
}

func printPermissions(w io.Writer, subject string, p *warden.Policy, perms []warden.Permission) {
	fmt.Fprintf(w, "%q  (policy %s, %s):\n", subject, p.Version(), p.Strategy())
	for _, x := range perms {
		verdict := "DENY "
		if x.Allowed {
			verdict = "ALLOW"
		}
		if x.Rule == "" {
			fmt.Fprintf(w, "  %s  everything else: %s\n", verdict, x.Reason)
			continue
		}
		fmt.Fprintf(w, "  %s  action %q on resource %q  %s %s[%d]", verdict, x.Action, x.Resource, x.Rule, x.Effect, x.Item)
		if x.Via != "" {
			fmt.Fprintf(w, " via %s", x.Via)
		}
		if x.When != "" {
			fmt.Fprintf(w, " when %s", x.When)
		}
		if x.Partial {
			fmt.Fprint(w, "  (partial: overridden in places)")
		}
		fmt.Fprintln(w)
	}
}
