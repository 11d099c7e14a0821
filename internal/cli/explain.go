package cli

import (
	"github.com/spf13/cobra"

	"github.com/warden-authz/warden"
)

func newExplain() *cobra.Command {
	var (
		storeURL string
		config   string
		asJSON   bool
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
			p, err := loadPolicyData(cmd.Context(), config, storeURL)
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
				if err := e.WriteText(out, req); err != nil {
					return err
				}
			}
			return exitFor(e.Decision)
		},
	}
	configFlag(cmd, &config)
	storeFlag(cmd, &storeURL)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the explanation as JSON")
	return cmd
}
