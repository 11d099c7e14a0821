package cond

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// Type is the declared type of a context attribute (SPEC 12.1). The zero
// Type is no type: NewEnv refuses it.
type Type uint8

const (
	String Type = iota + 1
	Int
	Double
	Bool
	Timestamp
	Duration
	IP
	StringList
)

var typeNames = [...]string{
	String: "string", Int: "int", Double: "double", Bool: "bool",
	Timestamp: "timestamp", Duration: "duration", IP: "ip", StringList: "list<string>",
}

// TypeNames lists the types a [context] attribute may have, in the order
// the documentation gives them.
func TypeNames() []string {
	out := make([]string, 0, len(typeNames)-1)
	for _, n := range typeNames[1:] {
		out = append(out, n)
	}
	return out
}

func (t Type) String() string {
	if t == 0 || int(t) >= len(typeNames) {
		return fmt.Sprintf("Type(%d)", uint8(t))
	}
	return typeNames[t]
}

// ParseType reads a type name as [context] writes it.
func ParseType(s string) (Type, bool) {
	for t, n := range typeNames {
		if t > 0 && n == s {
			return Type(t), true
		}
	}
	return 0, false
}

func (t Type) cel() *cel.Type {
	switch t {
	case String:
		return cel.StringType
	case Int:
		return cel.IntType
	case Double:
		return cel.DoubleType
	case Bool:
		return cel.BoolType
	case Timestamp:
		return cel.TimestampType
	case Duration:
		return cel.DurationType
	case IP:
		return ipType
	case StringList:
		return cel.ListType(cel.StringType)
	}
	return cel.DynType
}

// Bounds on context values, so a condition's worst-case cost can be
// estimated, and memory is bounded in bytes: a request is at most 1 MiB on
// the wire, and these keep the Go API to the same.
const (
	// MaxValueBytes bounds a string value, and all the strings of a
	// list<string> together.
	MaxValueBytes = 1 << 20
	// MaxListLen bounds the elements of a list<string>.
	MaxListLen = 1 << 16
)

// Timestamps and durations are CEL's: a timestamp lies in the years 0001
// to 9999, a duration within what a Go time.Duration holds.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// convert turns a Go value into the CEL value of type t, or says why it
// cannot: the one definition of what a context value may be (SPEC 12.4).
// Values come from JSON (strings, bools, json.Number, []any) or from Go
// callers (native types).
func convert(t Type, v any) (ref.Val, error) {
	switch t {
	case String:
		s, ok := v.(string)
		if !ok {
			return nil, wrongType(t, v)
		}
		if len(s) > MaxValueBytes {
			return nil, fmt.Errorf("a string of %d bytes, over the limit of %d", len(s), MaxValueBytes)
		}
		return types.String(s), nil
	case Int:
		n, err := toInt(v)
		if err != nil {
			return nil, err
		}
		return types.Int(n), nil
	case Double:
		f, err := toDouble(v)
		if err != nil {
			return nil, err
		}
		return types.Double(f), nil
	case Bool:
		b, ok := v.(bool)
		if !ok {
			return nil, wrongType(t, v)
		}
		return types.Bool(b), nil
	case Timestamp:
		var ts time.Time
		switch x := v.(type) {
		case time.Time:
			ts = x
		case string:
			var err error
			if ts, err = time.Parse(time.RFC3339Nano, x); err != nil {
				return nil, fmt.Errorf("want an RFC 3339 timestamp such as \"2026-01-02T15:04:05Z\", found %q", short(x))
			}
		default:
			return nil, wrongType(t, v)
		}
		if ts.Before(minTime) || ts.After(maxTime) {
			return nil, fmt.Errorf("timestamp %s is outside the years 0001 to 9999", ts.Format(time.RFC3339Nano))
		}
		return types.Timestamp{Time: ts}, nil
	case Duration:
		switch x := v.(type) {
		case time.Duration:
			return types.Duration{Duration: x}, nil
		case string:
			d, err := time.ParseDuration(x)
			if err != nil {
				return nil, fmt.Errorf("want a duration such as \"90s\" or \"1h30m\", found %q", short(x))
			}
			return types.Duration{Duration: d}, nil
		}
		return nil, wrongType(t, v)
	case IP:
		var a netip.Addr
		switch x := v.(type) {
		case netip.Addr:
			a = x
		case string:
			var err error
			if a, err = netip.ParseAddr(x); err != nil {
				return nil, fmt.Errorf("want an IP address such as \"10.1.2.3\" or \"2001:db8::1\", found %q", short(x))
			}
		default:
			return nil, wrongType(t, v)
		}
		if !a.IsValid() {
			return nil, fmt.Errorf("want an IP address, found the zero netip.Addr")
		}
		if a.Zone() != "" {
			return nil, fmt.Errorf("IP address %q has a zone; want one without", a)
		}
		return ipVal{a}, nil
	case StringList:
		var elems []string
		switch x := v.(type) {
		case []string:
			elems = x
		case []any:
			elems = make([]string, len(x))
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("element %d: %w", i, wrongType(String, e))
				}
				elems[i] = s
			}
		default:
			return nil, wrongType(t, v)
		}
		if len(elems) > MaxListLen {
			return nil, fmt.Errorf("a list of %d strings, over the limit of %d", len(elems), MaxListLen)
		}
		total := 0
		for _, s := range elems {
			total += len(s)
		}
		if total > MaxValueBytes {
			return nil, fmt.Errorf("a list of %d bytes of strings, over the limit of %d", total, MaxValueBytes)
		}
		return types.NewStringList(types.DefaultTypeAdapter, elems), nil
	}
	return nil, fmt.Errorf("unknown type %v", t)
}

