package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/auditurl"
)

const servePolicy = `
[groups]
staff = ['alice', 'bob']

[rules.read]
allow = [['staff', 'doc:*', 'read']]
`

const servePolicy2 = `
[rules.read]
deny = [['*', 'doc:*', 'read']]
`

func writeServeFile(t testing.TB, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path+".tmp", []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	return path
}

// lockedBuffer collects a command's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// listenAddr finds the address in the JSON log line "listening".
func listenAddr(log string) string {
	for _, line := range strings.Split(log, "\n") {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
			return rec.Addr
		}
	}
	return ""
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runServe runs serve in-process until ctx is done.
func runServe(ctx context.Context, args ...string) (done chan error, stderr *lockedBuffer) {
	stderr = &lockedBuffer{}
	cmd := newServe()
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(stderr)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	done = make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	return done, stderr
}

// TestServeUsage pins serve's usage errors (exit 2, before listening).
func TestServeUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	policy := writeServeFile(t, dir, "policy.toml", servePolicy)
	empty := writeServeFile(t, dir, "empty-token", "\n")
	spaced := writeServeFile(t, dir, "spaced-token", "two words\n")
	huge := writeServeFile(t, dir, "huge-token", strings.Repeat("x", maxTokenBytes+1))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no config", []string{"--addr", "127.0.0.1:0"}, "no policy file"},
		{"arguments", []string{"-c", policy, "extra"}, "unknown command"},
		{"bad log level", []string{"-c", policy, "--log-level", "loud"}, "--log-level"},
		{"bad log format", []string{"-c", policy, "--log-format", "xml"}, "--log-format"},
		{"cert without key", []string{"-c", policy, "--tls-cert", policy}, "--tls-key"},
		{"bad cert", []string{"-c", policy, "--tls-cert", policy, "--tls-key", policy}, "TLS"},
		{"missing token file", []string{"-c", policy, "--token-file", filepath.Join(dir, "nope")}, "--token-file"},
		{"empty token file", []string{"-c", policy, "--token-file", empty}, "empty"},
		{"token with spaces", []string{"-c", policy, "--token-file", spaced}, "whitespace"},
		{"zero connections", []string{"-c", policy, "--audit", "off", "--max-connections", "0"}, "--max-connections 0: want 1 to 1048576"},
		{"connections past the memory arithmetic", []string{"-c", policy, "--audit", "off", "--max-connections", "281474976710656"}, "--max-connections 281474976710656"},
		{"token file too large", []string{"-c", policy, "--token-file", huge}, "over 4096 bytes"},
		{"token file never ends", []string{"-c", policy, "--token-file", "/dev/zero"}, "over 4096 bytes"},
		{"admin token file too large", []string{"-c", policy, "--store", "memory:", "--admin-token-file", huge}, "--admin-token-file"},
		{"unknown audit scheme", []string{"-c", policy, "--audit", "mysql://x"}, "unknown scheme"},
		{"bad address", []string{"-c", policy, "--audit", "off", "--addr", "not-an-address"}, "listen"},
		{"linger not a duration", []string{"-c", policy, "--audit", "off", "--audit-linger", "soon"}, "audit-linger"},
		{"linger without unit", []string{"-c", policy, "--audit", "off", "--audit-linger", "50"}, "audit-linger"},
		{"negative linger", []string{"-c", policy, "--audit", "off", "--audit-linger", "-1ms"}, "--audit-linger -1ms"},
		{"linger too long", []string{"-c", policy, "--audit", "off", "--audit-linger", "1h"}, "--audit-linger 1h0m0s"},
		{"settle not a duration", []string{"-c", policy, "--audit", "off", "--reload-settle", "soon"}, "reload-settle"},
		{"zero settle", []string{"-c", policy, "--audit", "off", "--reload-settle", "0s"}, "--reload-settle 0s"},
		{"negative settle", []string{"-c", policy, "--audit", "off", "--reload-settle", "-1s"}, "--reload-settle -1s"},
		{"settle too long", []string{"-c", policy, "--audit", "off", "--reload-settle", "1h"}, "--reload-settle 1h0m0s"},
		{"zero revision wait", []string{"-c", policy, "--audit", "off", "--revision-wait", "0s"}, "--revision-wait 0s"},
		{"revision wait too long", []string{"-c", policy, "--audit", "off", "--revision-wait", "2m"}, "--revision-wait 2m0s"},
		{"store poll too fast", []string{"-c", policy, "--audit", "off", "--store-poll", "1ms"}, "--store-poll 1ms"},
		{"store poll too slow", []string{"-c", policy, "--audit", "off", "--store-poll", "1h"}, "--store-poll 1h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			done, _ := runServe(context.Background(), tt.args...)
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("serve did not stop")
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// TestServeEnv pins configuration by WARDEN_* variables, and flags
// winning over them. It sets the environment, so it is not parallel.
func TestServeEnv(t *testing.T) {
	dir := t.TempDir()
	policy := writeServeFile(t, dir, "policy.toml", servePolicy)
	token := writeServeFile(t, dir, "token", "env-token\n")
	t.Setenv("WARDEN_CONFIG", policy)
	t.Setenv("WARDEN_ADDR", "127.0.0.1:0")
	t.Setenv("WARDEN_AUDIT", "off")
	t.Setenv("WARDEN_TOKEN_FILE", token)
	t.Setenv("WARDEN_LOG_LEVEL", "debug")
	t.Setenv("WARDEN_LOG_FORMAT", "text") // the flag below wins
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done, stderr := runServe(ctx, "--log-format", "json")
	waitFor(t, "listening", func() bool { return listenAddr(stderr.String()) != "" })
	addr := listenAddr(stderr.String())
	log := stderr.String()
	if !strings.Contains(log, "the audit log is off") {
		t.Errorf("no warning for --audit off:\n%s", log)
	}
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/check", strings.NewReader(`{"subject":"alice","resource":"doc:1","action":"read"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("without the token from $WARDEN_TOKEN_FILE: %d", resp.StatusCode)
	}
	req.Header.Set("Authorization", "Bearer env-token")
	req.Body = io.NopCloser(strings.NewReader(`{"subject":"alice","resource":"doc:1","action":"read"}`))
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("with the token: %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr.String(), "env-token") {
		t.Errorf("the token is in the log:\n%s", stderr.String())
	}
}

