package server_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/server"
	"github.com/warden-authz/warden/store"
)

// curlCommand is one `$ curl -s URL [-H 'NAME: VALUE']... [--json 'BODY']`
// of a console block, which may go on over lines while a quote is open.
type curlCommand struct {
	line         int // where it starts, from 1
	path, body   string
	header       []string
	post         bool
	shown        string // the output shown under it
	commandLines string
}

// parseCurl reads the curl commands of a document's console blocks.
func parseCurl(t *testing.T, doc string) []curlCommand {
	t.Helper()
	lines := strings.Split(doc, "\n")
	var out []curlCommand
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "$ curl ") {
			continue
		}
		c := curlCommand{line: i + 1}
		text := lines[i][2:]
		for strings.Count(text, "'")%2 == 1 {
			i++
			if i == len(lines) {
				t.Fatalf("line %d: a quote is never closed", c.line)
			}
			text += "\n" + lines[i]
		}
		c.commandLines = text
		words, err := shellWords(text)
		if err != nil {
			t.Fatalf("line %d: %v", c.line, err)
		}
		for j := 1; j < len(words); j++ {
			switch w := words[j]; {
			case w == "-s":
			case w == "-H" && j+1 < len(words):
				name, value, ok := strings.Cut(words[j+1], ": ")
				if !ok {
					t.Fatalf("line %d: header %q", c.line, words[j+1])
				}
				c.header = append(c.header, name, value)
				j++
			case w == "--json" && j+1 < len(words):
				c.body, c.post = words[j+1], true
				c.header = append(c.header, "Content-Type", "application/json")
				j++
			case strings.HasPrefix(w, "localhost:8181/"):
				c.path = strings.TrimPrefix(w, "localhost:8181")
			default:
				t.Fatalf("line %d: curl argument %q is not one the test knows", c.line, w)
			}
		}
		if c.path == "" {
			t.Fatalf("line %d: no localhost:8181 URL", c.line)
		}
		var shown []string
		for i+1 < len(lines) && !strings.HasPrefix(lines[i+1], "$ ") && !strings.HasPrefix(lines[i+1], "```") {
			i++
			shown = append(shown, lines[i])
		}
		c.shown = strings.Join(shown, "\n")
		out = append(out, c)
	}
	return out
}

// shellWords splits a command the way sh does for words, single quotes
// and spaces, which is all the documents use.
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	in, quoted := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			in, quoted = !in, true
		case !in && (r == ' ' || r == '\n'):
			if w.Len() > 0 || quoted {
				words = append(words, w.String())
			}
			w.Reset()
			quoted = false
		default:
			w.WriteRune(r)
		}
	}
	if in {
		return nil, fmt.Errorf("an open quote in %q", s)
	}
	if w.Len() > 0 || quoted {
		words = append(words, w.String())
	}
	return words, nil
}

// TestDocSharingREADME replays examples/docsharing/README.md's curl
// session against the service serving its policy on a store, in order,
// and compares every answer with the one shown.
func TestDocSharingREADME(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../examples/docsharing/README.md")
	if err != nil {
		t.Fatal(err)
	}
	policy, err := os.ReadFile("../../examples/docsharing/policy.toml")
	if err != nil {
		t.Fatal(err)
	}
	f := start(t, string(policy), func(c *server.Config) {
		c.Store, c.AdminToken = store.NewMemory(), "admin-secret"
	})
	waitReady(t, f)
	cmds := parseCurl(t, string(readme))
	if len(cmds) < 10 {
		t.Fatalf("found only %d curl commands in the README; has its format changed?", len(cmds))
	}
	for _, c := range cmds {
		method := "GET"
		if c.post {
			method = "POST"
		}
		r := f.do(t, method, c.path, c.body, c.header...)
		if got := strings.TrimSpace(string(r.body)); got != c.shown {
			t.Errorf("README line %d: %s\nanswers %s\nbut the README shows %s", c.line, c.commandLines, got, c.shown)
		}
	}
}

func TestShellWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"curl -s localhost:8181/x", []string{"curl", "-s", "localhost:8181/x"}, false},
		{"curl -H 'A: b c' --json '{\"a\":\n1}'", []string{"curl", "-H", "A: b c", "--json", "{\"a\":\n1}"}, false},
		{"curl ''", []string{"curl", ""}, false},
		{"curl 'open", nil, true},
	} {
		got, err := shellWords(tc.in)
		if (err != nil) != tc.err || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("shellWords(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
