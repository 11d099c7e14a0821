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

// native is a context value checked and converted to Go, not yet boxed
// as a CEL value: checking a request's context (every request) builds
// these on the stack, and only a condition that reads a value boxes it.
type native struct {
	s    string
	i    int64
	f    float64
	b    bool
	t    time.Time
	d    time.Duration
	a    netip.Addr
	list []string
	anys []any
}

// convert turns a Go value into the CEL value of type t, or says why it
// cannot.
func convert(t Type, v any) (ref.Val, error) {
	n, err := check(t, v)
	if err != nil {
		return nil, err
	}
	switch t {
	case String:
		return types.String(n.s), nil
	case Int:
		return types.Int(n.i), nil
	case Double:
		return types.Double(n.f), nil
	case Bool:
		return types.Bool(n.b), nil
	case Timestamp:
		return types.Timestamp{Time: n.t}, nil
	case Duration:
		return types.Duration{Duration: n.d}, nil
	case IP:
		return ipVal{n.a}, nil
	}
	if n.list == nil {
		n.list = make([]string, len(n.anys))
		for i, e := range n.anys {
			n.list[i] = e.(string)
		}
	}
	return types.NewStringList(types.DefaultTypeAdapter, n.list), nil
}

// check is the one definition of what a context value of type t may be
// (SPEC 12.4). Values come from JSON (strings, bools, json.Number, []any)
// or from Go callers (native types).
func check(t Type, v any) (n native, err error) {
	switch t {
	case String:
		s, ok := v.(string)
		if !ok {
			return n, wrongType(t, v)
		}
		if len(s) > MaxValueBytes {
			return n, fmt.Errorf("a string of %d bytes, over the limit of %d", len(s), MaxValueBytes)
		}
		n.s = s
	case Int:
		n.i, err = toInt(v)
	case Double:
		n.f, err = toDouble(v)
	case Bool:
		b, ok := v.(bool)
		if !ok {
			return n, wrongType(t, v)
		}
		n.b = b
	case Timestamp:
		switch x := v.(type) {
		case time.Time:
			n.t = x
		case string:
			if n.t, err = time.Parse(time.RFC3339Nano, x); err != nil {
				return n, fmt.Errorf("want an RFC 3339 timestamp such as \"2026-01-02T15:04:05Z\", found %q", short(x))
			}
		default:
			return n, wrongType(t, v)
		}
		if n.t.Before(minTime) || n.t.After(maxTime) {
			return n, fmt.Errorf("timestamp %s is outside the years 0001 to 9999", n.t.Format(time.RFC3339Nano))
		}
	case Duration:
		switch x := v.(type) {
		case time.Duration:
			n.d = x
		case string:
			if n.d, err = time.ParseDuration(x); err != nil {
				return n, fmt.Errorf("want a duration such as \"90s\" or \"1h30m\", found %q", short(x))
			}
		default:
			return n, wrongType(t, v)
		}
	case IP:
		switch x := v.(type) {
		case netip.Addr:
			n.a = x
		case string:
			if n.a, err = netip.ParseAddr(x); err != nil {
				return n, fmt.Errorf("want an IP address such as \"10.1.2.3\" or \"2001:db8::1\", found %q", short(x))
			}
		default:
			return n, wrongType(t, v)
		}
		if !n.a.IsValid() {
			return n, fmt.Errorf("want an IP address, found the zero netip.Addr")
		}
		if n.a.Zone() != "" {
			return n, fmt.Errorf("IP address %q has a zone; want one without", n.a)
		}
	case StringList:
		count, total := 0, 0
		switch x := v.(type) {
		case []string:
			n.list, count = x, len(x)
			for _, s := range x {
				total += len(s)
			}
		case []any:
			n.anys, count = x, len(x)
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return n, fmt.Errorf("element %d: %w", i, wrongType(String, e))
				}
				total += len(s)
			}
		default:
			return n, wrongType(t, v)
		}
		if count > MaxListLen {
			return n, fmt.Errorf("a list of %d strings, over the limit of %d", count, MaxListLen)
		}
		if total > MaxValueBytes {
			return n, fmt.Errorf("a list of %d bytes of strings, over the limit of %d", total, MaxValueBytes)
		}
	default:
		return n, fmt.Errorf("unknown type %v", t)
	}
	return n, err
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
