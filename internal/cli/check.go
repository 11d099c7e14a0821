package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/warden-authz/warden"
	"github.com/warden-authz/warden/audit"
	"github.com/warden-authz/warden/internal/wire"
	"github.com/warden-authz/warden/types"
)

// checkFlags are check's flags.
type checkFlags struct {
	config   string
	asJSON   bool
	batch    bool
	auditURL string
	storeURL string
	ctxJSON  string
	nowText  string
}

func newCheck() *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check --config FILE SUBJECT RESOURCE ACTION",
		Short: "Decide one request, or a stream of JSON Lines requests with --batch",
		Long: `check decides whether SUBJECT may do ACTION on RESOURCE and prints the
decision and its reason. Pass "" as RESOURCE for no particular resource.

With --json it prints the decision object. With --batch it reads JSON Lines
requests ({"subject": ..., "resource": ..., "action": ...}) on standard input
and writes one JSON decision per line, in order; a bad line gets an error
object on its own line and the batch goes on.

--context gives the request's attributes as a JSON object, for conditions
(a policy with [context] checks them); batch lines carry "context" each.
--now sets the time conditions read as now (RFC 3339); by default, the
clock's.

Exit codes: 0 allowed, 1 denied, 2 usage or input error. With --batch: 0
unless the input itself could not be read.`,
		Example: `  warden check --config examples/publishing/policy.toml alice articles:animals:42 articles:update
  warden check --config policy.toml --json user1 part_b GET
  warden check --config policy.toml --context '{"mfa": true, "ip": "10.1.2.3"}' staff payroll:2026 read
  printf '{"subject":"user1","resource":"part_b","action":"GET"}\n' | warden check --config policy.toml --batch`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.validate(args); err != nil {
				return err
			}
			p, err := loadPolicyData(cmd.Context(), f.config, f.storeURL)
			if err != nil {
				return err
			}
			log, err := openAudit(f.auditURL)
			if err != nil {
				return err
			}
			if !f.batch {
				req := warden.Request{Subject: args[0], Resource: args[1], Action: args[2]}
				if req.Context, err = contextFlag(f.ctxJSON); err != nil {
					return err
				}
				if f.nowText != "" {
					if req.Now, err = time.Parse(time.RFC3339Nano, f.nowText); err != nil {
						return usage("--now: want an RFC 3339 time such as 2026-01-02T15:04:05Z, found %q", f.nowText)
					}
				}
				return checkOne(p, req, log, cmd.OutOrStdout(), f.asJSON)
			}
			err = runBatch(p, cmd.InOrStdin(), cmd.OutOrStdout(), log)
			if cerr := log.close(); err == nil {
				err = cerr
			}
			return err
		},
	}
	configFlag(cmd, &f.config)
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the decision object (SPEC 9.3)")
	cmd.Flags().BoolVar(&f.batch, "batch", false, "read JSON Lines requests on stdin, write one decision per line")
	cmd.Flags().StringVar(&f.ctxJSON, "context", "", "the request's context, a JSON object such as '{\"mfa\": true}'")
	cmd.Flags().StringVar(&f.nowText, "now", "", "the time conditions read as now, RFC 3339 (default: the clock's)")
	storeFlag(cmd, &f.storeURL)
	cmd.Flags().StringVar(&f.auditURL, "audit", "", "record every decision in an audit store ("+auditSchemes+"); a decision is printed only once its event is stored")
	return cmd
}

// validate checks the arguments against the mode: three for one
// request, none with --batch.
func (f *checkFlags) validate(args []string) error {
	switch {
	case f.batch && len(args) != 0:
		return usage("--batch reads requests from standard input and takes no arguments")
	case !f.batch && len(args) != 3:
		return usage("check takes SUBJECT RESOURCE ACTION (got %d arguments)", len(args))
	}
	return nil
}

