package testfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/warden-authz/warden/internal/config"
	"github.com/warden-authz/warden/internal/diag"
	"github.com/warden-authz/warden/internal/engine"
)

// loaded is a policy file read and compiled, with its source kept for
// coverage.
type loaded struct {
	src *engine.Source
	p   *engine.Policy
}

// Load reads and parses a test file; the error is a diag.List of
// every problem, or says why the file could not be read.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxBytes+1))
	if err != nil {
		return nil, err
	}
	tf, errs := Parse(path, data)
	if len(errs) > 0 {
		return nil, errs
	}
	return tf, nil
}

// PolicyPath is the policy file a test file names, relative to the test
// file's directory unless absolute.
func (tf *File) PolicyPath() string {
	if tf == nil || tf.Policy == "" {
		return "" // no policy named; loading "" fails and says so
	}
	if filepath.IsAbs(tf.Policy) {
		return tf.Policy
	}
	return filepath.Join(filepath.Dir(tf.Path), tf.Policy)
}

// Result is the outcome of one case. The zero Result has no case and no
// failures; Run never returns one. It is not changed after Run returns,
// so it may be read from several goroutines.
type Result struct {
	Case *Case
	// Failures says what differed from the expectation, one line each;
	// empty when the case passed.
	Failures    []string
	Explanation engine.Explanation
}

// Passed reports whether the case met every expectation. A result of no
// case, such as the zero Result, did not pass: nothing was checked.
func (r *Result) Passed() bool { return r != nil && r.Case != nil && len(r.Failures) == 0 }

// CheckRules reports cases that name a rule the policy does not have: a
// typo there would make the case fail for the wrong reason, or, with
// effect or allowed alone, hide that the rule was renamed.
//
// A nil src has no rules, so every rule a case names is missing.
func (tf *File) CheckRules(src *engine.Source) error {
	if src == nil {
		src = &engine.Source{}
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
// request cannot be decided at all: under a nil policy (engine.ErrNoPolicy)
// or for a case no parsed file holds, such as the zero Case.
func (tf *File) Run(p *engine.Policy) ([]Result, error) {
	out := make([]Result, len(tf.Cases))
	for i := range tf.Cases {
		c := &tf.Cases[i]
		e, err := p.Explain(&engine.Query{Subject: c.Subject, Resource: c.Resource, Action: c.Action, Context: c.Context, Now: c.Now})
		if err != nil {
			return nil, fmt.Errorf("%v: case %q: %w", c.Pos, c.Label(), err)
		}
		out[i] = Result{Case: c, Explanation: e, Failures: check(c, e.Decision)}
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

// Coverage tracks which rule items of one policy some case decided. Add
// changes it, so a Coverage is for one goroutine at a time. The zero
// Coverage tracks a policy without rules: Add records, Uncovered lists
// nothing.
type Coverage struct {
	Src     *engine.Source
	decided map[itemKey]bool
}

// NewCoverage starts tracking the rule items of src; a nil src has none.
func NewCoverage(src *engine.Source) *Coverage {
	return &Coverage{Src: src, decided: map[itemKey]bool{}}
}

// Add records the items that decided the given results.
func (c *Coverage) Add(results []Result) {
	for _, r := range results {
		if d := r.Explanation.Decision; d.Rule != "" {
			if c.decided == nil {
				c.decided = map[itemKey]bool{}
			}
			c.decided[itemKey{d.Rule, d.Effect, d.Item}] = true
		}
	}
}

// Uncovered lists, in document order, the rule items no case decided.
func (c *Coverage) Uncovered() []engine.Rule {
	if c.Src == nil {
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

// itemKey names one rule item.
type itemKey struct {
	id     string
	effect engine.Effect
	item   int
}

// ItemName names a rule item as explanations print it: rules.r1 allow[2].
func ItemName(r engine.Rule) string { return fmt.Sprintf("%s %s[%d]", r.ID, r.Effect, r.Item) }

// FileResult is one test file's run. The zero FileResult names no file and
// ran nothing. It is not changed after RunFiles returns.
type FileResult struct {
	Path string
	// Err says why the file could not be run: it, or its policy, could not
	// be read, or has problems (a diag.List with every one of them).
	Err     error
	Policy  string // the policy's path
	Results []Result
}

// Suite is the run of several test files, with coverage per policy. The
// zero Suite ran no file: Failed counts nothing. It is not changed after
// RunFiles returns, so it may be read from several goroutines.
type Suite struct {
	Files []FileResult
	// Coverage has one entry per policy, in the order files named them;
	// a policy tested by several files is covered by all of them.
	Coverage []*Coverage
	Paths    []string // Coverage[i] is of Paths[i]
}

// RunFiles runs every test file. A policy named by several files is
// loaded once. Each call keeps its own state: concurrent calls are safe.
func RunFiles(paths []string) *Suite {
	s := &Suite{}
	policies := map[string]*loaded{}
	cover := map[string]*Coverage{}
	for _, path := range paths {
		fr := FileResult{Path: path}
		tf, err := Load(path)
		if err != nil {
			fr.Err = err
			s.Files = append(s.Files, fr)
			continue
		}
		fr.Policy = tf.PolicyPath()
		key, _ := filepath.Abs(fr.Policy)
		l, ok := policies[key]
		if !ok {
			src, p, err := config.Load(fr.Policy)
			if err != nil {
				fr.Err = fmt.Errorf("%v: policy %s: %w", tf.PolicyPos, fr.Policy, err)
				if _, isList := err.(diag.List); isList {
					fr.Err = fmt.Errorf("policy %s named at %v does not load:\n%w", fr.Policy, tf.PolicyPos, err)
				}
				s.Files = append(s.Files, fr)
				continue
			}
			l = &loaded{src: src, p: p}
			policies[key] = l
			cover[key] = NewCoverage(l.src)
			s.Coverage = append(s.Coverage, cover[key])
			s.Paths = append(s.Paths, fr.Policy)
		}
		if err := tf.CheckRules(l.src); err != nil {
			fr.Err = err
			s.Files = append(s.Files, fr)
			continue
		}
		if fr.Results, err = tf.Run(l.p); err != nil {
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