// TestServeHelpNamesEveryVariable: serve --help lists every environment
// variable serve reads, so an operator learns of each from the binary.
func TestServeHelpNamesEveryVariable(t *testing.T) {
	t.Parallel()
	long := newServe().Long
	for flag, name := range serveEnv {
		if !strings.Contains(long, name+",") && !strings.Contains(long, name+".") {
			t.Errorf("serve --help does not name %s, the variable of --%s", name, flag)
		}
	}
}

// TestServeEnvBadValue: a variable that does not parse stops serve and
// names the variable, as a bad flag names the flag. It sets the
// environment, so it is not parallel.
func TestServeEnvBadValue(t *testing.T) {
	policy := writeServeFile(t, t.TempDir(), "policy.toml", servePolicy)
	t.Setenv("WARDEN_AUDIT_LINGER", "a while")
	done, _ := runServe(context.Background(), "-c", policy, "--audit", "off", "--addr", "127.0.0.1:0")
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "$WARDEN_AUDIT_LINGER") {
			t.Errorf("error %v, want it to name $WARDEN_AUDIT_LINGER", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// selfSigned writes a certificate and key for 127.0.0.1 and returns their
// paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (cert, key string, pool *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "warden test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert = writeServeFile(t, dir, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	key = writeServeFile(t, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return cert, key, pool
}

// TestServeTLS serves HTTPS with --tls-cert/--tls-key and records the
// decision in the SQLite store named by --audit.
func TestServeTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	policy := writeServeFile(t, dir, "policy.toml", servePolicy)
	cert, key, pool := selfSigned(t, dir)
	db := filepath.Join(dir, "audit.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done, stderr := runServe(ctx, "-c", policy, "--addr", "127.0.0.1:0", "--audit", "sqlite:"+db,
		"--tls-cert", cert, "--tls-key", key, "--log-format", "json")
	waitFor(t, "listening", func() bool { return listenAddr(stderr.String()) != "" })
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	url := "https://" + listenAddr(stderr.String())
	resp, err := client.Post(url+"/v1/check", "application/json", strings.NewReader(`{"subject":"alice","resource":"doc:7","action":"read"}`))
	if err != nil {
		t.Fatal(err)
	}
	var d warden.Decision
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != 200 || !d.Allowed {
		t.Fatalf("check over TLS: %d %+v %v", resp.StatusCode, d, err)
	}
	resp.Body.Close()
	if resp, err := http.Post("http://"+listenAddr(stderr.String())+"/healthz", "", nil); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered on the TLS port")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	events := readAll(t, db)
	if len(events) != 1 || events[0].Resource != "doc:7" || events[0].Status != audit.StatusAllowed {
		t.Errorf("audit events: %+v", events)
	}
}

