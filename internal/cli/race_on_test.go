//go:build race

package cli

// raceOn: the race detector multiplies memory use, so memory bounds are
// not measured under it.
const raceOn = true
