package engine

import (
	"fmt"
	"maps"
	"testing"

	"pgregory.net/rapid"
)

// TestPmapMatchesMap holds the persistent map to a Go map through random
// transactions, and checks the persistence promise: every earlier version
// still reads exactly as it did when it was made (go-immutable-radix's
// test, against a plain map as the reference).
func TestPmapMatchesMap(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		keys := rapid.SliceOfNDistinct(rapid.StringMatching(`[a-z]{0,6}`), 1, 300, rapid.ID[string]).Draw(t, "keys")
		var m pmap[int]
		ref := map[string]int{}
		type version struct {
			m   pmap[int]
			ref map[string]int
		}
		var versions []version
		for txn := range rapid.IntRange(1, 8).Draw(t, "txns") {
			tx := m.txn()
			for op := range rapid.IntRange(0, 200).Draw(t, fmt.Sprintf("ops%d", txn)) {
				k := rapid.SampledFrom(keys).Draw(t, "key")
				if rapid.IntRange(0, 3).Draw(t, "del") == 0 {
					tx.del(k)
					delete(ref, k)
				} else {
					tx.set(k, op)
					ref[k] = op
				}
				if v, ok := tx.get(k); ok != (ref[k] == v && func() bool { _, in := ref[k]; return in }()) {
					t.Fatalf("txn get(%q) = %v, %v; ref %v", k, v, ok, ref[k])
				}
			}
			m = tx.done()
			versions = append(versions, version{m, maps.Clone(ref)})
		}
		for i, v := range versions {
			if v.m.Len() != len(v.ref) {
				t.Fatalf("version %d: Len %d, want %d", i, v.m.Len(), len(v.ref))
			}
			for _, k := range keys {
				got, ok := v.m.get(k)
				want, in := v.ref[k]
				if ok != in || got != want {
					t.Fatalf("version %d: get(%q) = %v, %v; want %v, %v", i, k, got, ok, want, in)
				}
			}
			seen := 0
			v.m.each(func(k string, x int) bool {
				if v.ref[k] != x {
					t.Fatalf("version %d: each gives %q=%v, want %v", i, k, x, v.ref[k])
				}
				seen++
				return true
			})
			if seen != len(v.ref) {
				t.Fatalf("version %d: each visits %d keys, want %d", i, seen, len(v.ref))
			}
		}
	})
}

// TestPvecMatchesSlice does the same for the persistent vector.
func TestPvecMatchesSlice(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		var v pvec[int]
		var ref []int
		type version struct {
			v   pvec[int]
			ref []int
		}
		var versions []version
		for txn := range rapid.IntRange(1, 6).Draw(t, "txns") {
			tx := v.txn()
			for op := range rapid.IntRange(0, 700).Draw(t, fmt.Sprintf("ops%d", txn)) {
				if len(ref) == 0 || rapid.Bool().Draw(t, "push") {
					if i := tx.push(op); i != len(ref) {
						t.Fatalf("push returned %d, want %d", i, len(ref))
					}
					ref = append(ref, op)
					continue
				}
				i := rapid.IntRange(0, len(ref)-1).Draw(t, "index")
				tx.set(i, -op)
				ref[i] = -op
			}
			v = tx.done()
			versions = append(versions, version{v, append([]int(nil), ref...)})
		}
		for n, ver := range versions {
			if ver.v.Len() != len(ver.ref) {
				t.Fatalf("version %d: Len %d, want %d", n, ver.v.Len(), len(ver.ref))
			}
			for i, want := range ver.ref {
				if got := ver.v.at(i); got != want {
					t.Fatalf("version %d: at(%d) = %d, want %d", n, i, got, want)
				}
			}
		}
	})
}

func TestPmapZero(t *testing.T) {
	t.Parallel()
	var m pmap[string]
	if v, ok := m.get("x"); ok || v != "" || m.Len() != 0 {
		t.Fatal("zero pmap holds something")
	}
	m.each(func(string, string) bool { t.Fatal("zero pmap iterates"); return false })
	tx := m.txn()
	tx.del("absent")
	if m2 := tx.done(); m2.Len() != 0 || m2.root != nil {
		t.Fatal("deleting an absent key made nodes")
	}
}

// TestPmapCrowdedLeaves fills the map far past one key a leaf, so leaves
// hold many sorted keys, and checks every read after inserts and deletes.
func TestPmapCrowdedLeaves(t *testing.T) {
	t.Parallel()
	const n = 300000
	var m pmap[int]
	tx := m.txn()
	for i := range n {
		tx.set(fmt.Sprintf("user%d", i), i)
	}
	full := tx.done()
	tx = full.txn()
	for i := 0; i < n; i += 2 {
		tx.del(fmt.Sprintf("user%d", i))
	}
	half := tx.done()
	if full.Len() != n || half.Len() != n/2 {
		t.Fatalf("Len %d and %d", full.Len(), half.Len())
	}
	for i := range n {
		k := fmt.Sprintf("user%d", i)
		if v, ok := full.get(k); !ok || v != i {
			t.Fatalf("full.get(%q) = %v, %v", k, v, ok)
		}
		if v, ok := half.get(k); ok != (i%2 == 1) || (ok && v != i) {
			t.Fatalf("half.get(%q) = %v, %v", k, v, ok)
		}
	}
}

// BenchmarkPmapGet looks up random keys of a million-key map, as a
// decision does a name's data.
func BenchmarkPmapGet(b *testing.B) {
	const n = 1000000
	var m pmap[int]
	tx := m.txn()
	keys := make([]string, n)
	for i := range n {
		keys[i] = fmt.Sprintf("user%d", i)
		tx.set(keys[i], i)
	}
	m = tx.done()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := m.get(keys[(i*7919)%n]); !ok {
			b.Fatal("missing")
		}
		i++
	}
}

// BenchmarkMapGet is BenchmarkPmapGet on a Go map, for scale.
func BenchmarkMapGet(b *testing.B) {
	const n = 1000000
	m := make(map[string]int, n)
	keys := make([]string, n)
	for i := range n {
		keys[i] = fmt.Sprintf("user%d", i)
		m[keys[i]] = i
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := m[keys[(i*7919)%n]]; !ok {
			b.Fatal("missing")
		}
		i++
	}
}
