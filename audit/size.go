package audit

import (
	"encoding/json"
	"reflect"
	"unsafe"
)

// Sizes EventSize charges, from the layout of Go's values on 64-bit
// platforms: a string header is 16 bytes, an interface 16, a slice 24,
// and an allocation is at least 8 bytes, rounded up to 8. A map entry
// costs its key and value slots plus the map's control bytes, load
// factor and growth, which 64 bytes per entry covers for map[string]any;
// even an empty map that decoding made holds a group of 8 slots.
const (
	sizeString   = 16
	sizeIface    = 16
	sizeSlice    = 24
	sizeMapEntry = 64
	sizeMap      = 320
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
		n += valueSize(e.Fields)
	}
	return n
}

// alloc is the size of an allocation of n bytes: at least 8, rounded up
// to 8.
func alloc(n int) int64 { return max(8, int64(n+7)&^7) }

// valueSize is the memory v holds beyond the interface that holds it.
func valueSize(v any) int64 {
	switch v := v.(type) {
	case nil, bool:
		return 0
	case string:
		return sizeString + alloc(len(v))
	case json.Number:
		return sizeString + alloc(len(v))
	case float64, int, int64, int32, uint, uint64, uint32, float32:
		return 8
	case map[string]any:
		n := int64(sizeMap)
		for k, x := range v {
			n += sizeMapEntry + alloc(len(k)) + valueSize(x)
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
			n += alloc(len(x))
		}
		return n
	}
	return max(sizeOther, int64(reflect.TypeOf(v).Size()))
}
