package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocumentedOutput runs every `$ warden ...` command shown in a console
// block of the READMEs, and the README's quick start, and compares the
// output with what the docs print, so the docs cannot drift from the code.
// Shown output that ends in "…" need only be a prefix; a command shown with
// no output is only run.
func TestDocumentedOutput(t *testing.T) {
	t.Parallel()
	root := "../.."
	files, _ := filepath.Glob(filepath.Join(root, "examples/*/README.md"))
	files = append(files, filepath.Join(root, "README.md"))
	checked := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range examples(string(data)) {
			checked++
			args := strings.Fields(ex.command)
			for i, a := range args {
				if strings.HasPrefix(a, "examples/") {
					args[i] = filepath.Join(root, a)
				}
			}
			r := run(t, "", args...)
			got := strings.ReplaceAll(r.stdout, root+"/", "")
			if r.code == 2 {
				t.Errorf("%s: `warden %s` failed: %s", f, ex.command, r.stderr)
				continue
			}
			if prefix, cut := strings.CutSuffix(ex.output, "\n…"); cut {
				if !strings.HasPrefix(got, prefix) {
					t.Errorf("%s: `warden %s` prints\n%s\nbut the docs show it starting\n%s", f, ex.command, got, prefix)
				}
				continue
			}
			if ex.output != "" && strings.TrimSpace(got) != strings.TrimSpace(ex.output) {
				t.Errorf("%s: `warden %s` prints\n%s\nbut the docs show\n%s", f, ex.command, got, ex.output)
			}
		}
	}
	if checked < 4 {
		t.Errorf("found only %d documented commands; has the docs' format changed?", checked)
	}
}

type example struct{ command, output string }

// examples finds console transcripts ("$ warden ARGS" followed by output)
// and the README's quick start (a "go run ./cmd/warden ARGS" line whose
// output is the next fenced block after "The first command").
func examples(doc string) []example {
	var out []example
	lines := strings.Split(doc, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		cmd, ok := strings.CutPrefix(line, "$ warden ")
		if !ok {
			continue
		}
		if strings.ContainsAny(cmd, "<|>") {
			continue // needs a shell
		}
		var shown []string
		for i+1 < len(lines) && !strings.HasPrefix(lines[i+1], "$ ") && !strings.HasPrefix(lines[i+1], "```") && lines[i+1] != "" {
			i++
			shown = append(shown, lines[i])
		}
		text := strings.Join(shown, "\n")
		if text == "…" {
			text = ""
		}
		out = append(out, example{cmd, text})
	}
	if start := strings.Index(doc, "go run ./cmd/warden "); start >= 0 {
		cmd := doc[start+len("go run ./cmd/warden "):]
		cmd = cmd[:strings.IndexByte(cmd, '\n')]
		if j := strings.Index(doc, "The first command"); j >= 0 {
			block := doc[j:]
			block = block[strings.Index(block, "```\n")+4:]
			block = block[:strings.Index(block, "```")]
			out = append(out, example{cmd, block})
		}
	}
	return out
}
