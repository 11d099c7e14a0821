package lint_test

import (
	"testing"

	"github.com/warden-authz/warden/internal/config"
	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/lint"
	"github.com/warden-authz/warden/internal/workload"
)

// BenchmarkLintRBACLarge lints casbin's large RBAC shape (100,000 users,
// 10,000 roles, 110,000 "rules") read from its policy file, as `warden
// lint` does after loading it. The target is at most 2 s per run.
func BenchmarkLintRBACLarge(b *testing.B) {
	text := []byte(workload.TOML(workload.RBAC("large", 100000, 10000).Source))
	src, errs := config.Parse("rbac-large.toml", text)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	p, errs := engine.Compile(src)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	b.ReportAllocs()
	for b.Loop() {
		if fs := lint.Run(src, p, nil); len(fs) != 0 {
			b.Fatalf("%d findings, first %v", len(fs), fs[0])
		}
	}
}

// BenchmarkLintGlob lints the 100,000-rule glob workload: globs, middle
// and trailing '*', alternatives and '*' subjects, where the index leaves
// the most candidates.
func BenchmarkLintGlob(b *testing.B) {
	src := workload.Glob(1000).Source
	p, errs := engine.Compile(src)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	b.ReportAllocs()
	for b.Loop() {
		lint.Run(src, p, nil)
	}
}