func readAll(t *testing.T, db string) []audit.Event {
	t.Helper()
	st, err := auditurl.Open("sqlite:" + db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []audit.Event
	if err := each(context.Background(), st, audit.Query{}, func(e *audit.Event) { out = append(out, *e) }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestServeHelperProcess is not a test: it is the `warden serve` process
// TestServeSignals starts, selected by WARDEN_SERVE_HELPER.
func TestServeHelperProcess(t *testing.T) {
	if os.Getenv("WARDEN_SERVE_HELPER") != "1" {
		t.Skip("run by TestServeSignals")
	}
	args := strings.Split(os.Getenv("WARDEN_SERVE_ARGS"), "\x1f")
	cmd := newServe()
	cmd.SetArgs(args)
	cmd.SetErr(os.Stderr)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(ExitUsage)
	}
	os.Exit(0)
}

// TestServeSignals runs `warden serve` as a process of its own: SIGHUP
// reloads the policy (with the watcher off), and SIGTERM during load stops
// it gracefully, so every request it answered 200 has its event in the
// SQLite audit store.
func TestServeSignals(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir := t.TempDir()
	policy := writeServeFile(t, dir, "policy.toml", servePolicy)
	db := filepath.Join(dir, "warden-audit.db")
	args := []string{"-c", policy, "--addr", "127.0.0.1:0", "--log-format", "json", "--no-watch"}
	proc := exec.Command(os.Args[0], "-test.run=^TestServeHelperProcess$")
	proc.Dir = dir // the default audit store is ./warden-audit.db
	proc.Env = append(os.Environ(), "WARDEN_SERVE_HELPER=1", "WARDEN_SERVE_ARGS="+strings.Join(args, "\x1f"))
	stderr := &lockedBuffer{}
	pipe, err := proc.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			stderr.Write(append(sc.Bytes(), '\n'))
		}
	}()
	defer proc.Process.Kill()
	waitFor(t, "listening", func() bool { return listenAddr(stderr.String()) != "" })
	url := "http://" + listenAddr(stderr.String())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}

	version := func() string {
		resp, err := client.Get(url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct {
			PolicyVersion string `json:"policy_version"`
		}
		json.NewDecoder(resp.Body).Decode(&r)
		return r.PolicyVersion
	}
	p1, _ := warden.Parse("p", []byte(servePolicy))
	p2, _ := warden.Parse("p", []byte(servePolicy2))
	if v := version(); v != p1.Version() {
		t.Fatalf("serving %s, want %s", v, p1.Version())
	}
	writeServeFile(t, dir, "policy.toml", servePolicy2)
	time.Sleep(300 * time.Millisecond)
	if v := version(); v != p1.Version() {
		t.Fatalf("reloaded with --no-watch and no SIGHUP: %s", v)
	}
	if err := proc.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "SIGHUP reload", func() bool { return version() == p2.Version() })

	// Load, then SIGTERM in the middle of it.
	var mu sync.Mutex
	var answered []string
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				res := fmt.Sprintf("doc:%d:%d", g, i)
				resp, err := client.Post(url+"/v1/check", "application/json", strings.NewReader(`{"subject":"alice","resource":"`+res+`","action":"read"}`))
				if err != nil {
					return // the server has stopped accepting
				}
				var d warden.Decision
				derr := json.NewDecoder(resp.Body).Decode(&d)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("status %d during shutdown", resp.StatusCode)
					return
				}
				if derr != nil {
					return // cut off mid-response: not an answered request
				}
				mu.Lock()
				answered = append(answered, res)
				mu.Unlock()
			}
		}()
	}
	waitFor(t, "load", func() bool { mu.Lock(); defer mu.Unlock(); return len(answered) > 500 })
	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := proc.Wait(); err != nil {
		t.Fatalf("serve exited with %v:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "audit log flushed") {
		t.Errorf("no clean shutdown in the log:\n%s", stderr.String())
	}
	logged := map[string]audit.Event{}
	for _, e := range readAll(t, db) {
		logged[e.Resource] = e
	}
	for _, res := range answered {
		e, ok := logged[res]
		if !ok {
			t.Fatalf("request for %s was answered but its event is not in the audit store (%d answered, %d logged)", res, len(answered), len(logged))
		}
		if e.PolicyVersion != p2.Version() || e.Status != audit.StatusDenied {
			t.Errorf("event %+v", e)
		}
	}
	t.Logf("%d requests answered before SIGTERM, all %d in the audit store", len(answered), len(logged))
}
