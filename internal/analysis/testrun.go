package analysis

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/warden-authz/warden/internal/config"
	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
)

// Loaded is a policy file read and compiled, with its source kept for
// analysis and coverage.
type Loaded struct {
	Path string
	Src  *engine.Source
	P    *engine.Policy
}

// LoadPolicy reads and compiles a policy file. Its error lists every
// problem in the file (a diag.List) or says why it could not be read.
func LoadPolicy(path string) (*Loaded, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	src, errs := config.Parse(path, data)
	p, cerrs := engine.Compile(src)
	errs = append(errs, cerrs...)
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	return &Loaded{Path: path, Src: src, P: p}, nil
}

// LoadTestFile reads and parses a test file; the error is a diag.List of
// every problem, or says why the file could not be read.
func LoadTestFile(path string) (*TestFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxTestFileBytes+1))
	if err != nil {
		return nil, err
	}
	tf, errs := ParseTestFile(path, data)
	if len(errs) > 0 {
		return nil, errs
	}
	return tf, nil
}

// PolicyPath is the policy file a test file names, relative to the test
// file's directory unless absolute.
func (tf *TestFile) PolicyPath() string {
	if tf == nil || tf.Policy == "" {
		return "" // no policy named; loading "" fails and says so
	}
	if filepath.IsAbs(tf.Policy) {
		return tf.Policy
	}
	return filepath.Join(filepath.Dir(tf.Path), tf.Policy)
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	Case *Case
	// Failures says what differed from the expectation, one line each;
	// empty when the case passed.
	Failures    []string
	Explanation engine.Explanation
}

// Passed reports whether the case met every expectation. A result of no
// case, such as the zero CaseResult, did not pass: nothing was checked.
func (r *CaseResult) Passed() bool { return r != nil && r.Case != nil && len(r.Failures) == 0 }

// CheckRules reports cases that name a rule the policy does not have: a
// typo there would make the case fail for the wrong reason, or, with
// effect or allowed alone, hide that the rule was renamed.
func (tf *TestFile) CheckRules(src *engine.Source) error {
	if tf == nil || src == nil {
		return errors.New("analysis: CheckRules needs a test file and a policy source")
	}
	ids := map[string]bool{}
	items := map[itemKey]bool{}
	for _, r := range src.Rules {
		ids[r.ID] = true
		items[itemKey{r.ID, r.Effect, r.Item}] = true
	}
	var errs diag.List
	for i := range tf.Cases {
		c := &tf.Cases[i]
		switch {
		case c.Rule == "":
		case !ids[c.Rule]:
			errs.Add(c.RulePos, "case %q: the policy %s has no rule %q", c.Label(), tf.PolicyPath(), c.Rule)
		case c.Item > 0 && !items[itemKey{c.Rule, c.ItemEffect, c.Item}]:
			errs.Add(c.RulePos, "case %q: rule %s has no item %s[%d]", c.Label(), c.Rule, c.ItemEffect, c.Item)
		}
	}
	return errs.Err()
}

// Run decides every case of tf under p and compares. It fails only when a
// request cannot be decided at all, which a parsed case never causes.
func (tf *TestFile) Run(p *engine.Policy) ([]CaseResult, error) {
	if tf == nil || p == nil {
		return nil, errors.New("analysis: Run needs a test file and a policy")
	}
	out := make([]CaseResult, len(tf.Cases))
	for i := range tf.Cases {
		c := &tf.Cases[i]
		e, err := p.Explain(c.Subject, c.Resource, c.Action)
		if err != nil {
			return nil, fmt.Errorf("%v: case %q: %w", c.Pos, c.Label(), err)
		}
		out[i] = CaseResult{Case: c, Explanation: e, Failures: check(c, e.Decision)}
	}
	return out, nil
}

func check(c *Case, d engine.Decision) []string {
	var f []string
	verdict := func(b bool) string {
		if b {
			return "allowed"
		}
		return "denied"
	}
	got := "no rule matched"
	if d.Rule != "" {
		got = fmt.Sprintf("%s %s[%d]", d.Rule, d.Effect, d.Item)
	}
	if d.Allowed != c.Allowed {
		f = append(f, fmt.Sprintf("expected %s, got %s", verdict(c.Allowed), verdict(d.Allowed)))
	}
	if c.Rule != "" {
		want := c.Rule
		ok := d.Rule == c.Rule
		if c.Item > 0 {
			want = fmt.Sprintf("%s %s[%d]", c.Rule, c.ItemEffect, c.Item)
			ok = ok && d.Effect == c.ItemEffect && d.Item == c.Item
		}
		if !ok {
			f = append(f, fmt.Sprintf("expected rule %s to decide, got %s", want, got))
		}
	}
	if c.EffectSet && d.Effect != c.Effect {
		f = append(f, fmt.Sprintf("expected effect %s, got %s (%s)", c.Effect, d.Effect, got))
	}
	if c.ReasonSet && !strings.Contains(d.Reason, c.Reason) {
		f = append(f, fmt.Sprintf("expected the reason to contain %q, got %q", c.Reason, d.Reason))
	}
	return f
}

// Coverage tracks which rule items of one policy some case decided.
type Coverage struct {
	Src     *engine.Source
	decided map[itemKey]bool
}

