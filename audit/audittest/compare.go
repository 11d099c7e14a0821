package audittest

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/warden-authz/warden/audit"
)

// diffEvents describes how got differs from want, event by event, or
// returns "" when they are the same.
func diffEvents(want, got []audit.Event) string {
	for i := range min(len(want), len(got)) {
		if want[i].ID != got[i].ID {
			return fmt.Sprintf("got %d events, want %d; event %d has id %s, want %s\n got ids:  %s\n want ids: %s",
				len(got), len(want), i, got[i].ID, want[i].ID, ids(got), ids(want))
		}
	}
	if len(want) != len(got) {
		return fmt.Sprintf("got %d events, want %d\n got ids:  %s\n want ids: %s", len(got), len(want), ids(got), ids(want))
	}
	for i := range want {
		if d := diffEvent(&want[i], &got[i]); d != "" {
			return fmt.Sprintf("event %d (id %s): %s", i, want[i].ID, d)
		}
	}
	return ""
}

// ids lists the ids of events, shortened to the part that differs
// between the suite's ids, at most 40 of them.
func ids(events []audit.Event) string {
	var b strings.Builder
	for i, e := range events {
		if i == 40 {
			fmt.Fprintf(&b, " …(%d more)", len(events)-i)
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.ID)
	}
	return "[" + b.String() + "]"
}

// diffEvent describes how got differs from want, field by field. Times
// are compared as instants and must come back in UTC; Fields as JSON
// values (see canon); an empty Fields equals a nil one, as their JSON
// forms do.
func diffEvent(want, got *audit.Event) string {
	var d []string
	str := func(name, w, g string) {
		if w != g {
			d = append(d, fmt.Sprintf("%s is %s, want %s", name, show(g), show(w)))
		}
	}
	str("ID", want.ID, got.ID)
	str("Subject", want.Subject, got.Subject)
	str("Action", want.Action, got.Action)
	str("Resource", want.Resource, got.Resource)
	str("Status", string(want.Status), string(got.Status))
	str("Rule", want.Rule, got.Rule)
	str("Reason", want.Reason, got.Reason)
	str("PolicyVersion", want.PolicyVersion, got.PolicyVersion)
	str("Error", want.Error, got.Error)
	if want.Allowed != got.Allowed {
		d = append(d, fmt.Sprintf("Allowed is %v, want %v", got.Allowed, want.Allowed))
	}
	if !want.Time.Equal(got.Time) {
		d = append(d, fmt.Sprintf("Time is %s, want %s", got.Time.Format(time.RFC3339Nano), want.Time.Format(time.RFC3339Nano)))
	} else if got.Time.Location() != time.UTC {
		d = append(d, fmt.Sprintf("Time is in %s, want UTC (audit.Event)", got.Time.Location()))
	}
	if want.Latency != got.Latency {
		d = append(d, fmt.Sprintf("Latency is %d, want %d", got.Latency, want.Latency))
	}
	if want.Revision != got.Revision {
		d = append(d, fmt.Sprintf("Revision is %d, want %d", got.Revision, want.Revision))
	}
	if fd := diffValue("Fields", canonFields(want.Fields), canonFields(got.Fields)); fd != "" {
		d = append(d, fd)
	}
	return strings.Join(d, "; ")
}

// jsonText is a value compared by its JSON encoding: a number, or
// something that is not a plain JSON value.
type jsonText string

// canonFields puts Fields in a form reflect.DeepEqual compares as JSON
// values: a store that keeps the JSON form may hand back float64 or
// json.Number where the caller gave an int, and that is the same number
// as long as its JSON text is the same. Strings must be equal byte for
// byte, and a string is never equal to a number.
func canonFields(m map[string]any) any {
	if len(m) == 0 {
		return nil
	}
	return canon(m)
}

func canon(v any) any {
	switch v := v.(type) {
	case nil, string, bool:
		return v
	case map[string]any:
		c := make(map[string]any, len(v))
		for k, x := range v {
			c[k] = canon(x)
		}
		return c
	case []any:
		c := make([]any, len(v))
		for i, x := range v {
			c[i] = canon(x)
		}
		return c
	}
	b, err := json.Marshal(v)
	if err != nil {
		return jsonText(fmt.Sprintf("unencodable %T: %v", v, err))
	}
	return jsonText(b)
}

// diffValue describes the first difference between two canonical values
// (see canon), naming where it is.
func diffValue(path string, want, got any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		for _, k := range slices.Sorted(maps.Keys(w)) {
			y, ok := g[k]
			if !ok {
				return path + "[" + show(k) + "] is missing"
			}
			if d := diffValue(path+"["+show(k)+"]", w[k], y); d != "" {
				return d
			}
		}
		for _, k := range slices.Sorted(maps.Keys(g)) {
			if _, ok := w[k]; !ok {
				return fmt.Sprintf("%s[%s] is %s, want no such key", path, show(k), showValue(g[k]))
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			break
		}
		if len(w) != len(g) {
			return fmt.Sprintf("%s has %d elements, want %d", path, len(g), len(w))
		}
		for i := range w {
			if d := diffValue(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); d != "" {
				return d
			}
		}
		return ""
	}
	if reflect.DeepEqual(want, got) {
		return ""
	}
	return fmt.Sprintf("%s is %s, want %s", path, showValue(got), showValue(want))
}

// showValue describes a canonical value for a message.
func showValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return show(v)
	case jsonText:
		return "JSON " + show(string(v))
	case map[string]any:
		return fmt.Sprintf("an object of %d keys", len(v))
	case []any:
		return fmt.Sprintf("an array of %d", len(v))
	}
	return fmt.Sprint(v)
}

// cloneEvent copies e and everything its Fields hold, so a sink that
// changes what it was given cannot change the copy too.
func cloneEvent(e audit.Event) audit.Event {
	if e.Fields != nil {
		e.Fields = cloneValue(e.Fields).(map[string]any)
	}
	return e
}

func cloneEvents(events []audit.Event) []audit.Event {
	out := make([]audit.Event, len(events))
	for i, e := range events {
		out[i] = cloneEvent(e)
	}
	return out
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(v))
		for k, x := range v {
			c[k] = cloneValue(x)
		}
		return c
	case []any:
		c := make([]any, len(v))
		for i, x := range v {
			c[i] = cloneValue(x)
		}
		return c
	}
	return v
}

// show quotes s for a message in ASCII, so invisible and look-alike
// characters show, cut short so failures on the 1 MB strings stay
// readable.
func show(s string) string {
	const max = 60
	if len(s) <= max {
		return fmt.Sprintf("%+q", s)
	}
	return fmt.Sprintf("%+q… (%d bytes)", s[:max], len(s))
}

// showQuery describes the fields of q that are set.
func showQuery(q audit.Query) string {
	var parts []string
	add := func(name string, v any) { parts = append(parts, fmt.Sprintf("%s: %v", name, v)) }
	if q.Subject != "" {
		add("Subject", show(q.Subject))
	}
	if q.Action != "" {
		add("Action", show(q.Action))
	}
	if q.Resource != "" {
		add("Resource", show(q.Resource))
	}
	if q.Status != "" {
		add("Status", show(string(q.Status)))
	}
	if q.Allowed != nil {
		add("Allowed", *q.Allowed)
	}
	if !q.Since.IsZero() {
		add("Since", q.Since.Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		add("Until", q.Until.Format(time.RFC3339Nano))
	}
	if q.After != "" {
		add("After", q.After)
	}
	if q.Limit != 0 {
		add("Limit", q.Limit)
	}
	return "audit.Query{" + strings.Join(parts, ", ") + "}"
}
