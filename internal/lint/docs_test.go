package lint_test

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/warden-authz/warden/internal/lint"
)

// TestDocs keeps docs/lint.md true: every code has a section titled with
// its code and severity, and the policy that section shows produces that
// finding at that severity.
func TestDocs(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../docs/lint.md")
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile("(?m)^### `([a-z-]+)` \\(([a-z, ]+)\\)$")
	sections := heading.FindAllStringSubmatchIndex(string(data), -1)
	var documented []string
	for i, m := range sections {
		code, sev := string(data[m[2]:m[3]]), string(data[m[4]:m[5]])
		documented = append(documented, code)
		end := len(data)
		if i+1 < len(sections) {
			end = sections[i+1][0]
		}
		body := string(data[m[1]:end])
		start := strings.Index(body, "```toml\n")
		if start < 0 {
			t.Errorf("section %s has no example policy", code)
			continue
		}
		policy := body[start+len("```toml\n"):]
		policy = policy[:strings.Index(policy, "```")]
		found := false
		var got []string
		for _, f := range lint.Run(parse(t, code+".toml", policy), nil, nil) {
			got = append(got, fmt.Sprintf("%s (%v)", f.Code, f.Severity))
			found = found || f.Code == code && strings.HasPrefix(sev, f.Severity.String())
		}
		if !found {
			t.Errorf("the example of %s (%s) gives %q", code, sev, got)
		}
		if !strings.Contains(string(data), "| [`"+code+"`]") {
			t.Errorf("%s is missing from the table of codes", code)
		}
	}
	if !slices.Equal(documented, lint.Codes) {
		t.Errorf("docs/lint.md documents %q, want lint.Codes in order %q", documented, lint.Codes)
	}
}
