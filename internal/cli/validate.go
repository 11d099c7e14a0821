package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/warden-authz/warden"
)

func newValidate() *cobra.Command {
	var (
		config string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "validate --config FILE",
		Short: "Report every problem in a policy file",
		Long: `validate loads a policy file and reports every problem in it, each with
file:line:col, not only the first. A TOML syntax error is the exception:
the TOML parser cannot read past it, so it is reported alone, and says
that no other check ran.

Exit codes: 0 valid, 2 invalid or unreadable.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if config == "" {
				return usage("no policy file: pass --config FILE or set WARDEN_CONFIG")
			}
			out := cmd.OutOrStdout()
			data, err := os.ReadFile(config)
			if err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			p, err := warden.Parse(config, data)
			var pe *warden.PolicyError
			switch {
			case err == nil:
			case errors.As(err, &pe):
			default:
				return &exitError{code: ExitUsage, err: err}
			}
			if asJSON {
				res := struct {
					Valid       bool                `json:"valid"`
					Version     string              `json:"policy_version,omitempty"`
					Diagnostics []warden.Diagnostic `json:"diagnostics"`
				}{Valid: err == nil, Version: p.Version(), Diagnostics: []warden.Diagnostic{}}
				if pe != nil {
					res.Diagnostics = pe.Diagnostics
				}
				if werr := writeJSON(out, res); werr != nil {
					return werr
				}
			} else if pe != nil {
				for _, d := range pe.Diagnostics {
					fmt.Fprintln(out, d)
				}
				fmt.Fprintf(out, "%s: %d problem(s)\n", config, len(pe.Diagnostics))
			} else {
				fmt.Fprintf(out, "%s: ok (%s, %s)\n", config, p.Strategy(), p.Version())
			}
			if err != nil {
				return &exitError{code: ExitUsage}
			}
			return nil
		},
	}
	configFlag(cmd, &config)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
