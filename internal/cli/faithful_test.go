package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/auditurl"
)

// Invalid UTF-8 and NUL sent in a request reach the audit log byte for
// byte, through `warden serve` (single checks and batches) and `warden
// check --batch`, on every store: not replaced by U+FFFD on the way in,
// not refused on the way down. The raw bytes and their JSON escape
// (\udcXX) both stand for the byte.
const hostileContext = "{\"k\xff\":\"v\xfe\xed\xa0\x80\",\"esc\":\"\\udcff\\u0000x\",\"n\":9007199254740993," +
	"\"list\":[\"\xc3\",{\"é\xc3(\":true,\"\\\\xff\":\"\\ufffd\"}]}"

// hostileFields is what hostileContext decodes to, every byte kept.
var hostileFields = map[string]any{
	"k\xff": "v\xfe\xed\xa0\x80", "esc": "\xff\x00x", "n": json.Number("9007199254740993"),
	"list": []any{"\xc3", map[string]any{"é\xc3(": true, `\xff`: "\ufffd"}},
}

// faithfulRequests are the requests each way of deciding sends, keyed by
// resource: the subject and fields each event must hold. bo\xfeb is not a
// valid name, so its event is an error event, still with its subject's
// bytes.
var faithfulRequests = []struct {
	body, resource, subject string
	status                  audit.Status
}{
	{`{"subject":"alice","resource":"doc:1","action":"read","context":` + hostileContext + `}`, "doc:1", "alice", audit.StatusAllowed},
	{"{\"subject\":\"bo\xfeb\",\"resource\":\"doc:2\",\"action\":\"read\",\"context\":" + hostileContext + "}", "doc:2", "bo\xfeb", audit.StatusError},
	{`{"subject":"bo\udcfeb","resource":"doc:3","action":"read","context":` + hostileContext + `}`, "doc:3", "bo\xfeb", audit.StatusError},
}

// tagged is a request body of faithfulRequests with tag added to its
// resource, so each way of sending it has events of its own.
func tagged(body, tag string) string {
	return strings.Replace(body, `","action"`, ":"+tag+`","action"`, 1)
}

// checkFaithful checks that the store at url holds the event of every
// faithfulRequests entry sent tagged with tag, byte for byte.
func checkFaithful(t *testing.T, url, tag string) {
	t.Helper()
	st, err := auditurl.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got := map[string]audit.Event{}
	if err := each(context.Background(), st, audit.Query{}, func(e *audit.Event) { got[e.Resource] = *e }); err != nil {
		t.Fatal(err)
	}
	for _, r := range faithfulRequests {
		res := r.resource + ":" + tag
		e, ok := got[res]
		if !ok {
			t.Errorf("%s: no event stored", res)
			continue
		}
		if e.Subject != r.subject || e.Status != r.status {
			t.Errorf("%s: subject %q, status %s; want %q, %s", res, e.Subject, e.Status, r.subject, r.status)
		}
		if d := cmp.Diff(hostileFields, e.Fields); d != "" {
			t.Errorf("%s: stored fields (-sent +stored):\n%s", res, d)
		}
	}
}

func TestInvalidUTF8ReachesTheStore(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts processes")
	}
	for _, st := range crashStores(t) {
		t.Run(st.name, func(t *testing.T) {
			t.Run("serve", func(t *testing.T) {
				dir := t.TempDir()
				policy := writeServeFile(t, dir, "policy.toml", servePolicy)
				p := startServe(t, dir, "-c", policy, "--audit", st.url, "--audit-required")
				post := func(path, body string) (int, string) {
					resp, err := http.Post(p.url+path, "application/json", strings.NewReader(body))
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					return resp.StatusCode, string(b)
				}
				var batch []string
				for _, r := range faithfulRequests {
					body := tagged(r.body, "single")
					status, answer := post("/v1/check", body)
					want := 200
					if r.status == audit.StatusError {
						want = 400
					}
					if status != want {
						t.Errorf("%s: %d %s, want %d", r.resource, status, answer, want)
					}
					batch = append(batch, tagged(r.body, "batch"))
				}
				if status, answer := post("/v1/check/batch", `{"requests":[`+strings.Join(batch, ",")+`]}`); status != 200 {
					t.Errorf("batch: %d %s", status, answer)
				}
				// --audit-required: every answer above was durable before it
				// was sent, so a kill loses nothing.
				if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				p.cmd.Wait()
				checkFaithful(t, st.url, "single")
				checkFaithful(t, st.url, "batch")
			})
			t.Run("check-batch", func(t *testing.T) {
				dir := t.TempDir()
				policy := writeServeFile(t, dir, "policy.toml", servePolicy)
				var url string // a store of its own
				for _, s := range crashStores(t) {
					if s.name == st.name {
						url = s.url
					}
				}
				var in bytes.Buffer
				for _, r := range faithfulRequests {
					in.WriteString(tagged(r.body, "check") + "\n")
				}
				var out, errOut bytes.Buffer
				Run([]string{"check", "-c", policy, "--batch", "--audit", url}, &in, &out, &errOut)
				if n := strings.Count(out.String(), "\n"); n != len(faithfulRequests) {
					t.Fatalf("%d lines for %d requests:\n%s%s", n, len(faithfulRequests), out.String(), errOut.String())
				}
				checkFaithful(t, url, "check")
			})
		})
	}
}