// NewCoverage starts tracking the rule items of src; a nil src has none.
func NewCoverage(src *engine.Source) *Coverage {
	return &Coverage{Src: src, decided: map[itemKey]bool{}}
}

// Add records the items that decided the given results. A nil *Coverage
// tracks nothing, and the zero Coverage starts tracking on first use.
func (c *Coverage) Add(results []CaseResult) {
	if c == nil {
		return
	}
	if c.decided == nil {
		c.decided = map[itemKey]bool{}
	}
	for _, r := range results {
		if d := r.Explanation.Decision; d.Rule != "" {
			c.decided[itemKey{d.Rule, d.Effect, d.Item}] = true
		}
	}
}

// Uncovered lists, in document order, the rule items no case decided.
func (c *Coverage) Uncovered() []engine.Rule {
	if c == nil || c.Src == nil {
		return nil
	}
	var out []engine.Rule
	for _, r := range c.Src.Rules {
		if !c.decided[itemKey{r.ID, r.Effect, r.Item}] {
			out = append(out, r)
		}
	}
	return out
}

// ItemName names a rule item as explanations print it: rules.r1 allow[2].
func ItemName(r engine.Rule) string { return fmt.Sprintf("%s %s[%d]", r.ID, r.Effect, r.Item) }

// WriteExplanation prints an explanation exactly as `warden explain` does,
// so a failing case shows what the user would see when asking by hand.
func WriteExplanation(w io.Writer, subject, resource, action string, e engine.Explanation) {
	if w == nil {
		return // nowhere to write
	}
	d := e.Decision
	verdict := "DENIED"
	if d.Allowed {
		verdict = "ALLOWED"
	}
	res := fmt.Sprintf("%q", resource)
	if resource == "" {
		res = "(no particular resource)"
	}
	fmt.Fprintf(w, "request:  subject %q, action %q, resource %s\n", subject, action, res)
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
		if m.Rule.Pos.Line > 0 {
			where = "  " + m.Rule.Pos.String()
		}
		fmt.Fprintf(w, "%s %s %s[%d]  [%q, %q, %q]%s\n", mark, m.Rule.ID, m.Rule.Effect, m.Rule.Item, m.Rule.Subject, m.Rule.Resource, m.Rule.Action, where)
		fmt.Fprintf(w, "    subject:  %s\n", strings.Join(m.SubjectPath, " → "))
		res := "(no particular resource)"
		if len(m.ResourcePath) > 0 {
			res = strings.Join(m.ResourcePath, " ∈ ")
		}
		fmt.Fprintf(w, "    resource: %s\n", res)
		fmt.Fprintf(w, "    action:   %s\n", strings.Join(m.ActionPath, " ∈ "))
	}
	fmt.Fprintln(w, "\n* decided")
}

// FileResult is one test file's run.
type FileResult struct {
	Path string
	// Err says why the file could not be run: it, or its policy, could not
	// be read, or has problems (a diag.List with every one of them).
	Err     error
	Policy  string // the policy's path
	Results []CaseResult
}

// Suite is the run of several test files, with coverage per policy.
type Suite struct {
	Files []FileResult
	// Coverage has one entry per policy, in the order files named them;
	// a policy tested by several files is covered by all of them.
	Coverage []*Coverage
	Paths    []string // Coverage[i] is of Paths[i]
}

// RunFiles runs every test file. A policy named by several files is
// loaded once.
func RunFiles(paths []string) *Suite {
	s := &Suite{}
	loaded := map[string]*Loaded{}
	cover := map[string]*Coverage{}
	for _, path := range paths {
		fr := FileResult{Path: path}
		tf, err := LoadTestFile(path)
		if err != nil {
			fr.Err = err
			s.Files = append(s.Files, fr)
			continue
		}
		fr.Policy = tf.PolicyPath()
		key, _ := filepath.Abs(fr.Policy)
		l, ok := loaded[key]
		if !ok {
			if l, err = LoadPolicy(fr.Policy); err != nil {
				fr.Err = fmt.Errorf("%v: policy %s: %w", tf.PolicyPos, fr.Policy, err)
				if _, isList := err.(diag.List); isList {
					fr.Err = fmt.Errorf("policy %s named at %v does not load:\n%w", fr.Policy, tf.PolicyPos, err)
				}
				s.Files = append(s.Files, fr)
				continue
			}
			loaded[key] = l
			cover[key] = NewCoverage(l.Src)
			s.Coverage = append(s.Coverage, cover[key])
			s.Paths = append(s.Paths, fr.Policy)
		}
		if err := tf.CheckRules(l.Src); err != nil {
			fr.Err = err
			s.Files = append(s.Files, fr)
			continue
		}
		if fr.Results, err = tf.Run(l.P); err != nil {
			fr.Err = err
		}
		cover[key].Add(fr.Results)
		s.Files = append(s.Files, fr)
	}
	return s
}

// Failed counts failed cases; Broken counts files that could not run.
//
// A nil *Suite, like the zero Suite, ran nothing: every count is 0.
func (s *Suite) Failed() (failed, passed, broken int) {
	if s == nil {
		return 0, 0, 0
	}
	for _, f := range s.Files {
		if f.Err != nil {
			broken++
		}
		for i := range f.Results {
			if f.Results[i].Passed() {
				passed++
			} else {
				failed++
			}
		}
	}
	return failed, passed, broken
}
