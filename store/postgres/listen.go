package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/warden-authz/warden/store"
)

// listenReadTimeout bounds the listener's read of the revision and the
// policy Seq, done when it connects and at every poll.
const listenReadTimeout = 5 * time.Second

// Reconnection backoff of the listener. The backoff spares a database
// that is down; once the pool reaches it again, the listener is told to
// try at once (Store.reached) rather than sleep out its backoff, so
// notifications resume when the store does, not seconds later.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Wait implements store.Notifier. The first call starts the listener
// (package doc); every call then waits for it, or for a Write through
// this Store, to see a revision past after.
func (s *Store) Wait(ctx context.Context, after store.Revision) (store.Revision, error) {
	if err := s.usable(); err != nil {
		return 0, err
	}
	for {
		s.mu.Lock()
		s.startListener()
		known, wake := s.known, s.wake
		s.mu.Unlock()
		if s.closed.Load() {
			return 0, store.ErrClosed
		}
		if known > after {
			return known, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// startListener starts the listener unless it runs; s.mu is held.
func (s *Store) startListener() {
	if !s.listening && !s.closed.Load() {
		s.listening = true
		s.listenerAway.Store(true)
		s.done = make(chan struct{})
		go s.listen(s.done)
	}
}

// listen keeps a listening connection until the store closes,
// reconnecting with backoff when it breaks. A query of the pool that
// succeeds while the listener is away cuts the backoff short (reached),
// once per disconnection: if that attempt fails too, the listener goes
// on with its backoff, so a listener that cannot connect while the pool
// can (a connection limit, say) does not retry at the rate of queries.
func (s *Store) listen(done chan struct{}) {
	defer close(done)
	backoff := s.backoffMin
	kickable := true
	for s.stopCtx.Err() == nil {
		if s.listenOnce() {
			backoff = s.backoffMin
			kickable = true
		}
		var kick <-chan struct{}
		if kickable {
			kick = s.kick
		}
		select {
		case <-s.stopCtx.Done():
			return
		case <-kick:
			kickable = false
		case <-time.After(backoff):
			backoff = min(2*backoff, s.backoffMax)
		}
	}
}

// reached is called when a query of the pool succeeded: if the listener
// is away, it should try again now (listen).
func (s *Store) reached() {
	if s.listenerAway.Load() {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// listenOnce connects, LISTENs and follows the revision and the policy
// Seq until the connection fails or the store closes. It reports whether
// it got as far as listening.
func (s *Store) listenOnce() (connected bool) {
	ctx := s.stopCtx
	conn, err := pgx.ConnectConfig(ctx, s.connCfg.Copy())
	if err != nil {
		return false
	}
	defer conn.Close(context.Background())
	s.mu.Lock()
	s.connects++
	s.mu.Unlock()
	for _, ch := range []string{s.channel, s.pchan} {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return false
		}
	}
	// Listening: a query that succeeded before now says nothing new.
	s.listenerAway.Store(false)
	defer s.listenerAway.Store(true)
	select {
	case <-s.kick:
	default:
	}
	// Read the revision and the policy Seq now that notifications flow,
	// so nothing committed while the listener was away is missed; then at
	// every poll.
	for {
		var rev, seq int64
		// Bounded: on a stalled network the read would otherwise wait
		// until TCP gave up, and the listener with it; past the bound
		// the connection is dropped and made again.
		qctx, cancel := context.WithTimeout(ctx, listenReadTimeout)
		err := conn.QueryRow(qctx, `SELECT (SELECT revision FROM `+s.schema+`.store_revision WHERE id),
			(SELECT coalesce(max(seq), 0) FROM `+s.schema+`.store_policies)`).Scan(&rev, &seq)
		cancel()
		if err != nil {
			return true
		}
		s.publish(store.Revision(rev))
		s.publishSeq(uint64(seq))
		for {
			wctx, cancel := context.WithTimeout(ctx, s.poll)
			n, err := conn.WaitForNotification(wctx)
			cancel()
			if err != nil {
				if ctx.Err() == nil && (pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded)) && !conn.IsClosed() {
					break // poll
				}
				return true
			}
			r, err := strconv.ParseUint(n.Payload, 10, 64)
			if err != nil {
				break // not ours to parse: read the revision and Seq instead
			}
			if n.Channel == s.pchan {
				s.publishSeq(r)
			} else {
				s.publish(r)
			}
		}
	}
}
