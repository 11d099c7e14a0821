package testgen_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/warden-authz/warden/internal/engine"
	"github.com/warden-authz/warden/internal/testgen"
)

// TestOnlyTests: no file that goes into a build imports testgen, so the
// generators and rapid stay out of warden's binary and library.
func TestOnlyTests(t *testing.T) {
	t.Parallel()
	const self = "github.com/warden-authz/warden/internal/testgen"
	root := filepath.Join("..", "..")
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == self && f.Name.Name != "testgen" {
				t.Errorf("%s imports testgen; only _test.go files may", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d files: is the module root %s?", checked, root)
	}
}

// TestSourcesCompile: every source Source draws compiles, and a shape's
// limits hold.
func TestSourcesCompile(t *testing.T) {
	t.Parallel()
	shape := testgen.Shape{
		Groups: []string{"g1", "g2", "ab"}, Users: []string{"u1", "a", "a:b"},
		Resources: []string{"r1", "b"}, ResourceNames: []string{"a", "a:b"},
		Actions: []string{"x1"}, ActionNames: []string{"a", "b"},
		Subjects: []string{"*", "g1", "u1", "u*"}, MaxRules: 9, FewSubjects: true,
	}
	rapid.Check(t, func(t *rapid.T) {
		src := testgen.Source(t, shape)
		if _, errs := engine.Compile(src); len(errs) > 0 {
			t.Fatalf("drawn source does not compile: %v", errs)
		}
		if len(src.Rules) > shape.MaxRules {
			t.Fatalf("%d rules, over %d", len(src.Rules), shape.MaxRules)
		}
		seen := map[string]bool{}
		for _, r := range src.Rules {
			k := r.ID + " " + r.Effect.String() + strconv.Itoa(r.Item)
			if seen[k] {
				t.Fatalf("item %s drawn twice", k)
			}
			seen[k] = true
		}
	})
}
