package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/warden-authz/warden/store"
)

func TestCursor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		added store.Revision
		index int
	}{{1, 0}, {1, 9999}, {42, 7}, {1<<64 - 1, 0}} {
		s := store.Cursor(c.added, c.index)
		a, i, err := store.ParseCursor(s)
		if err != nil || a != c.added || i != c.index {
			t.Errorf("ParseCursor(Cursor(%d, %d) = %q) = %d, %d, %v", c.added, c.index, s, a, i, err)
		}
	}
}

// Every string that is not a cursor List could return is refused with
// ErrInvalid, never read as some other position.
func TestParseCursorHostile(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"", ".", "1", "1.", ".1", "0.0", "0.5", "01.2", "1.02", "1.2.3", "-1.2", "+1.2", "1.-2",
		" 1.2", "1.2 ", "1 .2", "1,2", "1:2", "a.b", "1.x", "18446744073709551616.0", "1.10000",
		"1.4294967296", "1.99999999999999999999", "１.２", "1\x00.2", "1.2\n", strings.Repeat("9", 100) + ".1",
	} {
		if a, i, err := store.ParseCursor(s); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("ParseCursor(%q) = %d, %d, %v; want ErrInvalid", s, a, i, err)
		}
	}
}

func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"1.0", "42.9999", "0.1", "01.1", "1.2.3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, i, err := store.ParseCursor(s)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("ParseCursor(%q): %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		// One spelling per position: what parses prints back the same.
		if back := store.Cursor(a, i); back != s {
			t.Fatalf("ParseCursor(%q) = %d, %d, which prints as %q", s, a, i, back)
		}
		if a == 0 || i < 0 || i >= store.MaxBatch {
			t.Fatalf("ParseCursor(%q) = %d, %d: out of range", s, a, i)
		}
	})
}

func TestFilterCheck(t *testing.T) {
	t.Parallel()
	good := []store.Filter{
		{}, {Member: "alice"}, {Group: "team:a", Kind: store.Memberships}, {Resource: "doc:1", Rule: "rules.shares", Subject: "bob"},
		{Kind: store.Grants, Limit: store.MaxLimit, After: "3.4"},
	}
	for _, f := range good {
		if err := f.Check(); err != nil {
			t.Errorf("%+v: %v", f, err)
		}
	}
	bad := []struct {
		f    store.Filter
		want string
	}{
		{store.Filter{Member: "*"}, "member"},
		{store.Filter{Group: "a,b"}, "group"},
		{store.Filter{Resource: "doc:*"}, "resource"},
		{store.Filter{Rule: "rules. x"}, "rule"},
		{store.Filter{Subject: "a\x00"}, "subject"},
		{store.Filter{Subject: "\xff"}, "subject"},
		{store.Filter{Member: strings.Repeat("a", 1025)}, "member"},
		{store.Filter{Kind: 3}, "kind"},
		{store.Filter{Limit: -1}, "limit"},
		{store.Filter{Limit: store.MaxLimit + 1}, "limit"},
		{store.Filter{After: "x"}, "cursor"},
		{store.Filter{After: "0.0"}, "cursor"},
	}
	for _, c := range bad {
		err := c.f.Check()
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v; want ErrInvalid naming %q", c.f, err, c.want)
		}
	}
}
