package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/warden-authz/warden/internal/analysis"
	"github.com/warden-authz/warden/internal/config"
	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/store"
)

// Exit codes of diff: whether anything changed.
const (
	exitUnchanged = 0
	exitChanged   = 1
)

func newDiff() *cobra.Command {
	var (
		asJSON   bool
		storeURL string
	)
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "List the requests whose decision differs between two versions of a policy",
		Long: `diff compares two versions of a policy file and lists every request whose
decision (allowed or denied) differs: the subject, resource and action, the
old and new decisions and the rule item responsible for each. Requests are
every declared name, and representative names for the regions the
patterns tell apart ("articles:_" standing for any other resource matching
articles:*); a representative is marked with what it stands for.

Exit codes: 0 no decision changes, 1 some decision changes, 2 usage or
input error (either file does not load).`,
		Example: `  warden diff policy.toml policy.new.toml
  git show HEAD:policy.toml > /tmp/old.toml && warden diff --json /tmp/old.toml policy.toml`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var recs []store.Record
			if storeURL != "" {
				var err error
				if _, recs, err = snapshot(cmd.Context(), storeURL); err != nil {
					return err
				}
			}
			old, err := loadModel(args[0], recs)
			if err != nil {
				return err
			}
			nw, err := loadModel(args[1], recs)
			if err != nil {
				return err
			}
			changes, err := analysis.Diff(old, nw)
			if err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				err = writeJSON(out, diffJSON(old, nw, changes))
			} else {
				printChanges(out, args[0], args[1], changes)
			}
			if err != nil {
				return &exitError{code: ExitUsage, err: err}
			}
			if len(changes) > 0 {
				return &exitError{code: exitChanged}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the changes as JSON")
	storeFlag(cmd, &storeURL)
	return cmd
}

// loadModel loads a policy file for analysis, with the store's records
// merged into it when there are any.
func loadModel(path string, records []store.Record) (*analysis.Model, error) {
	src, p, err := config.Load(path)
	if err == nil && len(records) > 0 {
		src = engine.MergeSource(src, records)
		var errs diag.List
		if p, errs = engine.Compile(src); len(errs) > 0 {
			err = errs
		}
	}
	if err != nil {
		var list diag.List
		if errors.As(err, &list) {
			return nil, &exitError{code: ExitUsage, err: fmt.Errorf("%d problem(s) in %s:\n%w", len(list), path, list)}
		}
		return nil, &exitError{code: ExitUsage, err: err}
	}
	return analysis.NewModel(src, p), nil
}

func printChanges(w io.Writer, oldPath, newPath string, changes []analysis.Change) {
	if len(changes) == 0 {
		fmt.Fprintf(w, "no decision changes from %s to %s\n", oldPath, newPath)
		return
	}
	for _, c := range changes {
		verb := "revokes"
		if c.New.Allowed {
			verb = "grants "
		}
		fmt.Fprintf(w, "%s %s %s on %s\n", verb, described(c.Subject, c.SubjectStandsFor),
			described(c.Action, c.ActionStandsFor), describedResource(c.Resource, c.ResourceStandsFor))
		fmt.Fprintf(w, "    old: %s  %s\n", verdictWord(c.Old.Allowed), c.Old.Reason)
		fmt.Fprintf(w, "    new: %s  %s\n", verdictWord(c.New.Allowed), c.New.Reason)
	}
	fmt.Fprintf(w, "%d decision(s) change from %s to %s\n", len(changes), oldPath, newPath)
}

func verdictWord(allowed bool) string {
	if allowed {
		return "ALLOWED"
	}
	return "DENIED "
}

func described(name, standsFor string) string {
	if standsFor == "" {
		return fmt.Sprintf("%q", name)
	}
	return fmt.Sprintf("%q (%s)", name, standsFor)
}

func describedResource(name, standsFor string) string {
	if name == "" {
		return "(no particular resource)"
	}
	return described(name, standsFor)
}

type jsonOutcome struct {
	Allowed bool   `json:"allowed"`
	Effect  string `json:"effect"`
	Rule    string `json:"rule,omitempty"`
	Item    int    `json:"item,omitempty"`
	Reason  string `json:"reason"`
}

func outcomeJSON(o analysis.Outcome) jsonOutcome {
	return jsonOutcome{Allowed: o.Allowed, Effect: o.Effect.String(), Rule: o.Rule, Item: o.Item, Reason: o.Reason}
}

type jsonChange struct {
	Subject           string      `json:"subject"`
	SubjectStandsFor  string      `json:"subject_stands_for,omitempty"`
	Resource          string      `json:"resource"`
	ResourceStandsFor string      `json:"resource_stands_for,omitempty"`
	Action            string      `json:"action"`
	ActionStandsFor   string      `json:"action_stands_for,omitempty"`
	Old               jsonOutcome `json:"old"`
	New               jsonOutcome `json:"new"`
}

func diffJSON(old, nw *analysis.Model, changes []analysis.Change) any {
	out := struct {
		OldVersion string       `json:"old_policy_version"`
		NewVersion string       `json:"new_policy_version"`
		Changed    bool         `json:"changed"`
		Changes    []jsonChange `json:"changes"`
	}{OldVersion: old.P.Version(), NewVersion: nw.P.Version(), Changed: len(changes) > 0, Changes: make([]jsonChange, 0, len(changes))}
	for _, c := range changes {
		out.Changes = append(out.Changes, jsonChange{
			Subject: c.Subject, SubjectStandsFor: c.SubjectStandsFor,
			Resource: c.Resource, ResourceStandsFor: c.ResourceStandsFor,
			Action: c.Action, ActionStandsFor: c.ActionStandsFor,
			Old: outcomeJSON(c.Old), New: outcomeJSON(c.New),
		})
	}
	return out
}