// checkOne decides one request and records it in log, which it closes,
// so the event is stored before anything is printed; then it prints the
// decision, or with asJSON the decision or error object.
func checkOne(p *warden.Policy, req warden.Request, log *auditLog, out io.Writer, asJSON bool) error {
	start := time.Now()
	e, err := p.Explain(req)
	if rerr := log.record(req, e.Decision, err, start); rerr != nil {
		return &exitError{code: ExitUsage, err: fmt.Errorf("audit log: %w", rerr)}
	}
	if cerr := log.close(); cerr != nil {
		return cerr
	}
	switch {
	case err != nil && asJSON:
		// Scripts read stdout: give them the error object of SPEC 9.3,
		// never a decision.
		if _, werr := out.Write(append(wire.AppendError(nil, wire.FromDecideError(err)), '\n')); werr != nil {
			return werr
		}
		return &exitError{code: ExitUsage}
	case err != nil:
		return &exitError{code: ExitUsage, err: err}
	case asJSON:
		if _, err := out.Write(append(wire.AppendDecision(nil, &e.Decision), '\n')); err != nil {
			return err
		}
	default:
		printDecision(out, req, e.Decision, p)
	}
	return exitFor(e.Decision)
}

// contextFlag decodes --context as a request's context is decoded on the
// wire: one JSON object, numbers kept as written.
func contextFlag(text string) (map[string]any, error) {
	if text == "" {
		return nil, nil
	}
	req, werr := wire.DecodeRequest([]byte(`{"subject":"-","action":"-","context":` + text + `}`))
	if werr != nil {
		return nil, usage("--context: want one JSON object, such as '{\"mfa\": true}': %s", werr.Message)
	}
	return req.Context, nil
}

func usage(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// exitFor maps a decision to the exit code; nil for allowed, so cobra
// reports success.
func exitFor(d warden.Decision) error {
	if d.Allowed {
		return nil
	}
	return &exitError{code: ExitDenied}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func printDecision(w io.Writer, req warden.Request, d warden.Decision, p *warden.Policy) {
	verdict := "DENIED"
	if d.Allowed {
		verdict = "ALLOWED"
	}
	fmt.Fprintf(w, "%s  %s\n", verdict, d.Reason)
	if d.Effect != warden.EffectNone {
		fmt.Fprintf(w, "  rule:     %s\n", types.ItemName(d.Rule, d.Effect, d.Item))
		fmt.Fprintf(w, "  subject:  %s\n", strings.Join(d.SubjectPath, " → "))
		fmt.Fprintf(w, "  resource: %s\n", types.ResourceChain(d.ResourcePath))
	}
	if len(d.MissingContext) > 0 {
		fmt.Fprintf(w, "  missing:  context.%s\n", strings.Join(d.MissingContext, ", context."))
	}
	for _, e := range d.ConditionErrors {
		fmt.Fprintf(w, "  failed:   %s when %s: %s\n", e.Rule, e.When, e.Error)
	}
	if d.Revision != 0 {
		fmt.Fprintf(w, "  policy:   %s (%s), data at revision %d\n", d.PolicyVersion, p.Strategy(), d.Revision)
	} else {
		fmt.Fprintf(w, "  policy:   %s (%s)\n", d.PolicyVersion, p.Strategy())
	}
}

// runBatch decides one request per input line. Output line i answers input
// line i, always: a line that cannot be decided gets an error object, so a
// script can zip inputs with outputs.
//
// With an audit log, a decision is printed only once its event is durable
// in the store: lines wait in order, up to maxPendingLines, while their
// events are queued; the writer commits whatever is queued at once (group
// commit), and the oldest line is printed when its event is committed. A
// line whose event could not be recorded gets the error object
// audit_failed instead of its decision, and the run fails at the end.
func runBatch(p *warden.Policy, in io.Reader, out io.Writer, log *auditLog) error {
	r := bufio.NewReaderSize(in, 64<<10)
	w := bufio.NewWriterSize(out, 64<<10)
	var buf []byte
	var pending []pendingLine // oldest first
	var auditErr error
	// emit prints the oldest n pending lines, each once its event is
	// durable.
	emit := func(n int) error {
		for _, pl := range pending[:n] {
			if pl.wait {
				if err := pl.receipt.Wait(context.Background()); err != nil {
					if auditErr == nil {
						auditErr = fmt.Errorf("line %d: %w", pl.line, err)
					}
					pl.err = wire.Errorf(wire.CodeAuditFailed, "the decision could not be recorded in the audit log: %v", err)
				}
			}
			if pl.err != nil {
				pl.err.Line = pl.line
				buf = wire.AppendError(buf[:0], pl.err)
			} else {
				buf = wire.AppendDecision(buf[:0], &pl.d)
			}
			if _, err := w.Write(append(buf, '\n')); err != nil {
				return &exitError{code: ExitUsage, err: fmt.Errorf("writing output: %w", err)}
			}
		}
		pending = append(pending[:0], pending[n:]...)
		return nil
	}
	for line := 1; ; line++ {
		// Before a read could block, print (and flush) everything
		// decided, so an interactive producer sees each answer as soon as
		// its event is stored.
		if r.Buffered() == 0 {
			if err := emit(len(pending)); err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return &exitError{code: ExitUsage, err: fmt.Errorf("writing output: %w", err)}
			}
		}
		data, tooLong, err := readLine(r, wire.MaxRequestBytes)
		if err == io.EOF && data == nil && !tooLong {
			break
		}
		if err != nil && err != io.EOF {
			emit(len(pending))
			w.Flush()
			return &exitError{code: ExitUsage, err: fmt.Errorf("reading requests: line %d: %w", line, err)}
		}
		pl := pendingLine{line: line}
		switch {
		case tooLong:
			pl.err = wire.Errorf(wire.CodeTooLarge, "request is over the limit of %d bytes", wire.MaxRequestBytes)
		case len(bytes.TrimSpace(data)) == 0:
			pl.err = wire.Errorf(wire.CodeInvalidJSON, "empty line")
		default:
			var lerr error
			if pl, lerr = decideLine(p, data, line, log); lerr != nil {
				emit(len(pending))
				w.Flush()
				return &exitError{code: ExitUsage, err: fmt.Errorf("audit log: %w", lerr)}
			}
		}
		pending = append(pending, pl)
		if len(pending) >= maxPendingLines {
			if err := emit(len(pending) / 2); err != nil {
				return err
			}
		}
		if err == io.EOF {
			break
		}
	}
	if err := emit(len(pending)); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return &exitError{code: ExitUsage, err: fmt.Errorf("writing output: %w", err)}
	}
	if auditErr != nil {
		return &exitError{code: ExitUsage, err: fmt.Errorf("audit log: %w", auditErr)}
	}
	return nil
}

