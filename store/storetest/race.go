//go:build race

package storetest

// raceEnabled: the race detector slows a store written in transpiled C
// (modernc.org/sqlite) tenfold, so checks that run no goroutines against
// each other do less under it; they run in full without -race.
const raceEnabled = true
