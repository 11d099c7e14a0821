package audit

import (
	"encoding/json"
	"reflect"
	"unsafe"
)

// Sizes EventSize charges, from the layout of Go's values on 64-bit
// platforms: a string header is 16 bytes, an interface 16, a slice 24. A
// map entry costs its key and value slots plus the map's own overhead
// (control bytes, load factor, growth), which 48 bytes per entry covers
// for map[string]any.
const (
	sizeString   = 16
	sizeIface    = 16
	sizeSlice    = 24
	sizeMapEntry = 48
	sizeMap      = 64
	// sizeOther is charged for a Fields value of a type EventSize does
	// not walk (a caller's struct): its reflect size, at least this.
	sizeOther = 64
)

// EventSize estimates the memory e holds, in bytes: the Event itself, its
// strings, and its Fields walked deeply (maps, slices, strings, numbers).
// A decoded request context of 70,000 keys in a 1 MiB body holds about
// 7 MiB, and this is what a byte bound must count, not the body's length.
// Values of types it does not walk count their shallow size. It never
// fails; a nil e is 0.
func EventSize(e *Event) int64 {
	if e == nil {
		return 0
	}
	n := int64(unsafe.Sizeof(*e))
	for _, s := range [...]string{e.ID, e.Subject, e.Action, e.Resource, string(e.Status), e.Rule, e.Reason, e.PolicyVersion, e.Error} {
		n += int64(len(s))
	}
	if e.Fields != nil {
		n += sizeMap
		for k, v := range e.Fields {
			n += sizeMapEntry + int64(len(k)) + valueSize(v)
		}
	}
	return n
}

// valueSize is the memory v holds beyond the interface that holds it.
func valueSize(v any) int64 {
	switch v := v.(type) {
	case nil, bool:
		return 0
	case string:
		return sizeString + int64(len(v))
	case json.Number:
		return sizeString + int64(len(v))
	case float64, int, int64, int32, uint, uint64, uint32, float32:
		return 8
	case map[string]any:
		n := int64(sizeMap)
		for k, x := range v {
			n += sizeMapEntry + int64(len(k)) + valueSize(x)
		}
		return n
	case []any:
		n := int64(sizeSlice) + int64(cap(v))*sizeIface
		for _, x := range v {
			n += valueSize(x)
		}
		return n
	case []string:
		n := int64(sizeSlice) + int64(cap(v))*sizeString
		for _, x := range v {
			n += int64(len(x))
		}
		return n
	}
	return max(sizeOther, int64(reflect.TypeOf(v).Size()))
}
