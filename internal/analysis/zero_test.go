package analysis_test

import (
	"bytes"
	"testing"

	"github.com/warden-authz/warden/internal/analysis"
	"github.com/warden-authz/warden/internal/config"
	"github.com/warden-authz/warden/internal/engine"
)

// TestZeroValues: every type's zero value and nil pointer either works or
// returns an error, and none of them passes a case that was not run or
// answers a query from no policy.
func TestZeroValues(t *testing.T) {
	t.Parallel()
	src, errs := config.Parse("p.toml", []byte("[rules.r]\nallow = [['alice', 'doc', 'read']]\n"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p, cerrs := engine.Compile(src)
	if len(cerrs) > 0 {
		t.Fatal(cerrs)
	}
	good := analysis.NewModel(src, p)
	var nilModel *analysis.Model
	models := map[string]*analysis.Model{
		"nil *Model":            nilModel,
		"zero Model":            {},
		"NewModel(nil, nil)":    analysis.NewModel(nil, nil),
		"NewModel(src, nil)":    analysis.NewModel(src, nil),
		"NewModel(nil, policy)": analysis.NewModel(nil, p),
	}
	for name, m := range models {
		if g, err := m.Who("doc", "read"); err == nil {
			t.Errorf("%s: Who = %v, want an error", name, g)
		}
		if c, err := m.Can("alice"); err == nil {
			t.Errorf("%s: Can = %v, want an error", name, c)
		}
		if ch, err := analysis.Diff(m, good); err == nil {
			t.Errorf("%s: Diff(it, good) = %v, want an error", name, ch)
		}
		if ch, err := analysis.Diff(good, m); err == nil {
			t.Errorf("%s: Diff(good, it) = %v, want an error", name, ch)
		}
	}

	var nilResult *analysis.CaseResult
	for name, r := range map[string]*analysis.CaseResult{"nil": nilResult, "zero": {}} {
		if r.Passed() {
			t.Errorf("%s CaseResult passed", name)
		}
	}
	var nilCase *analysis.Case
	if nilCase.Label() == "" || (&analysis.Case{}).Label() == "" {
		t.Error("a nil or zero Case has no label")
	}

	var nilFile *analysis.TestFile
	for name, tf := range map[string]*analysis.TestFile{"nil": nilFile, "zero": {}} {
		if r, err := tf.Run(nil); err == nil {
			t.Errorf("%s TestFile: Run(nil) = %v, want an error", name, r)
		}
		if err := tf.CheckRules(nil); err == nil {
			t.Errorf("%s TestFile: CheckRules(nil) succeeded", name)
		}
		if pp := tf.PolicyPath(); pp != "" {
			t.Errorf("%s TestFile names the policy %q", name, pp)
		}
	}
	if r, err := nilFile.Run(p); err == nil {
		t.Errorf("nil TestFile: Run = %v, want an error", r)
	}

	var nilCover *analysis.Coverage
	for name, c := range map[string]*analysis.Coverage{"nil": nilCover, "zero": {}, "NewCoverage(nil)": analysis.NewCoverage(nil)} {
		c.Add([]analysis.CaseResult{{}})
		if u := c.Uncovered(); len(u) != 0 {
			t.Errorf("%s Coverage: Uncovered = %v", name, u)
		}
	}
	zc := &analysis.Coverage{Src: src}
	zc.Add(nil)
	if u := zc.Uncovered(); len(u) != 1 {
		t.Errorf("a Coverage of a one-rule source made without NewCoverage: Uncovered = %v", u)
	}

	var nilSuite *analysis.Suite
	for name, s := range map[string]*analysis.Suite{"nil": nilSuite, "zero": {}, "RunFiles(nil)": analysis.RunFiles(nil)} {
		if f, p, b := s.Failed(); f != 0 || p != 0 || b != 0 {
			t.Errorf("%s Suite: Failed = %d, %d, %d", name, f, p, b)
		}
	}
	if s := analysis.RunFiles([]string{""}); s == nil || len(s.Files) != 1 || s.Files[0].Err == nil {
		t.Errorf("RunFiles of an empty path: %+v", s)
	}

	analysis.WriteExplanation(nil, "alice", "doc", "read", engine.Explanation{})
	var b bytes.Buffer
	analysis.WriteExplanation(&b, "", "", "", engine.Explanation{})
	if b.Len() == 0 {
		t.Error("the zero Explanation prints nothing")
	}
	if _, err := analysis.LoadPolicy(""); err == nil {
		t.Error("LoadPolicy(\"\") succeeded")
	}
	if _, err := analysis.LoadTestFile(""); err == nil {
		t.Error("LoadTestFile(\"\") succeeded")
	}
	if _, errs := analysis.ParseTestFile("", nil); len(errs) == 0 {
		t.Error("an empty test file parsed without a problem")
	}
}
