package wire

import (
	"fmt"
	"strconv"
	"time"
)

// Readiness is the answer of GET /readyz (SPEC 9.2): 200 with Ready true
// once a policy has loaded, 503 with Ready false and Error before. The
// zero Readiness is not ready.
type Readiness struct {
	Ready         bool
	PolicyVersion string    // the policy being served; set when ready
	LoadedAt      time.Time // when it loaded; set when ready
	LastReload    *Reload   // the most recent reload attempt, if any
	Error         string    // why the service is not ready
	// Store is how current the runtime data is (SPEC 11.4), when the
	// service has a store.
	Store *StoreStatus
}

// StoreStatus is /readyz's report on the store: the revision decisions
// see, the newest the store reported, the policy version followed, and
// the store's error while it cannot be reached.
type StoreStatus struct {
	Revision, Latest uint64
	PolicySeq        uint64
	Error            string
	ErrorSince       time.Time
	PolicyError      string
	// Digest is a hash of the state decisions see: instances of a fleet
	// at the same revision and policy have the same digest.
	Digest string
}

// Reload is the outcome of one attempt to reload the policy file.
type Reload struct {
	OK    bool
	Time  time.Time
	Error string // why it failed; the previous policy still serves
}

// AppendReadiness appends r's object, times in UTC with nanoseconds.
func AppendReadiness(b []byte, r *Readiness) []byte {
	b = append(b, `{"ready":`...)
	b = strconv.AppendBool(b, r.Ready)
	if r.PolicyVersion != "" {
		b = append(b, `,"policy_version":`...)
		b = AppendString(b, r.PolicyVersion)
	}
	if !r.LoadedAt.IsZero() {
		b = append(b, `,"loaded_at":`...)
		b = appendTime(b, r.LoadedAt)
	}
	if lr := r.LastReload; lr != nil {
		b = append(b, `,"last_reload":{"ok":`...)
		b = strconv.AppendBool(b, lr.OK)
		b = append(b, `,"time":`...)
		b = appendTime(b, lr.Time)
		if lr.Error != "" {
			b = append(b, `,"error":`...)
			b = AppendString(b, lr.Error)
		}
		b = append(b, '}')
	}
	if r.Error != "" {
		b = append(b, `,"error":`...)
		b = AppendString(b, r.Error)
	}
	if st := r.Store; st != nil {
		b = append(b, `,"store":{"revision":`...)
		b = strconv.AppendUint(b, st.Revision, 10)
		b = append(b, `,"latest":`...)
		b = strconv.AppendUint(b, st.Latest, 10)
		if st.PolicySeq != 0 {
			b = append(b, `,"policy_seq":`...)
			b = strconv.AppendUint(b, st.PolicySeq, 10)
		}
		if st.Digest != "" {
			b = append(b, `,"digest":`...)
			b = AppendString(b, st.Digest)
		}
		if st.Error != "" {
			b = append(b, `,"error":`...)
			b = AppendString(b, st.Error)
			b = append(b, `,"error_since":`...)
			b = appendTime(b, st.ErrorSince)
		}
		if st.PolicyError != "" {
			b = append(b, `,"policy_error":`...)
			b = AppendString(b, st.PolicyError)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// DecodeReadiness decodes a readiness object answered with HTTP 200 (ok)
// or 503. The status and the body must agree: a 200 that says not ready,
// or a 503 that says ready, is not an answer to trust either way.
func DecodeReadiness(data []byte, ok bool) (Readiness, error) {
	o, err := parseObject(data)
	if err != nil {
		return Readiness{}, err
	}
	var r Readiness
	o.field("ready", true, &r.Ready)
	o.field("policy_version", ok, &r.PolicyVersion)
	o.field("loaded_at", ok, &r.LoadedAt)
	o.field("error", false, &r.Error)
	if o.err == nil && o.has("last_reload") {
		raw, _ := o.get("last_reload")
		lr, err := members(raw)
		if err != nil {
			return Readiness{}, fmt.Errorf(`field "last_reload": %w`, err)
		}
		r.LastReload = &Reload{}
		lr.field("ok", true, &r.LastReload.OK)
		lr.field("time", true, &r.LastReload.Time)
		lr.field("error", false, &r.LastReload.Error)
		if lr.err != nil {
			return Readiness{}, fmt.Errorf(`not a readiness object: field "last_reload": %w`, lr.err)
		}
	}
	if o.err == nil && o.has("store") {
		raw, _ := o.get("store")
		so, err := members(raw)
		if err != nil {
			return Readiness{}, fmt.Errorf(`field "store": %w`, err)
		}
		r.Store = &StoreStatus{}
		so.field("revision", true, &r.Store.Revision)
		so.field("latest", true, &r.Store.Latest)
		so.field("policy_seq", false, &r.Store.PolicySeq)
		so.field("digest", false, &r.Store.Digest)
		so.field("error", false, &r.Store.Error)
		so.field("error_since", false, &r.Store.ErrorSince)
		so.field("policy_error", false, &r.Store.PolicyError)
		if so.err != nil {
			return Readiness{}, fmt.Errorf(`not a readiness object: field "store": %w`, so.err)
		}
	}
	if o.err != nil {
		return Readiness{}, fmt.Errorf("not a readiness object: %w", o.err)
	}
	if r.Ready != ok {
		return Readiness{}, fmt.Errorf(`not a readiness object: "ready" is %t with HTTP status %s`, r.Ready, map[bool]string{true: "200", false: "503"}[ok])
	}
	return r, nil
}

// Health is the answer of GET /healthz while the process serves.
const Health = `{"status":"ok"}`

// DecodeHealth checks a /healthz answer: exactly a status, and "ok".
func DecodeHealth(data []byte) error {
	o, err := parseObject(data)
	if err != nil {
		return err
	}
	var status string
	o.field("status", true, &status)
	if o.err != nil {
		return o.err
	}
	if status != "ok" {
		return fmt.Errorf("status %q, not \"ok\"", clip(status, 64))
	}
	return nil
}
