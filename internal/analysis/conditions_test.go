package analysis_test

import (
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/analysis"
	"github.com/warden-authz/warden/internal/config"
	"github.com/warden-authz/warden/internal/engine"
)

func conditionModel(t *testing.T, text string) *analysis.Model {
	t.Helper()
	src, errs := config.Parse("p.toml", []byte(text))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p, errs := engine.Compile(src)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return analysis.NewModel(src, p)
}

const conditioned = `
[context]
mfa = 'bool'

[groups]
staff = ['alice', 'bob']

[rules.office]
when = 'context.mfa'
allow = [['staff', 'payroll:*', 'read']]

[rules.all]
allow = [['staff', 'docs:*', 'read']]
`

// TestConditionalAnswers: who, can and diff report conditional items as
// conditional, with their expression (SPEC 12.6).
func TestConditionalAnswers(t *testing.T) {
	t.Parallel()
	m := conditionModel(t, conditioned)
	grants, err := m.Who("payroll:1", "read")
	if err != nil {
		t.Fatal(err)
	}
	if len(grants) != 3 {
		t.Fatalf("who: %+v", grants)
	}
	for _, g := range grants {
		if g.When != "context.mfa" || !strings.HasSuffix(g.Reason, "when context.mfa") {
			t.Errorf("who: %+v is not marked conditional", g)
		}
	}
	perms, err := m.Can("alice")
	if err != nil {
		t.Fatal(err)
	}
	var whens []string
	for _, p := range perms {
		whens = append(whens, p.Resource+"="+p.When)
	}
	if got := strings.Join(whens, " "); got != "payroll:*=context.mfa docs:*= *=" {
		t.Errorf("can: %s", got)
	}
	changed := conditionModel(t, strings.Replace(conditioned, "when = 'context.mfa'", "when = '!context.mfa'", 1))
	changes, err := analysis.Diff(m, changed)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) == 0 || !strings.Contains(changes[0].Old.Reason, "when context.mfa") || !strings.Contains(changes[0].New.Reason, "when !context.mfa") {
		t.Fatalf("diff of a changed condition: %+v", changes)
	}
	if same, _ := analysis.Diff(m, conditionModel(t, conditioned)); len(same) != 0 {
		t.Fatalf("diff of the same policy: %+v", same)
	}
}
