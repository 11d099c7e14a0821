package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/client"
)

func auditQuery() audit.Query { return audit.Query{Subject: "alice"} }

// TestAuditQueryEncoding: each audit.Query field becomes exactly the
// contract's parameter, and only set fields are sent.
func TestAuditQueryEncoding(t *testing.T) {
	t.Parallel()
	yes := true
	since := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
	tests := []struct {
		name    string
		q       audit.Query
		want    url.Values // nil: refused before sending
		wantErr string
	}{
		{"zero", audit.Query{}, url.Values{}, ""},
		{"every field", audit.Query{Subject: "alice", Action: "articles:*", Resource: "doc:read,write", Status: audit.StatusDenied,
			Since: since, Until: since.Add(time.Hour), After: "0193a000-0000-7000-8000-000000000001", Limit: 50},
			url.Values{"subject": {"alice"}, "action": {"articles:*"}, "resource": {"doc:read,write"}, "status": {"denied"},
				"since": {"2026-11-25T09:00:00.123456789Z"}, "until": {"2026-11-25T10:00:00.123456789Z"},
				"after": {"0193a000-0000-7000-8000-000000000001"}, "limit": {"50"}}, ""},
		{"characters that need escaping", audit.Query{Subject: "a&b=c d?#%"}, url.Values{"subject": {"a&b=c d?#%"}}, ""},
		{"whole seconds", audit.Query{Since: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, url.Values{"since": {"2026-01-02T03:04:05Z"}}, ""},
		{"MaxLimit", audit.Query{Limit: audit.MaxLimit}, url.Values{"limit": {"10000"}}, ""},
		{"Allowed has no parameter", audit.Query{Subject: "alice", Allowed: &yes}, nil, "Allowed has no HTTP parameter"},
		{"negative limit", audit.Query{Limit: -1}, nil, "limit -1 out of range"},
		{"limit over MaxLimit", audit.Query{Limit: audit.MaxLimit + 1}, nil, "limit 10001 out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var got url.Values
			var raw string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got, raw = r.URL.Query(), r.URL.RawQuery
				mu.Unlock()
				if r.Method != http.MethodGet || r.URL.Path != "/v1/audit" {
					writeError(w, 404, "not_found", r.Method+" "+r.URL.Path)
					return
				}
				writeJSON(w, 200, map[string]any{"events": []any{}})
			}))
			t.Cleanup(srv.Close)
			page, err := newClient(t, srv.URL, nil).Audit(context.Background(), tt.q)
			mu.Lock()
			defer mu.Unlock()
			if tt.want == nil {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Audit = %+v, %v; want an error saying %q", page, err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("sent the query %q", raw)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parameters (-want +got), raw %q\n%s", raw, diff)
			}
			if len(page.Events) != 0 || page.Next != "" {
				t.Errorf("page %+v", page)
			}
		})
	}
}

