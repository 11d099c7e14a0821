package analysis_test

import (
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

}
