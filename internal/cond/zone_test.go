package cond

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
)

// TestZoneAccessorsMatchCEL: every accessor with a zone gives what CEL's
// own gives, value or error, for IANA names, offsets and bad zones, and
// a zone asked for again comes from the cache with the same answer.
func TestZoneAccessorsMatchCEL(t *testing.T) {
	t.Parallel()
	vars := []cel.EnvOption{cel.Variable("now", cel.TimestampType), cel.Variable("tz", cel.StringType)}
	stock, err := cel.NewEnv(vars...)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := cel.NewEnv(append(vars, zoneFunctions()...)...)
	if err != nil {
		t.Fatal(err)
	}
	accessors := []string{"getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate", "getDayOfWeek", "getHours", "getMinutes", "getSeconds", "getMilliseconds"}
	zonesTried := []string{
		"UTC", "Europe/Paris", "America/Los_Angeles", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham",
		"-08:00", "+05:30", "05:30", "00:00", "-00:30", "+23:59",
		"", "Local", "Nowhere/Atlantis", "../etc/passwd", "24:00", "+05:60", "x:00", "05:x", "+5:3",
	}
	times := []time.Time{
		time.Date(2026, 3, 29, 0, 59, 59, 999_000_000, time.UTC), // an hour before Paris moves its clocks
		time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC),
		time.Date(2023, 12, 31, 23, 30, 0, 123_456_789, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, acc := range accessors {
		expr := fmt.Sprintf("now.%s(tz)", acc)
		var progs [2]cel.Program
		for i, env := range []*cel.Env{stock, ours} {
			ast, iss := env.Compile(expr)
			if iss.Err() != nil {
				t.Fatal(iss.Err())
			}
			if progs[i], err = env.Program(ast); err != nil {
				t.Fatal(err)
			}
		}
		for _, tz := range zonesTried {
			for _, at := range times {
				for round := range 2 { // the second round reads the cache
					in := map[string]any{"now": at, "tz": tz}
					want, _, werr := progs[0].Eval(in)
					got, _, gerr := progs[1].Eval(in)
					if fmt.Sprint(want, werr) != fmt.Sprint(got, gerr) {
						t.Errorf("round %d: %s with tz %q at %v: got %v, %v; CEL gives %v, %v", round, acc, tz, at, got, gerr, want, werr)
					}
				}
			}
		}
	}
	// The table reaches both outcomes: a zone that moves the hour, and
	// one CEL refuses.
	ast, _ := ours.Compile("now.getHours(tz)")
	prog, _ := ours.Program(ast)
	paris, _, err := prog.Eval(map[string]any{"now": times[1], "tz": "Europe/Paris"})
	if err != nil || paris.Value() != int64(3) {
		t.Errorf("Europe/Paris at 01:00 UTC after the change: %v, %v; want 3", paris, err)
	}
	if _, _, err := prog.Eval(map[string]any{"now": times[1], "tz": "Nowhere/Atlantis"}); err == nil {
		t.Error("an unknown zone was accepted")
	}
}

// TestZoneCacheBounded: zone names from requests cannot grow the cache
// past its bounds. Offsets are kept by the offset they name, however
// spelled; a name over the length bound or spelled unlike the database's
// names is answered, not kept; and the count holds under racing lookups.
func TestZoneCacheBounded(t *testing.T) {
	t.Parallel()
	var c zoneCache
	size := func(m *sync.Map) (n int) {
		m.Range(func(any, any) bool { n++; return true })
		return n
	}
	for _, spelling := range []string{"+05:30", "5:30", "05:30", "+0005:30", "+5:030", "0000000005:0000030"} {
		l, err := c.get(spelling)
		if err != nil {
			t.Fatal(spelling, err)
		}
		if _, off := time.Date(2026, 1, 1, 0, 0, 0, 0, l).Zone(); off != 5*3600+30*60 {
			t.Errorf("%q is %d s east of UTC", spelling, off)
		}
	}
	if n := size(&c.offsets); n != 1 {
		t.Errorf("six spellings of one offset kept as %d", n)
	}
	for _, name := range []string{"Europe//Paris", "Europe/Paris/", "/Europe/Paris", "Europe/Paris ", strings.Repeat("A/", 40) + "B"} {
		c.get(name) // an error or a zone: either way, not kept
		if _, ok := c.names.Load(name); ok {
			t.Errorf("%q was kept", name)
		}
	}
	if _, err := c.get("Europe/Paris"); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.names.Load("Europe/Paris"); !ok {
		t.Error("Europe/Paris was not kept")
	}
	// Racing lookups of more zones than the bound allows.
	var full zoneCache
	full.count.Store(maxZones - 4)
	var wg sync.WaitGroup
	for _, name := range []string{"Asia/Tokyo", "Asia/Kolkata", "America/New_York", "America/Chicago", "Africa/Lagos", "Australia/Sydney", "Europe/Berlin", "Europe/Madrid"} {
		for range 4 {
			wg.Go(func() { full.get(name) })
		}
	}
	wg.Wait()
	if n := full.count.Load(); n > maxZones {
		t.Errorf("count %d, over the bound of %d", n, maxZones)
	}
	if n := size(&full.names); n > 4 {
		t.Errorf("%d names kept past a bound that left room for 4", n)
	}
}
