package cart

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Contacts finds the e-mail address of a cart's owner.
type Contacts interface {
	// Contact returns the e-mail address and name of a customer account;
	// NotFound when there is no such account.
	Contact(ctx context.Context, customerID string) (email, name string, err error)
}

// Abandoned-cart reminders.
const (
	// DefaultReminderDelay is how long a cart sits idle before its
	// reminder, unless the shop sets another delay.
	DefaultReminderDelay = 4 * time.Hour
	// ReminderWindow bounds how old a cart's last change may be for a
	// reminder: a cart left weeks ago is not worth a mail, and switching
	// reminders on must not mail every cart ever left.
	ReminderWindow = 7 * 24 * time.Hour
	// reminderBatch is how many carts one RemindAbandoned looks at.
	reminderBatch = 200
)

// RemindAbandoned writes one cart.abandoned event for each cart that
//   - belongs to a customer account (a guest cart has no known address),
//   - is still active (none after checkout) and holds items,
//   - has not changed for idle (and changed less than idle+ReminderWindow ago),
//   - and was never reminded.
//
// Each event is written in the transaction of a conditional UPDATE that
// marks the cart reminded only if it is still active, unreminded and
// unchanged since it was read: several instances running this at once
// remind each cart once. The event carries a fresh restore token whose
// hash the cart keeps (Restore). A cart whose account is gone is marked
// reminded without an event. It returns how many events it wrote.
func (s *Service) RemindAbandoned(ctx context.Context, idle time.Duration, contacts Contacts) (int, error) {
	now := s.now()
	cutoff := now.Add(-idle)
	cands, err := s.store.idle(ctx, cutoff, cutoff.Add(-ReminderWindow), reminderBatch)
	if err != nil {
		return 0, err
	}
	written := 0
	for _, id := range cands {
		if err := ctx.Err(); err != nil {
			return written, err
		}
		r, err := s.store.get(ctx, s.db, id)
		if apperr.Is(err, apperr.NotFound) {
			continue
		}
		if err != nil {
			return written, err
		}
		if r.status != statusActive || r.customerID == "" || len(r.lines) == 0 || r.updatedAt.After(cutoff) {
			continue // changed since the candidates were read
		}
		ev := Abandoned{CartID: r.id, CustomerID: r.customerID, IdleSince: r.updatedAt, Items: []AbandonedItem{}}
		email, name, err := contacts.Contact(ctx, r.customerID)
		switch {
		case apperr.Is(err, apperr.NotFound):
			if _, err := s.markReminded(ctx, r, now, nil); err != nil {
				return written, err
			}
			continue
		case err != nil:
			return written, fmt.Errorf("remind cart %s: %w", r.id, err)
		}
		ev.Email, ev.Name = email, name
		vids := make([]string, len(r.lines))
		for i, l := range r.lines {
			vids[i] = l.variantID
		}
		variants, err := s.catalog.Variants(ctx, vids)
		if err != nil {
			return written, fmt.Errorf("remind cart %s: %w", r.id, err)
		}
		for _, l := range r.lines {
			if v, ok := variants[l.variantID]; ok {
				ev.Items = append(ev.Items, AbandonedItem{Title: itemTitle(v.ProductTitle, v.Title), Quantity: l.qty})
			}
		}
		if len(ev.Items) == 0 { // nothing left in the catalog to come back for
			if _, err := s.markReminded(ctx, r, now, nil); err != nil {
				return written, err
			}
			continue
		}
		ev.RestoreToken = restorePrefix + ids.Secret(24)
		ok, err := s.markReminded(ctx, r, now, &ev)
		if err != nil {
			return written, err
		}
		if ok {
			written++
		}
	}
	return written, nil
}

// markReminded marks r reminded at now if it is still as read (active,
// unreminded, not changed since), and writes ev (when not nil) in the same
// transaction. It reports whether it marked the cart.
func (s *Service) markReminded(ctx context.Context, r record, now time.Time, ev *Abandoned) (bool, error) {
	var hash *string
	if ev != nil {
		h := tokenHash(ev.RestoreToken)
		hash = &h
	}
	marked := false
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		ok, err := s.store.remind(ctx, tx, r.id, r.updatedAt, now, hash)
		if err != nil || !ok {
			return err
		}
		marked = true
		if ev == nil {
			return nil
		}
		return outbox.Write(ctx, tx, *ev)
	})
	if err != nil {
		return false, fmt.Errorf("remind cart %s: %w", r.id, err)
	}
	return marked, nil
}

func itemTitle(product, variant string) string {
	if variant == "" || variant == "Default" {
		return product
	}
	return product + " (" + variant + ")"
}

// restorePrefix marks restore tokens, so that one is recognised in logs
// and cannot be mistaken for a cart id.
const restorePrefix = "cr_"

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Restored is the cart a restore link leads to.
type Restored struct {
	CartID     string
	CustomerID string // the owner: only they may open the cart
}

// Restore returns the cart whose reminder carried token, if that cart is
// still active. Anything else (a malformed or unknown token, a cart that
// was checked out or merged since) is NotFound. The token only names the
// cart: the cart still belongs to its customer, who must be signed in to
// see it.
func (s *Service) Restore(ctx context.Context, token string) (Restored, error) {
	notFound := apperr.NotFoundf("this link no longer leads to a cart: it was checked out or has expired")
	if len(token) > 64 || len(token) < len(restorePrefix)+16 || token[:len(restorePrefix)] != restorePrefix || !ids.Plausible(token) {
		return Restored{}, notFound
	}
	id, cust, ok, err := s.store.byRestoreHash(ctx, tokenHash(token))
	if err != nil {
		return Restored{}, err
	}
	if !ok {
		return Restored{}, notFound
	}
	return Restored{CartID: id, CustomerID: cust}, nil
}

// Active reports whether cart id exists and is still open (not checked
// out, not merged into another). It does not check who asks: it tells
// notify whether a reminder is still worth sending.
func (s *Service) Active(ctx context.Context, id string) (bool, error) {
	if !ids.Plausible(id) {
		return false, nil
	}
	r, err := s.store.get(ctx, s.db, id)
	if apperr.Is(err, apperr.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return r.status == statusActive, nil
}
