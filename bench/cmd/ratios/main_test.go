package main

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkDecide/workload=acl/engine=warden-2   	 1000	       100.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkDecide/workload=acl/engine=casbin-2   	 1000	     10000 ns/op	    1455 B/op	      17 allocs/op
BenchmarkDecide/workload=acl/engine=warden-2   	 1000	       300.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkDecide/workload=acl/engine=casbin-2   	 1000	     20000 ns/op	    1455 B/op	      17 allocs/op
BenchmarkDecide/workload=acl/engine=warden-2   	 1000	       200.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkLoad/workload=rbac-large/engine=warden-2 1 1.5e+08 ns/op 25.0 heap-MB 150 ms/load
BenchmarkLoad/workload=rbac-large/engine=casbin-2 1 3.0e+08 ns/op 50.0 heap-MB 300 ms/load
PASS
`

func TestParseMedianRatio(t *testing.T) {
	t.Parallel()
	res, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		k            key
		engine, unit string
		median       float64
		ratio        float64
	}{
		{"odd count", key{"Decide", "acl"}, "warden", "ns/op", 200, 0},
		{"even count", key{"Decide", "acl"}, "casbin", "ns/op", 15000, 75},
		{"heap", key{"Load", "rbac-large"}, "casbin", "heap-MB", 50, 2},
		{"scientific notation", key{"Load", "rbac-large"}, "casbin", "ns/op", 3e8, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, ok := res.Median(tt.k, tt.engine, tt.unit)
			if !ok || m != tt.median {
				t.Errorf("Median = %v, %v; want %v", m, ok, tt.median)
			}
			if tt.engine == "warden" {
				return
			}
			r, ok := res.Ratio(tt.k, tt.engine, tt.unit)
			if !ok || r != tt.ratio {
				t.Errorf("Ratio = %v, %v; want %v", r, ok, tt.ratio)
			}
		})
	}
	if _, ok := res.Median(key{"Decide", "acl"}, "cedar", "ns/op"); ok {
		t.Error("Median of an engine never measured reported a value")
	}
	if _, ok := res.Ratio(key{"Decide", "rbac5"}, "casbin", "ns/op"); ok {
		t.Error("Ratio of a workload never measured reported a value")
	}
}

func TestWriteAndCheck(t *testing.T) {
	t.Parallel()
	res, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res.Write(&out)
	missed := res.Check(&out)
	for _, want := range []string{
		"| acl | 200.0 ns | 15.00 µs | 75.0× |",
		"| rbac-large | 25.0 MiB | 50.0 MiB | 2.00× |",
		"- Load rbac-large, heap-MB: warden ≥ 1.00× better than casbin: met (2.00×)",
		"- Decide rbac-large, ns/op: warden ≥ 1000× better than casbin: not measured",
		"decide benchmark: met",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if missed != 0 {
		t.Errorf("Check missed %d targets, want 0", missed)
	}
	slow := strings.NewReader("BenchmarkDecide/workload=acl/engine=warden-2 1 500 ns/op\nBenchmarkDecide/workload=acl/engine=cedar-2 1 400 ns/op\n")
	res, err = Parse(slow)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if missed := res.Check(&out); missed != 1 || !strings.Contains(out.String(), "MISSED on Decide acl against cedar (0.80×)") {
		t.Errorf("Check = %d:\n%s", missed, out.String())
	}
}

func TestParseHostile(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, input string }{
		{"no engine", "BenchmarkDecide/workload=acl-2 1 100 ns/op\n"},
		{"no workload key", "BenchmarkDecide/acl/engine=warden-2 1 100 ns/op\n"},
		{"too many levels", "BenchmarkDecide/workload=acl/engine=warden/x-2 1 100 ns/op\n"},
		{"empty engine", "BenchmarkDecide/workload=acl/engine=-2 1 100 ns/op\n"},
		{"empty benchmark", "Benchmark/workload=acl/engine=warden-2 1 100 ns/op\n"},
		{"bad count", "BenchmarkDecide/workload=acl/engine=warden-2 x 100 ns/op\n"},
		{"bad value", "BenchmarkDecide/workload=acl/engine=warden-2 1 fast ns/op\n"},
		{"negative value", "BenchmarkDecide/workload=acl/engine=warden-2 1 -5 ns/op\n"},
		{"NaN", "BenchmarkDecide/workload=acl/engine=warden-2 1 NaN ns/op\n"},
		{"Inf", "BenchmarkDecide/workload=acl/engine=warden-2 1 +Inf ns/op\n"},
		{"value without unit", "BenchmarkDecide/workload=acl/engine=warden-2 1 100 ns/op 5\n"},
		{"count only", "BenchmarkDecide/workload=acl/engine=warden-2 1\n"},
		{"overlong line", "BenchmarkDecide/workload=acl/engine=warden-2 1 " + strings.Repeat("9", 2<<20) + " ns/op\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Parse(strings.NewReader(tt.input)); err == nil {
				t.Errorf("Parse accepted %.80q", tt.input)
			} else if !strings.Contains(err.Error(), "line 1") {
				t.Errorf("error %q does not name the line", err)
			}
		})
	}
}

func TestParseIgnoresOtherLines(t *testing.T) {
	t.Parallel()
	in := "goos: linux\ncpu: AMD EPYC\nBenchmarkDecide/workload=acl/engine=warden\n--- FAIL: x\nPASS\nok  pkg 1s\n"
	res, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.keys) != 0 {
		t.Errorf("got results %v from lines without measurements", res.keys)
	}
}

// FuzzParse: any input either fails with an error naming a line, or
// yields medians that lie between the smallest and largest value read.
func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("BenchmarkX/workload=a/engine=b-4 3 1e3 ns/op 2 heap-MB\n")
	f.Add("Benchmark\n")
	f.Fuzz(func(t *testing.T, in string) {
		res, err := Parse(strings.NewReader(in))
		if err != nil {
			if !strings.Contains(err.Error(), "line ") {
				t.Fatalf("error %q names no line", err)
			}
			return
		}
		for k, byEngine := range res.values {
			for e, byUnit := range byEngine {
				for u, vs := range byUnit {
					m, ok := res.Median(k, e, u)
					if !ok {
						t.Fatalf("no median for %v %s %s with %d values", k, e, u, len(vs))
					}
					lo, hi := vs[0], vs[0]
					for _, v := range vs {
						lo, hi = min(lo, v), max(hi, v)
					}
					if m < lo || m > hi {
						t.Fatalf("median %v outside [%v, %v]", m, lo, hi)
					}
				}
			}
		}
		var out bytes.Buffer
		res.Write(&out)
		res.Check(&out)
	})
}