// TestAuditAgainstService: the query reaches the store as given, and the
// events come back unchanged, big integers in fields included.
func TestAuditAgainstService(t *testing.T) {
	t.Parallel()
	svc, srv := newService(t, secret, true)
	events := svc.record(t, 7)
	c := newClient(t, srv.URL, &client.Options{Token: secret})
	tests := []struct {
		name string
		q    audit.Query
		want []audit.Event
		next string
	}{
		{"all", audit.Query{}, events, ""},
		{"denied", audit.Query{Status: audit.StatusDenied}, []audit.Event{events[1], events[3], events[5]}, ""},
		{"resource pattern", audit.Query{Resource: "articles:2,4"}, []audit.Event{events[2], events[4]}, ""},
		{"time range", audit.Query{Since: events[2].Time, Until: events[4].Time}, events[2:4], ""},
		{"full page", audit.Query{Limit: 3}, events[:3], events[2].ID},
		{"after", audit.Query{After: events[4].ID}, events[5:], ""},
		{"none", audit.Query{Subject: "nobody"}, []audit.Event{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			page, err := c.Audit(context.Background(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(client.AuditPage{Events: tt.want, Next: tt.next}, page); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	var ce *client.Error
	_, err := newClient(t, srv.URL, nil).Audit(context.Background(), audit.Query{})
	if !errors.As(err, &ce) || ce.Status != 401 {
		t.Errorf("without the token: %v", err)
	}
	_, err = c.Audit(context.Background(), audit.Query{Status: "maybe"})
	if !errors.As(err, &ce) || ce.Code != client.CodeInvalidQuery {
		t.Errorf("bad status: %v", err)
	}
}

// TestAuditAll: paging follows next across three pages and stops at the
// page without it.
func TestAuditAll(t *testing.T) {
	t.Parallel()
	svc, srv := newService(t, "", true)
	events := svc.record(t, 5)
	c := newClient(t, srv.URL, nil)
	all := c.AuditAll(context.Background(), audit.Query{Limit: 2})
	for round := range 2 { // a sequence can be ranged over again, from the start
		var got []audit.Event
		for e, err := range all {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, e)
		}
		if diff := cmp.Diff(events, got); diff != "" {
			t.Errorf("round %d: (-want +got)\n%s", round, diff)
		}
		if n := svc.requests.Load(); n != int64(3*(round+1)) {
			t.Errorf("round %d: %d requests in all, for 3 pages a round", round, n)
		}
	}

	// A full last page is followed by one empty page.
	svc2, srv2 := newService(t, "", true)
	svc2.record(t, 4)
	n := 0
	for _, err := range newClient(t, srv2.URL, nil).AuditAll(context.Background(), audit.Query{Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 4 || svc2.requests.Load() != 3 {
		t.Errorf("%d events in %d requests, want 4 in 3", n, svc2.requests.Load())
	}

	// Stopping early sends nothing more.
	svc3, srv3 := newService(t, "", true)
	svc3.record(t, 5)
	for range newClient(t, srv3.URL, nil).AuditAll(context.Background(), audit.Query{Limit: 2}) {
		break
	}
	if n := svc3.requests.Load(); n != 1 {
		t.Errorf("%d requests after stopping at the first event", n)
	}
}

// TestAuditAllFailures: a failure on any page is yielded once and ends
// the sequence, including a cursor that does not move forward.
func TestAuditAllFailures(t *testing.T) {
	t.Parallel()
	ev := func(id string) string {
		return fmt.Sprintf(`{"id":%q,"time":"2026-11-25T12:00:00Z","subject":"s","action":"a","resource":"r","allowed":false,"status":"denied","reason":"r","latency_ns":1}`, id)
	}
	tests := []struct {
		name  string
		pages map[string]string // by the after parameter
		want  string
		n     int // events yielded before the error
	}{
		{"error on the second page", map[string]string{
			"":  `{"events":[` + ev("1") + `,` + ev("2") + `],"next":"2"}`,
			"2": `{"error":{"code":"internal","message":"store down"}}`,
		}, "store down", 2},
		{"cursor goes back", map[string]string{
			"":  `{"events":[` + ev("5") + `],"next":"5"}`,
			"5": `{"events":[` + ev("3") + `],"next":"3"}`,
		}, "not forward", 2},
		{"cursor stays", map[string]string{
			"":  `{"events":[` + ev("5") + `],"next":"5"}`,
			"5": `{"events":[` + ev("5") + `],"next":"5"}`,
		}, "not forward", 2},
		{"bad page", map[string]string{"": `{"events":[` + ev("1") + `],"next":"2"}`}, `next "2" is not the last event's id "1"`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, ok := tt.pages[r.URL.Query().Get("after")]
				status := 200
				if !ok || strings.Contains(body, `"error"`) {
					status = 500
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				fmt.Fprint(w, body)
			}))
			t.Cleanup(srv.Close)
			var n, errs int
			for e, err := range newClient(t, srv.URL, nil).AuditAll(context.Background(), audit.Query{}) {
				if err != nil {
					errs++
					if !strings.Contains(err.Error(), tt.want) {
						t.Errorf("error %q does not say %q", err, tt.want)
					}
					if !cmp.Equal(e, audit.Event{}) {
						t.Errorf("event %+v with an error", e)
					}
					continue
				}
				n++
			}
			if n != tt.n || errs != 1 {
				t.Errorf("%d events and %d errors, want %d and 1", n, errs, tt.n)
			}
		})
	}
}

// TestAuditHostileAnswers: a 200 answer that is not exactly a page of
// events is an error.
func TestAuditHostileAnswers(t *testing.T) {
	t.Parallel()
	const ev = `{"id":"1","time":"2026-11-25T12:00:00Z","subject":"s","action":"a","resource":"r","allowed":true,"status":"allowed","reason":"r","latency_ns":5}`
	tests := []struct {
		name, body, want string
	}{
		{"events missing", `{"next":"1"}`, `"events" is missing`},
		{"events an object", `{"events":{}}`, `"events": want`},
		{"event not an object", `{"events":[1]}`, "event 0: want a JSON object, not a number"},
		{"event missing id", `{"events":[` + strings.Replace(ev, `"id":"1",`, "", 1) + `]}`, `event 0: not an audit event: field "id" is missing`},
		{"event empty id", `{"events":[` + strings.Replace(ev, `"id":"1"`, `"id":""`, 1) + `]}`, `field "id" is empty`},
		{"event bad time", `{"events":[` + strings.Replace(ev, `2026-11-25T12:00:00Z`, `yesterday`, 1) + `]}`, `"time": want an RFC 3339 time`},
		{"event latency string", `{"events":[` + strings.Replace(ev, `"latency_ns":5`, `"latency_ns":"5ns"`, 1) + `]}`, `"latency_ns": want an integer`},
		{"event allowed null", `{"events":[` + strings.Replace(ev, `"allowed":true`, `"allowed":null`, 1) + `]}`, `"allowed" is null`},
		{"event id twice", `{"events":[` + strings.Replace(ev, `"id":"1"`, `"id":"1","id":"2"`, 1) + `]}`, "appears twice"},
		{"fields not an object", `{"events":[` + strings.Replace(ev, `"latency_ns":5`, `"latency_ns":5,"fields":[1]`, 1) + `]}`, `"fields": want an object`},
		{"next without events", `{"events":[],"next":"1"}`, "no events"},
		{"next not the last id", `{"events":[` + ev + `],"next":"0"}`, "not the last event's id"},
		{"next empty", `{"events":[` + ev + `],"next":""}`, `"next" is empty`},
		{"next a number", `{"events":[` + ev + `],"next":1}`, `"next": want a string`},
		{"truncated", `{"events":[` + ev, "unexpected end"},
		{"HTML", `<html></html>`, "not valid JSON"},
		{"over the limit", `{"events":[],"pad":"` + strings.Repeat("a", client.MaxListBytes) + `"}`, "limit of 8388608 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, canned{status: 200, body: tt.body}.server(t).URL, nil)
			page, err := c.Audit(context.Background(), audit.Query{})
			if err == nil {
				t.Fatalf("accepted %.100q as %+v", tt.body, page)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if page.Events != nil || page.Next != "" {
				t.Errorf("page %+v with an error", page)
			}
		})
	}
}

// TestAuditTolerated: an empty page encoded as null, and unknown fields.
func TestAuditTolerated(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{"events":null}`, `{"events":[],"total":0}`} {
		c := newClient(t, canned{status: 200, body: body}.server(t).URL, nil)
		page, err := c.Audit(context.Background(), audit.Query{})
		if err != nil || len(page.Events) != 0 || page.Next != "" {
			t.Errorf("%s: %+v, %v", body, page, err)
		}
	}
}
