package notify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/mail"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Delivery. Every instance may run Deliver at the same time; what keeps a
// mail from going out twice:
//
//  1. A worker claims a mail before sending it, with one conditional
//     UPDATE (queued and due, or "sending" under a lease that ran out)
//     that sets status "sending", a lease token and lease_until. Only one
//     worker's UPDATE matches; the others move on.
//  2. Right after the server accepts the message (its answer to the end
//     of DATA), the worker marks the mail sent, fenced by its lease token.
//     The SMTP exchange and the mark run on a context that shutdown does
//     not cancel (bounded by sendTimeout), and a stopping worker claims
//     nothing more: a graceful restart always records what it sent.
//  3. The one window left is a crash (SIGKILL, power loss, a database that
//     is gone) between the server's acceptance and the mark: after the
//     lease (leaseFor) the mail is sent again. Its Message-ID is derived
//     from the mail's id (<id@from-domain>), the same on both copies, so
//     mail systems that deduplicate by Message-ID show it once, and the
//     admin panel notes that the earlier attempt was interrupted.
//
// A 5xx answer about the recipient or the message fails the mail at once
// with the server's reason; anything else (4xx, no connection, TLS,
// authentication) is retried after firstRetry, doubling up to maxRetryGap,
// until MaxAttempts; then the mail fails with the last reason. A mail still
// unsent maxQueueAge after it was queued fails rather than go out late
// (mails queued while no SMTP server was configured included). Staff may
// resend any mail that is not being sent (Resend).
const (
	MaxAttempts  = 10               // attempts before a mail fails: about 3 hours of retries
	firstRetry   = 30 * time.Second // the gap after the first failed attempt
	maxRetryGap  = time.Hour        // the longest gap between attempts
	sendTimeout  = time.Minute      // one SMTP exchange, connection to answer
	leaseFor     = 3 * time.Minute  // a claim outlives its exchange and the mark, with room for clock skew
	maxQueueAge  = 72 * time.Hour   // a queued mail older than this is not sent
	deliverBatch = 20               // mails read per query
	maxErrorLen  = 500              // bytes of last_error kept
)

// retryGap is the wait after the given number of failed attempts.
func retryGap(attempts int) time.Duration {
	gap := firstRetry
	for i := 1; i < attempts && gap < maxRetryGap; i++ {
		gap *= 2
	}
	return min(gap, maxRetryGap)
}

// Delivered counts what one Deliver did.
type Delivered struct {
	Sent, Retrying, Failed, Cancelled int
}

// Any reports whether anything was attempted.
func (d Delivered) Any() bool { return d.Sent+d.Retrying+d.Failed+d.Cancelled > 0 }

// Delivering reports whether e-mails are sent (a Sender is configured).
func (s *Service) Delivering() bool { return s.sender != nil }

func (s *Service) delivery() string {
	if s.Delivering() {
		return "smtp"
	}
	return "off"
}

// claimed is a mail a worker holds the lease of.
type claimed struct {
	id, to, subject, text, html, template string
	cartID, unsubscribe, lease            string
	attempts, generation                  int
	queuedAt                              time.Time
}

// Deliver sends every mail that is due, one at a time, until none is left
// or ctx ends (it finishes the mail in hand, then stops). A failure that
// is not about one message (the server is down, refuses the login) ends
// the run early: the mails behind it wait for the next run. Without a
// Sender it does nothing. It returns an error only when the database
// fails.
func (s *Service) Deliver(ctx context.Context) (Delivered, error) {
	var d Delivered
	if s.sender == nil {
		return d, nil
	}
	for ctx.Err() == nil {
		due, err := s.due(ctx, s.now(), deliverBatch)
		if err != nil {
			return d, err
		}
		for _, id := range due {
			if ctx.Err() != nil {
				return d, nil
			}
			stop, err := s.deliverOne(ctx, id, &d)
			if err != nil {
				return d, err
			}
			if stop {
				return d, nil
			}
		}
		if len(due) < deliverBatch {
			break
		}
	}
	return d, nil
}

// due lists the ids of mails to send now: queued ones whose time has come
// and claimed ones whose lease ran out (their worker died).
func (s *Service) due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return sqldb.All(ctx, s.db, "list due e-mails", func(row sqldb.Scanner) (string, error) {
		var id string
		return id, row.Scan(&id)
	}, `SELECT id FROM notify_emails
		WHERE (status = ? AND next_attempt_at <= ?) OR (status = ? AND lease_until < ?)
		ORDER BY next_attempt_at, id LIMIT ?`, StatusQueued, now, StatusSending, now, limit)
}

