package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocumentedOutput runs every `$ warden ...` command shown in a console
// block of the READMEs and of docs/, and the README's quick start, and
// compares the output with what the docs print, so the docs cannot drift
// from the code. A line "…" in the shown output stands for any lines, and
// shown output that ends in "…" need only be a prefix; a command shown
// with no output is only run. A file a command names that is not in the
// repository must be shown in the same document, in a toml block whose
// first line is "# NAME.toml"; it is written to a temporary directory for
// the run.
func TestDocumentedOutput(t *testing.T) {
	t.Parallel()
	root := "../.."
	files, _ := filepath.Glob(filepath.Join(root, "examples/*/README.md"))
	docs, _ := filepath.Glob(filepath.Join(root, "docs/*.md"))
	files = append(append(files, filepath.Join(root, "README.md")), docs...)
	checked := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		shown := shownFiles(string(data))
		var tmp string
		for _, ex := range examples(string(data)) {
			checked++
			args := strings.Fields(ex.command)
			for i, a := range args {
				if len(a) >= 2 && a[0] == '\'' && a[len(a)-1] == '\'' {
					// A shell-quoted argument without spaces, such as
					// --context '{"mfa":true}'.
					a = a[1 : len(a)-1]
					args[i] = a
				}
				switch text, ok := shown[a]; {
				case strings.HasPrefix(a, "examples/"):
					args[i] = filepath.Join(root, a)
				case ok:
					if tmp == "" {
						tmp = t.TempDir()
					}
					args[i] = filepath.Join(tmp, a)
					if err := os.WriteFile(args[i], []byte(text), 0o600); err != nil {
						t.Fatal(err)
					}
				case strings.HasSuffix(a, ".toml"):
					t.Errorf("%s: `warden %s` names %s, which is neither in the repository nor shown in the document", f, ex.command, a)
				}
			}
			r := run(t, "", args...)
			got := strings.ReplaceAll(r.stdout, root+"/", "")
			if tmp != "" {
				got = strings.ReplaceAll(got, tmp+"/", "")
			}
			if r.code == 2 {
				t.Errorf("%s: `warden %s` failed: %s", f, ex.command, r.stderr)
				continue
			}
			if ex.output != "" && !matchShown(got, ex.output) {
				t.Errorf("%s: `warden %s` prints\n%s\nbut the docs show\n%s", f, ex.command, got, ex.output)
			}
		}
	}
	if checked < 8 {
		t.Errorf("found only %d documented commands; has the docs' format changed?", checked)
	}
}

// matchShown reports whether got is what the docs show: the shown lines in
// order, with a line "…" (or "...") standing for any number of lines, and
// a trailing one making the rest of got free.
func matchShown(got, shown string) bool {
	g := strings.Split(strings.TrimRight(got, "\n"), "\n")
	var chunks [][]string
	cur := []string{}
	for _, line := range strings.Split(strings.TrimSpace(shown), "\n") {
		if s := strings.TrimSpace(line); s == "…" || s == "..." {
			chunks = append(chunks, cur)
			cur = []string{}
			continue
		}
		cur = append(cur, line)
	}
	chunks = append(chunks, cur)
	pos := 0
	for i, c := range chunks {
		last := i == len(chunks)-1
		switch {
		case i == 0:
			if len(c) > len(g) || !equalLines(g[:len(c)], c) {
				return false
			}
			pos = len(c)
			if last && pos != len(g) {
				return false
			}
		case last && len(c) > 0:
			if len(c) > len(g)-pos || !equalLines(g[len(g)-len(c):], c) {
				return false
			}
		default:
			found := false
			for ; pos+len(c) <= len(g); pos++ {
				if equalLines(g[pos:pos+len(c)], c) {
					pos += len(c)
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
	}
	return true
}

func equalLines(a, b []string) bool {
	for i := range a {
		if strings.TrimRight(a[i], " ") != strings.TrimRight(b[i], " ") {
			return false
		}
	}
	return true
}

// fileBlock is a toml block that names the file it shows.
var fileBlock = regexp.MustCompile("(?s)```toml\n# ([A-Za-z0-9_.-]+\\.toml)\n(.*?)```")

// shownFiles finds the files a document shows as toml blocks whose first
// line is "# NAME.toml".
func shownFiles(doc string) map[string]string {
	out := map[string]string{}
	for _, m := range fileBlock.FindAllStringSubmatch(doc, -1) {
		out[m[1]] = "# " + m[1] + "\n" + m[2] // the naming line too, so line numbers are the shown ones
	}
	return out
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
