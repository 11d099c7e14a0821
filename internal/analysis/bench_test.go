package analysis_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/warden-authz/warden/internal/analysis"
	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/workload"
)

// rbacLarge is casbin's large RBAC shape: 100,000 users in 10,000 roles,
// 10,000 rules (110,000 "rules" as casbin counts users and roles). It is
// built once and shared, since building it takes a while.
var rbacLarge = sync.OnceValues(func() (*engine.Source, *engine.Policy) {
	src := workload.RBAC("rbac-large", 100000, 10000).Source
	p, errs := engine.Compile(src)
	if len(errs) > 0 {
		panic(errs)
	}
	return src, p
})

// Each benchmark includes indexing the policy (NewModel), as every call of
// warden's Who and Can, and every run of the CLI, pays for it.

func BenchmarkWhoRBACLarge(b *testing.B) {
	src, p := rbacLarge()
	for b.Loop() {
		grants, err := analysis.NewModel(src, p).Who("data500", "read")
		if err != nil || len(grants) != 110 {
			b.Fatalf("%d grants, %v", len(grants), err)
		}
	}
}

func BenchmarkCanRBACLarge(b *testing.B) {
	src, p := rbacLarge()
	for b.Loop() {
		perms, err := analysis.NewModel(src, p).Can("user50001")
		if err != nil || len(perms) != 2 {
			b.Fatalf("%+v, %v", perms, err)
		}
	}
}

// BenchmarkDiffRBACLarge changes one rule: role group5000 may now also
// write data500. Ten users and the role gain it.
func BenchmarkDiffRBACLarge(b *testing.B) {
	src, p := rbacLarge()
	next := *src
	next.Rules = slices.Clone(src.Rules)
	next.Rules[5000].Action = "read,write"
	np, errs := engine.Compile(&next)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	for b.Loop() {
		changes, err := analysis.Diff(analysis.NewModel(src, p), analysis.NewModel(&next, np))
		if err != nil || len(changes) != 11 {
			b.Fatalf("%d changes, %v", len(changes), err)
		}
	}
}
