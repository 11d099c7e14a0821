package warden_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// specPath is the specification that "SPEC x.y" citations refer to.
const specPath = "docs/spec.md"

// thisFile holds, in TestCitationParsing, citations of sections that do
// not exist, so the repository-wide check leaves it out.
const thisFile = "docs_spec_test.go"

// specLayout pins the sections of docs/spec.md: section number → number of
// subsections. Section numbers are stable because code, tests and docs
// cite them; removing or renumbering one must be a deliberate change here.
var specLayout = map[int]int{
	1: 4, 2: 4, 3: 4, 4: 3, 5: 5, 6: 3, 7: 6, 8: 4,
	9: 3, 10: 7, 11: 4, 12: 6, 13: 4, 14: 3, 15: 3,
}

// citationRE finds "SPEC 3.2", "SPEC 1–2", "SPEC 3.1, 4.1" and citations
// whose number went to the next line of a comment ("SPEC\n// 9.3").
var citationRE = regexp.MustCompile(`\bSPEC(?:\s|//|#)+(\d+(?:\.\d+)?(?:\s*[–-]\s*\d+(?:\.\d+)?)?(?:\s*,\s*\d+(?:\.\d+)?(?:\s*[–-]\s*\d+(?:\.\d+)?)?)*)`)

var refRE = regexp.MustCompile(`\d+(?:\.\d+)?`)

// citation is one "SPEC ..." in a file and the section numbers it names;
// a range names its two ends.
type citation struct {
	line int
	text string
	refs []string
}

func citations(text string) []citation {
	var out []citation
	for _, m := range citationRE.FindAllStringSubmatchIndex(text, -1) {
		out = append(out, citation{
			line: 1 + strings.Count(text[:m[0]], "\n"),
			text: strings.Join(strings.Fields(text[m[0]:m[1]]), " "),
			refs: refRE.FindAllString(text[m[2]:m[3]], -1),
		})
	}
	return out
}

var (
	sectionRE    = regexp.MustCompile(`^## (\d+)\. \S`)
	subsectionRE = regexp.MustCompile(`^### (\d+)\.(\d+) \S`)
)

// specSections reads the section and subsection numbers of a specification
// and the anchors of its headings, and reports a numbering that skips,
// repeats, or puts a subsection under the wrong section.
func specSections(doc string) (sections map[string]bool, anchors map[string]bool, problems []string) {
	sections = make(map[string]bool)
	anchors = headingAnchors(doc)
	current, next := 0, 0
	inCode := false
	for i, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if inCode {
			continue
		}
		if m := sectionRE.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			if n != current+1 {
				problems = append(problems, fmt.Sprintf("line %d: section %d follows section %d", i+1, n, current))
			}
			current, next = n, 1
			sections[m[1]] = true
			continue
		}
		if m := subsectionRE.FindStringSubmatch(line); m != nil {
			sec, _ := strconv.Atoi(m[1])
			sub, _ := strconv.Atoi(m[2])
			if sec != current || sub != next {
				problems = append(problems, fmt.Sprintf("line %d: %s.%s where %d.%d was due", i+1, m[1], m[2], current, next))
			}
			next = sub + 1
			sections[m[1]+"."+m[2]] = true
		}
	}
	return sections, anchors, problems
}

// headingAnchors returns the anchors GitHub gives a document's headings:
// lower case, punctuation dropped, spaces as hyphens, and -1, -2, ... on
// repeats.
func headingAnchors(doc string) map[string]bool {
	anchors := make(map[string]bool)
	seen := make(map[string]int)
	inCode := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		title, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " ")
		if inCode || !ok || !strings.HasPrefix(line, "#") {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(title)) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		slug := b.String()
		if n := seen[slug]; n > 0 {
			seen[slug]++
			slug = fmt.Sprintf("%s-%d", slug, n)
		} else {
			seen[slug] = 1
		}
		anchors[slug] = true
	}
	return anchors
}

// missing returns the references of c that sections lacks.
func (c citation) missing(sections map[string]bool) []string {
	var out []string
	for _, r := range c.refs {
		if !sections[r] {
			out = append(out, r)
		}
	}
	return out
}

func readSpec(t *testing.T) (sections, anchors map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	sections, anchors, problems := specSections(string(data))
	for _, p := range problems {
		t.Errorf("%s: %s", specPath, p)
	}
	return sections, anchors
}

// TestSpecLayout holds docs/spec.md to the pinned section numbers.
func TestSpecLayout(t *testing.T) {
	t.Parallel()
	sections, _ := readSpec(t)
	for sec, subs := range specLayout {
		for sub := 0; sub <= subs+1; sub++ {
			ref := strconv.Itoa(sec)
			if sub > 0 {
				ref += "." + strconv.Itoa(sub)
			}
			if want := sub <= subs; sections[ref] != want {
				t.Errorf("%s: has section %s: %v, want %v", specPath, ref, sections[ref], want)
			}
		}
	}
	if _, extra := sections[strconv.Itoa(len(specLayout)+1)]; extra {
		t.Errorf("%s: has section %d, which specLayout does not pin", specPath, len(specLayout)+1)
	}
}

