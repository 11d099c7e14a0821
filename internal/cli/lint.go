package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/warden-authz/warden/internal/config"
	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/lint"
)

// ExitFindings is lint's exit code when it found something at the gating
// severity: an error, or with --strict a warning. It is the code check uses
// for a denial: the input was fine, the answer is no.
const ExitFindings = 1

// lintFinding is a finding on the wire. Positions are spelled as in
// validate's diagnostics, so one parser reads both.
type lintFinding struct {
	Severity lint.Severity `json:"severity"`
	Code     string        `json:"code"`
	File     string        `json:"file"`
	Line     int           `json:"line"`
	Column   int           `json:"column"`
	Message  string        `json:"message"`
	Hint     string        `json:"hint"`
}

type lintDiagnostic struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

type lintResult struct {
	Valid       bool             `json:"valid"`
	Version     string           `json:"policy_version,omitempty"`
	Diagnostics []lintDiagnostic `json:"diagnostics"`
	Findings    []lintFinding    `json:"findings"`
	Errors      int              `json:"errors"`
	Warnings    int              `json:"warnings"`
	Infos       int              `json:"infos"`
}

func newLint() *cobra.Command {
	var (
		cfg, storeURL string
		asJSON        bool
		strict        bool
	)
	cmd := &cobra.Command{
		Use:   "lint --config FILE",
		Short: "Find likely mistakes in a policy file",
		Long: `lint loads a policy file and reports likely mistakes in it: rules that can
never decide, names that look misspelt, empty groups and group cycles, allow
and deny on the same triple, a fail-open mismatch_decision, grants of every
action to every subject, alternatives that span segments, and resources that
fit no declared schema. Each finding has a severity (error, warning, info),
file:line:col, a stable code and a fix. docs/lint.md describes every code.

A file that does not load is reported as validate reports it.

Exit codes: 0 nothing at the gating severity, 1 errors found (or, with
--strict, warnings), 2 usage error or a file that is unreadable or invalid.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cfg == "" {
				return usage("no policy file: pass --config FILE or set WARDEN_CONFIG")
			}
			data, err := os.ReadFile(cfg)
			if err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			src, errs := config.Parse(cfg, data)
			if storeURL != "" && len(errs) == 0 {
				_, recs, err := snapshot(cmd.Context(), storeURL)
				if err != nil {
					return err
				}
				src = engine.MergeSource(src, recs)
			}
			p, cerrs := engine.Compile(src)
			errs = append(errs, cerrs...)
			errs.Sort()
			res := lintResult{Valid: len(errs) == 0, Diagnostics: []lintDiagnostic{}, Findings: []lintFinding{}}
			if res.Valid {
				res.Version = p.Version()
				for _, f := range lint.Run(src, p, nil) {
					res.Findings = append(res.Findings, lintFinding{Severity: f.Severity, Code: f.Code,
						File: f.Pos.File, Line: f.Pos.Line, Column: f.Pos.Col, Message: f.Message, Hint: f.Hint})
					switch f.Severity {
					case lint.Error:
						res.Errors++
					case lint.Warning:
						res.Warnings++
					default:
						res.Infos++
					}
				}
			}
			for _, d := range errs {
				res.Diagnostics = append(res.Diagnostics, lintDiagnostic{File: d.File, Line: d.Line, Column: d.Column, Message: d.Message})
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if werr := writeJSON(out, res); werr != nil {
					return werr
				}
			} else {
				printLint(out, cfg, res, errs)
			}
			switch {
			case !res.Valid:
				return &exitError{code: ExitUsage}
			case res.Errors > 0, strict && res.Warnings > 0:
				return &exitError{code: ExitFindings}
			}
			return nil
		},
	}
	configFlag(cmd, &cfg)
	storeFlag(cmd, &storeURL)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the findings as JSON")
	cmd.Flags().BoolVar(&strict, "strict", false, "exit 1 on warnings too, not only on errors")
	return cmd
}

func printLint(w io.Writer, file string, res lintResult, errs diag.List) {
	if !res.Valid {
		for _, d := range errs {
			fmt.Fprintln(w, d)
		}
		fmt.Fprintf(w, "%s: %d problem(s); fix them before linting\n", file, len(errs))
		return
	}
	for _, f := range res.Findings {
		fmt.Fprintln(w, lint.Finding{Severity: f.Severity, Code: f.Code,
			Pos: diag.Pos{File: f.File, Line: f.Line, Col: f.Column}, Message: f.Message, Hint: f.Hint})
	}
	fmt.Fprintf(w, "%s: %d error(s), %d warning(s), %d info(s)\n", file, res.Errors, res.Warnings, res.Infos)
}
