package types_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/warden-authz/warden/types"
)

// TestTextForms: every effect and strategy reads back as itself, every
// alias reads as its strategy, and anything else is an error, never a
// silent default.
func TestTextForms(t *testing.T) {
	t.Parallel()
	for _, e := range []types.Effect{types.EffectNone, types.EffectAllow, types.EffectDeny} {
		b, err := e.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back types.Effect
		if err := back.UnmarshalText(b); err != nil || back != e {
			t.Errorf("effect %v: read back %v, %v", e, back, err)
		}
	}
	for name, s := range types.StrategyNames {
		var got types.Strategy
		if err := got.UnmarshalText([]byte(name)); err != nil || got != s {
			t.Errorf("strategy %q: %v, %v", name, got, err)
		}
		b, err := s.MarshalText()
		if err != nil || !s.Valid() {
			t.Fatalf("%v: %v", s, err)
		}
		if types.StrategyNames[string(b)] != s {
			t.Errorf("%v marshals to %q", s, b)
		}
	}
	for _, bad := range []string{"", "Allow", "permit", "allow ", "\x00", strings.Repeat("a", 1<<16)} {
		var e types.Effect
		if err := e.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("effect %q accepted", bad)
		}
		var s types.Strategy
		if err := s.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("strategy %q accepted", bad)
		}
	}
	if _, err := types.Strategy(9).MarshalText(); err == nil || types.Strategy(9).Valid() {
		t.Error("an unknown strategy marshals")
	}
	if types.Strategy(9).String() != "Strategy(9)" || types.Effect(7).String() != "none" {
		t.Error("unknown values print wrongly")
	}
}

// TestZeroValuesDeny: a Decision nobody filled in denies and says nothing
// matched; the zero strategy is deny-overrides.
func TestZeroValuesDeny(t *testing.T) {
	t.Parallel()
	var d types.Decision
	if d.Allowed || d.Effect != types.EffectNone {
		t.Error("the zero Decision allows")
	}
	var s types.Strategy
	if s != types.DenyOverrides {
		t.Error("the zero Strategy is not deny-overrides")
	}
	b, err := json.Marshal(types.Explanation{})
	if err != nil || !strings.Contains(string(b), `"strategy":"deny-overrides"`) || !strings.Contains(string(b), `"allowed":false`) {
		t.Errorf("zero explanation as JSON: %s, %v", b, err)
	}
}

func TestDiagnosticWhere(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    types.Diagnostic
		want string
	}{
		{types.Diagnostic{File: "p.toml", Line: 3, Column: 7, Message: "bad"}, "p.toml:3:7: bad"},
		{types.Diagnostic{File: "p.toml", Message: "bad"}, "p.toml: bad"},
		{types.Diagnostic{Line: 3, Column: 7, Message: "bad"}, "<policy>:3:7: bad"},
		{types.Diagnostic{Message: "bad"}, "<policy>: bad"},
	} {
		if got := tc.d.Error(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestWriteText(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	e := types.Explanation{Decision: types.Decision{Reason: "no rule matched"}, Why: "none"}
	if err := e.WriteText(&b, types.Request{Subject: "a", Action: "x"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`subject "a"`, "(no particular resource)", "DENIED  no rule matched", "no rule matched\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("explanation text lacks %q:\n%s", want, b.String())
		}
	}
}