// maxPendingLines bounds the decided lines waiting for their events to
// be stored. Printing the older half when it fills keeps the audit writer
// fed with the newer half, so writing and deciding overlap.
const maxPendingLines = 4096

// pendingLine is a decided line waiting for its event to be stored.
type pendingLine struct {
	line    int
	d       warden.Decision // the decision to print, unless err
	err     *wire.Error     // the error object to print instead
	wait    bool            // print only once receipt says the event is stored
	receipt audit.Receipt   // the event's receipt, when wait
}

func decideLine(p *warden.Policy, data []byte, line int, log *auditLog) (pendingLine, error) {
	pl := pendingLine{line: line}
	req, werr := wire.DecodeRequest(data)
	if werr != nil {
		pl.err = werr
		return pl, nil
	}
	start := time.Now()
	e, err := p.Explain(req)
	if log != nil {
		rc, rerr := log.submit(req, e.Decision, err, start)
		if rerr != nil {
			return pl, rerr
		}
		pl.wait, pl.receipt = true, rc
	}
	if err != nil {
		pl.err = wire.FromDecideError(err)
		return pl, nil
	}
	pl.d = e.Decision
	return pl, nil
}

// readLine reads one line without its line ending. A line longer than max
// is consumed and reported as tooLong, so one hostile line neither
// exhausts memory nor stops the batch.
func readLine(r *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > max+2 { // room for "\r\n"
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF && len(line) == 0 && !tooLong {
			return nil, false, io.EOF
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if line == nil && !tooLong {
			line = []byte{}
		}
		return line, tooLong, err
	}
}