// toInt accepts Go integers, JSON numbers that are integers, and floats
// that hold an integer exactly, within int64.
func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case uint:
		return uintToInt(uint64(x))
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		return uintToInt(x)
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("want an integer within 64 bits, found %s", short(string(x)))
		}
		return n, nil
	case float64:
		return floatToInt(x)
	case float32:
		return floatToInt(float64(x))
	}
	return 0, wrongType(Int, v)
}

func uintToInt(u uint64) (int64, error) {
	if u > math.MaxInt64 {
		return 0, fmt.Errorf("want an integer within 64 bits, found %d", u)
	}
	return int64(u), nil
}

func floatToInt(f float64) (int64, error) {
	// 2^63 is exactly representable; every float below it in magnitude
	// that is an integer converts exactly.
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, fmt.Errorf("want an integer within 64 bits, found %v", f)
	}
	return int64(f), nil
}

// toDouble accepts Go floats and integers and JSON numbers; NaN and the
// infinities are refused, since every comparison with NaN is false and a
// deny such as `context.amount > 1000` would then fail open.
func toDouble(v any) (float64, error) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(x), 64); err != nil {
			return 0, fmt.Errorf("want a finite number, found %s", short(string(x)))
		}
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		n, err := toInt(x)
		if err != nil {
			return 0, err
		}
		f = float64(n)
	default:
		return 0, wrongType(Double, v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("want a finite number, found %v", f)
	}
	return f, nil
}

func wrongType(t Type, v any) error {
	return fmt.Errorf("want %s, found %s", article(t), describe(v))
}

func article(t Type) string {
	switch t {
	case Int, IP:
		return "an " + t.String()
	case StringList:
		return "a list of strings"
	}
	return "a " + t.String()
}

// describe names a value's kind the way a JSON writer thinks of it.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "a number"
	case []any, []string:
		return "an array"
	case map[string]any:
		return "an object"
	case time.Time:
		return "a time.Time"
	case time.Duration:
		return "a time.Duration"
	case netip.Addr:
		return "a netip.Addr"
	default:
		return fmt.Sprintf("a %T", x)
	}
}

func short(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// infer converts a Go value of a dynamic context (rules built in code,
// which declare no types) by its own type.
func infer(v any) (ref.Val, error) {
	switch x := v.(type) {
	case string:
		return convert(String, x)
	case bool:
		return types.Bool(x), nil
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return convert(Int, x)
	case float32, float64:
		return convert(Double, x)
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return types.Int(n), nil
		}
		return convert(Double, x)
	case time.Time:
		return convert(Timestamp, x)
	case time.Duration:
		return convert(Duration, x)
	case netip.Addr:
		return convert(IP, x)
	case []string, []any:
		return convert(StringList, x)
	}
	return nil, fmt.Errorf("%s is not a context value (want a string, number, boolean, time.Time, time.Duration, netip.Addr or list of strings)", describe(v))
}