// TestSpecCitations: every "SPEC x.y" and "SPEC x" anywhere in the
// repository (code, tests, docs, examples, test data) names a section
// docs/spec.md has, so a reader of the repository alone can follow it.
func TestSpecCitations(t *testing.T) {
	t.Parallel()
	sections, _ := readSpec(t)
	count := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while walking, by a concurrent test
		}
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || path == thisFile {
			return nil // this file cites missing sections on purpose
		}
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0 {
			return nil // binary, as git judges it
		}
		for _, c := range citations(string(data)) {
			count++
			for _, r := range c.missing(sections) {
				t.Errorf("%s:%d: %q cites section %s, which %s does not have", path, c.line, c.text, r, specPath)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The repository cites the specification in well over a hundred
	// places; finding few means the walk or the pattern broke.
	if count < 100 {
		t.Errorf("found only %d SPEC citations; is the search broken?", count)
	}
	t.Logf("%d citations checked", count)
}

var linkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestSpecLinks: every Markdown link into docs/spec.md names an anchor it
// has, and every link out of it reaches a file and, if it names one, an
// anchor of that file.
func TestSpecLinks(t *testing.T) {
	t.Parallel()
	_, specAnchors := readSpec(t)
	anchorsOf := map[string]map[string]bool{filepath.Clean(specPath): specAnchors}
	anchors := func(path string) (map[string]bool, error) {
		if a, ok := anchorsOf[path]; ok {
			return a, nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		anchorsOf[path] = headingAnchors(string(data))
		return anchorsOf[path], nil
	}
	var docs []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			docs = append(docs, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	linksIn := 0
	for _, doc := range docs {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		fromSpec := filepath.Clean(doc) == filepath.Clean(specPath)
		for _, m := range linkRE.FindAllStringSubmatch(string(data), -1) {
			target, anchor, _ := strings.Cut(m[1], "#")
			if strings.Contains(target, "://") || strings.HasPrefix(m[1], "mailto:") {
				continue
			}
			path := filepath.Clean(doc)
			if target != "" {
				path = filepath.Join(filepath.Dir(doc), target)
			}
			toSpec := path == filepath.Clean(specPath)
			if !fromSpec && !toSpec {
				continue
			}
			if toSpec && !fromSpec {
				linksIn++
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s: link %s: %v", doc, m[1], err)
				continue
			}
			if anchor == "" || !strings.HasSuffix(path, ".md") {
				continue
			}
			a, err := anchors(path)
			if err != nil {
				t.Fatal(err)
			}
			if !a[anchor] {
				t.Errorf("%s: link %s: %s has no heading with the anchor #%s", doc, m[1], path, anchor)
			}
		}
	}
	if linksIn == 0 {
		t.Errorf("no document links to %s", specPath)
	}
}

// TestCitationParsing pins what counts as a citation, and that a citation
// of a section the specification lacks is caught.
func TestCitationParsing(t *testing.T) {
	t.Parallel()
	sections, _ := readSpec(t)
	const spec = "SP" + "EC "
	tests := []struct {
		text    string
		refs    []string // nil: no citation
		missing []string
	}{
		{text: "decides (SPEC 5.2).", refs: []string{"5.2"}},
		{text: "the names of SPEC 1.", refs: []string{"1"}},
		{text: "templates (SPEC 7.3–7.4)", refs: []string{"7.3", "7.4"}},
		{text: "names (SPEC 1–2)", refs: []string{"1", "2"}},
		{text: "(SPEC 3.1, 4.1): B covers", refs: []string{"3.1", "4.1"}},
		{text: "(SPEC 1.4, 2.2, 5.2)", refs: []string{"1.4", "2.2", "5.2"}},
		{text: "SPEC 9.1's input error", refs: []string{"9.1"}},
		{text: "contract (SPEC\n// 9.3), named", refs: []string{"9.3"}},
		{text: "straight from SPEC\n\t// 3–5.", refs: []string{"3", "5"}},
		{text: "# SPEC 6.2 in a shell comment", refs: []string{"6.2"}},
		{text: "the limits of SPEC 1.2 limits of 1024 bytes", refs: []string{"1.2"}},
		{text: "see SPEC.md and SPECS 3"},
		{text: "the SPEC, cited by section"},
		{text: "INSPEC 3.2"},
		// Citations of sections docs/spec.md lacks, put together here so
		// that the source itself cites nothing missing.
		{text: "a bogus " + spec + "16.1 citation", refs: []string{"16.1"}, missing: []string{"16.1"}},
		{text: spec + "3.9", refs: []string{"3.9"}, missing: []string{"3.9"}},
		{text: spec + "2.1–2.7", refs: []string{"2.1", "2.7"}, missing: []string{"2.7"}},
		{text: spec + "99", refs: []string{"99"}, missing: []string{"99"}},
	}
	for _, tc := range tests {
		cs := citations(tc.text)
		var refs, missing []string
		for _, c := range cs {
			refs = append(refs, c.refs...)
			missing = append(missing, c.missing(sections)...)
		}
		if !slices.Equal(refs, tc.refs) {
			t.Errorf("citations(%q) name %q, want %q", tc.text, refs, tc.refs)
		}
		if !slices.Equal(missing, tc.missing) {
			t.Errorf("citations(%q): missing %q, want %q", tc.text, missing, tc.missing)
		}
	}
}
