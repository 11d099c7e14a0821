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

// zones caches the zones conditions name. It is bounded in count and by
// the length of a name, so that zone names taken from request contexts
// cannot grow it: a name past either bound is looked up every time, as
// CEL would.
var (
	zones     sync.Map // string -> *time.Location
	zoneCount atomic.Int32
)

const (
	maxZones       = 1024
	maxZoneNameLen = 64
)

func zone(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := parseZone(name)
	if err != nil {
		return nil, err
	}
	if len(name) <= maxZoneNameLen && zoneCount.Load() < maxZones {
		if _, loaded := zones.LoadOrStore(name, l); !loaded {
			zoneCount.Add(1)
		}
	}
	return l, nil
}

// parseZone reads a zone as CEL does: an IANA name, or a numerical offset
// from UTC such as "-08:00".
func parseZone(val string) (*time.Location, error) {
	ind := strings.Index(val, ":")
	if ind == -1 {
		return time.LoadLocation(val)
	}
	hr, err := strconv.Atoi(val[:ind])
	if err != nil {
		return nil, err
	}
	min, err := strconv.Atoi(val[ind+1:])
	if err != nil {
		return nil, err
	}
	if hr < -23 || hr > 23 {
		return nil, fmt.Errorf("timezone offset hours out of range [-23, 23]: %s", val)
	}
	if min < 0 || min > 59 {
		return nil, fmt.Errorf("timezone offset minutes out of range [0, 59]: %s", val)
	}
	offset := hr*60 + min
	if val[0] == '-' {
		offset = hr*60 - min
	}
	return time.FixedZone("", int((time.Duration(offset) * time.Minute).Seconds())), nil
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
