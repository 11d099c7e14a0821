package cli

import (
	"fmt"
	"strconv"
	"strings"
)

// byteSize is a flag holding a size in bytes: a whole number, optionally
// with a unit B, KiB, MiB or GiB (powers of 1024; KB, MB and GB are taken
// as the same, as operators mean them). It must be at least 1 MiB, so a
// typo cannot stall a server, and at most 1 TiB.
type byteSize int64

const (
	minByteSize = 1 << 20
	maxByteSize = 1 << 40
)

func (b *byteSize) String() string {
	v := int64(*b)
	switch {
	case v != 0 && v%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", v>>30)
	case v != 0 && v%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", v>>20)
	case v != 0 && v%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", v>>10)
	}
	return strconv.FormatInt(v, 10)
}

func (b *byteSize) Type() string { return "bytes" }

func (b *byteSize) Set(s string) error {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') {
		i--
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	var mul int64
	switch unit {
	case "", "b":
		mul = 1
	case "k", "kb", "kib":
		mul = 1 << 10
	case "m", "mb", "mib":
		mul = 1 << 20
	case "g", "gb", "gib":
		mul = 1 << 30
	default:
		return fmt.Errorf("%q: unknown unit %q (want B, KiB, MiB or GiB)", s, t[i:])
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%q: want a whole number of bytes, such as 64MiB", s)
	}
	if n > maxByteSize/mul || n*mul > maxByteSize {
		return fmt.Errorf("%q: over the limit of 1TiB", s)
	}
	if n*mul < minByteSize {
		return fmt.Errorf("%q: under the least of 1MiB", s)
	}
	*b = byteSize(n * mul)
	return nil
}
