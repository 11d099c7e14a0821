package cond

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// The time-zone forms of CEL's timestamp accessors, such as
// now.getHours("Europe/Paris"), rebound to find each zone once. CEL's
// standard library calls time.LoadLocation at every evaluation, which
// opens, reads and parses the zone's file: tens of microseconds, and a
// file system access, inside every decision of an office-hours rule.
// The results and the errors are CEL's own (TestZoneAccessorsMatchCEL).

// zoneCache keeps the zones conditions name. Offsets such as "-08:00" are
// kept by the offset they name, at most 2 × 1,439 + 1 of them. Names are
// kept only when the zone database knows them and they are spelled plainly
// (letters, digits, '_', '+', '-' and single '/' between parts), so that
// one zone has one key; the database has a bounded number of those, and
// the count is bounded besides. Zone names taken from request contexts
// therefore cannot grow it: a name it will not keep is looked up at each
// evaluation, as CEL does. A zone, once kept, is not read again while the
// process runs. The zero zoneCache is empty and ready; it is safe for
// concurrent use.
type zoneCache struct {
	names   sync.Map // string -> *time.Location
	count   atomic.Int32
	offsets sync.Map // int (seconds east of UTC) -> *time.Location
}

const (
	maxZones       = 2048
	maxZoneNameLen = 64
)

var zones zoneCache

func zone(name string) (*time.Location, error) { return zones.get(name) }

func (c *zoneCache) get(name string) (*time.Location, error) {
	if l, ok := c.names.Load(name); ok {
		return l.(*time.Location), nil
	}
	if strings.Contains(name, ":") {
		secs, err := parseOffset(name)
		if err != nil {
			return nil, err
		}
		if l, ok := c.offsets.Load(secs); ok {
			return l.(*time.Location), nil
		}
		l, _ := c.offsets.LoadOrStore(secs, time.FixedZone("", secs))
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	if plainZoneName(name) {
		// Reserve a place first, so that racing lookups cannot pass
		// the bound together.
		if c.count.Add(1) > maxZones {
			c.count.Add(-1)
		} else if _, loaded := c.names.LoadOrStore(name, l); loaded {
			c.count.Add(-1)
		}
	}
	return l, nil
}

// plainZoneName reports whether name is spelled as the zone database
// spells its zones, and is short enough to keep.
func plainZoneName(name string) bool {
	if name == "" || len(name) > maxZoneNameLen {
		return false
	}
	prev := byte('/')
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '/':
			if prev == '/' {
				return false
			}
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '+', c == '-':
		default:
			return false
		}
		prev = c
	}
	return prev != '/'
}

// parseOffset reads a numerical offset from UTC as CEL does ("-08:00",
// "5:30") and returns it in seconds east of UTC, with CEL's errors.
func parseOffset(val string) (int, error) {
	ind := strings.Index(val, ":")
	hr, err := strconv.Atoi(val[:ind])
	if err != nil {
		return 0, err
	}
	min, err := strconv.Atoi(val[ind+1:])
	if err != nil {
		return 0, err
	}
	if hr < -23 || hr > 23 {
		return 0, fmt.Errorf("timezone offset hours out of range [-23, 23]: %s", val)
	}
	if min < 0 || min > 59 {
		return 0, fmt.Errorf("timezone offset minutes out of range [0, 59]: %s", val)
	}
	offset := hr*60 + min
	if val[0] == '-' {
		offset = hr*60 - min
	}
	return int((time.Duration(offset) * time.Minute).Seconds()), nil
}

// zoneFunctions rebinds every accessor that takes a zone; the overloads
// keep CEL's ids and signatures, so type checking is unchanged.
func zoneFunctions() []cel.EnvOption {
	accessors := []struct {
		function, overload string
		get                func(time.Time) int
	}{
		{overloads.TimeGetFullYear, overloads.TimestampToYearWithTz, func(t time.Time) int { return t.Year() }},
		{overloads.TimeGetMonth, overloads.TimestampToMonthWithTz, func(t time.Time) int { return int(t.Month()) - 1 }},
		{overloads.TimeGetDayOfYear, overloads.TimestampToDayOfYearWithTz, func(t time.Time) int { return t.YearDay() - 1 }},
		{overloads.TimeGetDayOfMonth, overloads.TimestampToDayOfMonthZeroBasedWithTz, func(t time.Time) int { return t.Day() - 1 }},
		{overloads.TimeGetDate, overloads.TimestampToDayOfMonthOneBasedWithTz, func(t time.Time) int { return t.Day() }},
		{overloads.TimeGetDayOfWeek, overloads.TimestampToDayOfWeekWithTz, func(t time.Time) int { return int(t.Weekday()) }},
		{overloads.TimeGetHours, overloads.TimestampToHoursWithTz, func(t time.Time) int { return t.Hour() }},
		{overloads.TimeGetMinutes, overloads.TimestampToMinutesWithTz, func(t time.Time) int { return t.Minute() }},
		{overloads.TimeGetSeconds, overloads.TimestampToSecondsWithTz, func(t time.Time) int { return t.Second() }},
		{overloads.TimeGetMilliseconds, overloads.TimestampToMillisecondsWithTz, func(t time.Time) int { return t.Nanosecond() / int(time.Millisecond) }},
	}
	opts := make([]cel.EnvOption, 0, len(accessors))
	for _, a := range accessors {
		get := a.get
		opts = append(opts, cel.Function(a.function,
			cel.MemberOverload(a.overload, []*cel.Type{cel.TimestampType, cel.StringType}, cel.IntType,
				cel.BinaryBinding(func(ts, tz ref.Val) ref.Val {
					t, ok := ts.(types.Timestamp)
					if !ok {
						return types.MaybeNoSuchOverloadErr(ts)
					}
					name, ok := tz.(types.String)
					if !ok {
						return types.MaybeNoSuchOverloadErr(tz)
					}
					loc, err := zone(string(name))
					if err != nil {
						return types.NewErrFromString(err.Error())
					}
					return types.Int(get(t.In(loc)))
				}))))
	}
	return opts
}