// deliverOne claims mail id and, if the claim holds, sends it and records
// the outcome. stop is true after a failure that says nothing about this
// message (the next mail would most likely fail the same way).
func (s *Service) deliverOne(ctx context.Context, id string, d *Delivered) (stop bool, err error) {
	now := s.now()
	c, ok, err := s.claim(ctx, id, now)
	if err != nil || !ok {
		return false, err
	}
	// From here on the outcome is recorded even if ctx ends.
	keep := context.WithoutCancel(ctx)
	if reason, err := s.unwanted(keep, c); err != nil {
		s.release(keep, c)
		return false, err
	} else if reason != "" {
		d.Cancelled++
		return false, s.finish(keep, c, StatusCancelled, reason, nil)
	}
	if now.Sub(c.queuedAt) > maxQueueAge {
		d.Failed++
		return false, s.finish(keep, c, StatusFailed,
			fmt.Sprintf("not sent: still queued %s after it was written (resend it to send it now)", maxQueueAge), nil)
	}
	sendCtx, cancel := context.WithTimeout(keep, sendTimeout)
	err = s.sender.Send(sendCtx, mail.Message{ID: messageID(c.id, c.generation), To: c.to, Subject: c.subject,
		Text: c.text, HTML: c.html, ListUnsubscribe: c.unsubscribe})
	cancel()
	if err == nil {
		d.Sent++
		sent := s.now()
		s.log.DebugContext(ctx, "e-mail sent", "email", c.id, "template", c.template, "attempt", c.attempts)
		return false, s.finish(keep, c, StatusSent, "", &sent)
	}
	reason := truncate(err.Error(), maxErrorLen)
	var p interface{ Permanent() bool }
	switch {
	case errors.As(err, &p) && p.Permanent():
		d.Failed++
		s.log.WarnContext(ctx, "e-mail refused by the SMTP server", "email", c.id, "template", c.template, "err", reason)
		return false, s.finish(keep, c, StatusFailed, reason, nil)
	case c.attempts >= MaxAttempts:
		d.Failed++
		s.log.WarnContext(ctx, "e-mail failed: no attempt left", "email", c.id, "template", c.template, "attempts", c.attempts, "err", reason)
		return true, s.finish(keep, c, StatusFailed, truncate(fmt.Sprintf("gave up after %d attempts: %s", c.attempts, reason), maxErrorLen), nil)
	default:
		d.Retrying++
		next := s.now().Add(retryGap(c.attempts))
		s.log.WarnContext(ctx, "e-mail not sent; will retry", "email", c.id, "template", c.template, "attempt", c.attempts, "next_attempt", next, "err", reason)
		return true, s.retry(keep, c, reason, next)
	}
}

// messageID is the left part of the Message-ID of a mail's copy: the same
// for every attempt of one sending, another after each resend.
func messageID(id string, generation int) string {
	if generation == 0 {
		return id
	}
	return id + "-r" + strconv.Itoa(generation)
}

// interrupted is recorded when a worker takes over a mail whose previous
// claim ran out: that worker died, before or after the server accepted it.
const interrupted = "an earlier attempt was interrupted before its outcome was recorded; sent again (a copy may have gone out, with the same Message-ID)"

// claim takes mail id for this worker with one conditional UPDATE: it
// must be queued and due, or held under a lease that ran out. It reports
// false when another worker was first (or the mail is not due).
func (s *Service) claim(ctx context.Context, id string, now time.Time) (claimed, bool, error) {
	lease := ids.Secret(16)
	res, err := s.db.ExecContext(ctx, `UPDATE notify_emails
		SET status = ?, lease_token = ?, lease_until = ?, attempts = attempts + 1,
			last_error = CASE WHEN status = ? THEN ? ELSE last_error END
		WHERE id = ? AND ((status = ? AND next_attempt_at <= ?) OR (status = ? AND lease_until < ?))`,
		StatusSending, lease, now.Add(leaseFor), StatusSending, interrupted,
		id, StatusQueued, now, StatusSending, now)
	if err != nil {
		return claimed{}, false, fmt.Errorf("claim e-mail %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		if err != nil {
			return claimed{}, false, fmt.Errorf("claim e-mail %s: %w", id, err)
		}
		return claimed{}, false, nil
	}
	c := claimed{id: id, lease: lease}
	err = s.db.QueryRowContext(ctx, `SELECT to_addr, subject, text_body, html_body, template, cart_id, unsubscribe_url, attempts, generation, queued_at
		FROM notify_emails WHERE id = ? AND lease_token = ?`, id, lease).
		Scan(&c.to, &c.subject, &c.text, &c.html, &c.template, &c.cartID, &c.unsubscribe, &c.attempts, &c.generation, &c.queuedAt)
	if err != nil {
		return claimed{}, false, fmt.Errorf("read claimed e-mail %s: %w", id, err)
	}
	c.queuedAt = c.queuedAt.UTC()
	return c, true, nil
}

// unwanted says why a claimed mail should not go out at all ("" when it
// should): a reminder to an address that unsubscribed, or for a cart that
// was checked out since.
func (s *Service) unwanted(ctx context.Context, c claimed) (string, error) {
	if c.template != TemplateAbandonedCart {
		return "", nil
	}
	unsub, err := s.unsubscribed(ctx, c.to)
	if err != nil {
		return "", err
	}
	if unsub {
		return "not sent: the recipient unsubscribed from reminders", nil
	}
	if s.carts != nil && c.cartID != "" {
		open, err := s.carts.Active(ctx, c.cartID)
		if err != nil {
			return "", fmt.Errorf("check the cart of e-mail %s: %w", c.id, err)
		}
		if !open {
			return "not sent: the cart was checked out (or is no longer open)", nil
		}
	}
	return "", nil
}

// finish records a claimed mail's final state, under its lease. A
// database that fails here is retried briefly: the mark after a send is
// what keeps the mail from going out again.
func (s *Service) finish(ctx context.Context, c claimed, status, reason string, sentAt *time.Time) error {
	if sentAt != nil {
		return s.mark(ctx, c, `UPDATE notify_emails SET status = ?, sent_at = ?,
			next_attempt_at = NULL, lease_token = NULL, lease_until = NULL
			WHERE id = ? AND lease_token = ?`, status, *sentAt, c.id, c.lease)
	}
	return s.mark(ctx, c, `UPDATE notify_emails SET status = ?, last_error = ?,
		next_attempt_at = NULL, lease_token = NULL, lease_until = NULL
		WHERE id = ? AND lease_token = ?`, status, reason, c.id, c.lease)
}

// retry queues a claimed mail again for next, with the reason it failed.
func (s *Service) retry(ctx context.Context, c claimed, reason string, next time.Time) error {
	return s.mark(ctx, c, `UPDATE notify_emails SET status = ?, last_error = ?, next_attempt_at = ?, lease_token = NULL, lease_until = NULL
		WHERE id = ? AND lease_token = ?`, StatusQueued, reason, next, c.id, c.lease)
}

// release gives a claimed mail back untouched (not counted as an attempt).
func (s *Service) release(ctx context.Context, c claimed) {
	if err := s.mark(ctx, c, `UPDATE notify_emails SET status = ?, attempts = attempts - 1, lease_token = NULL, lease_until = NULL
		WHERE id = ? AND lease_token = ?`, StatusQueued, c.id, c.lease); err != nil {
		s.log.WarnContext(ctx, "e-mail claim not released; it is retried when the claim runs out", "email", c.id, "err", err)
	}
}

func (s *Service) mark(ctx context.Context, c claimed, query string, args ...any) error {
	var err error
	for try := range 4 {
		if try > 0 {
			time.Sleep(time.Duration(try) * 250 * time.Millisecond)
		}
		if _, err = s.db.ExecContext(ctx, query, args...); err == nil {
			return nil
		}
	}
	return fmt.Errorf("record the outcome of e-mail %s: %w", c.id, err)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		n--
	}
	return s[:n] + "…"
}

// Resend queues an e-mail again (whatever its state, unless a worker is
// sending it right now: Conflict), with its attempts reset; unknown ids
// are NotFound. The resent copy gets a Message-ID of its own, so that
// receivers do not take it for a duplicate of an earlier copy.
func (s *Service) Resend(ctx context.Context, id string) (Email, error) {
	if !ids.Valid(id) {
		return Email{}, apperr.NotFoundf("no e-mail %q", id)
	}
	now := s.now()
	res, err := s.db.ExecContext(ctx, `UPDATE notify_emails
		SET status = ?, attempts = 0, last_error = '', next_attempt_at = ?, queued_at = ?, generation = generation + 1,
			lease_token = NULL, lease_until = NULL
		WHERE id = ? AND status <> ?`, StatusQueued, now, now, id, StatusSending)
	if err != nil {
		return Email{}, fmt.Errorf("resend e-mail %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Email{}, fmt.Errorf("resend e-mail %s: %w", id, err)
	}
	e, err := s.getEmail(ctx, s.db, id)
	if err != nil {
		return Email{}, err
	}
	if n != 1 {
		return Email{}, apperr.Conflictf("the e-mail is being sent right now; look again in a minute")
	}
	return e, nil
}
