package giftcard

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mercato-shop/mercato/internal/address"
	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/ratelimit"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Options configure the service.
type Options struct {
	Currency  string        // the shop currency: cards are issued in it (default EUR)
	SKUPrefix string        // SKUs of gift card products (default DefaultSKUPrefix)
	HoldTTL   time.Duration // how long a hold lasts (default DefaultHoldTTL)
	// Lookups per client address per LookupWindow (default
	// LookupsPerAddress per LookupWindow).
	Lookups      int
	LookupWindow time.Duration
	Now          func() time.Time // the clock (tests)
}

// Service is the gift card module's business logic.
type Service struct {
	db        *sqldb.DB
	st        store
	log       *slog.Logger
	currency  string
	skuPrefix string
	holdTTL   time.Duration
	lookups   int
	window    time.Duration
	clock     func() time.Time
}

// NewService returns the gift card service on db; log receives what the
// event consumer has to drop or leave to staff.
func NewService(db *sqldb.DB, opt Options, log *slog.Logger) *Service {
	s := &Service{db: db, st: store{db}, log: log, currency: opt.Currency, skuPrefix: opt.SKUPrefix, holdTTL: opt.HoldTTL,
		lookups: opt.Lookups, window: opt.LookupWindow, clock: opt.Now}
	if s.currency == "" {
		s.currency = "EUR"
	}
	if s.skuPrefix == "" {
		s.skuPrefix = DefaultSKUPrefix
	}
	if s.holdTTL <= 0 {
		s.holdTTL = DefaultHoldTTL
	}
	if s.lookups <= 0 {
		s.lookups = LookupsPerAddress
	}
	if s.window <= 0 {
		s.window = LookupWindow
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	return s
}

func (s *Service) now() time.Time { return s.clock().UTC().Truncate(time.Microsecond) }

// Currency is the currency cards are issued in.
func (s *Service) Currency() string { return s.currency }

// SKUPrefix is the SKU prefix of gift card products.
func (s *Service) SKUPrefix() string { return s.skuPrefix }

// invalidCode is the 422 on field "code" for a code that cannot be used.
func invalidCode(msg string) error {
	return &apperr.Error{Code: apperr.Unprocessable, Message: "the gift card cannot be used: " + msg,
		Fields: []apperr.FieldError{{Field: "code", Message: msg}}}
}

// notACard is the answer for a code that is no card, a disabled card or a
// card in another currency: the same words for all, so that the answer
// does not tell a guessed code from a real one that is blocked.
const notACard = "is not a valid gift card"

// ---- staff ----

// IssueInput is what staff give to issue a card.
type IssueInput struct {
	Amount         int64      `json:"amount"` // minor units of the shop currency
	RecipientEmail string     `json:"recipient_email"`
	ExpiresAt      *time.Time `json:"expires_at"`
	Note           string     `json:"note"`
	// Key, when set, issues at most one card for it: the same key again
	// (a form sent twice) is a Conflict, and no second card is made.
	Key string `json:"-"`
}

// MaxValidity bounds a card's expiry.
const MaxValidity = 10 * 366 * 24 * time.Hour

// Issue creates a card of in.Amount in the shop currency and returns it
// with its code, which is shown this once. With a recipient, the code is
// mailed to them (giftcard.issued). Bad fields are Invalid naming each
// (amount, recipient_email, expires_at, note); a Key used before is a
// Conflict.
func (s *Service) Issue(ctx context.Context, in IssueInput, actor string) (NewCard, error) {
	var v apperr.Validator
	now := s.now()
	v.Check(in.Amount >= 1 && in.Amount <= MaxAmount, "amount", fmt.Sprintf("must be between 1 and %d (minor units)", MaxAmount))
	if in.RecipientEmail != "" {
		e, err := address.NormalizeEmail("recipient_email", in.RecipientEmail)
		if err != nil {
			v.Add("recipient_email", "must be an e-mail address like name@example.com")
		}
		in.RecipientEmail = e
	}
	if in.ExpiresAt != nil {
		t := in.ExpiresAt.UTC().Truncate(time.Microsecond)
		v.Check(t.After(now) && t.Before(now.Add(MaxValidity)), "expires_at", "must be in the future, at most 10 years ahead")
		in.ExpiresAt = &t
	}
	in.Note = strings.TrimSpace(in.Note)
	checkText(&v, "note", in.Note, 500)
	if err := v.Err(); err != nil {
		return NewCard{}, err
	}
	var out NewCard
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		var err error
		out, err = s.issue(ctx, tx, Card{Initial: money.Money{Amount: in.Amount, Currency: s.currency}, ExpiresAt: in.ExpiresAt,
			RecipientEmail: in.RecipientEmail, Note: in.Note, IssuedBy: actor}, in.Key, "")
		return err
	})
	return out, err
}

// issue stores a new card (c's value, expiry, recipient, note, order,
// issuer) in tx with its first ledger entry and giftcard.issued.
func (s *Service) issue(ctx context.Context, tx *sqldb.Tx, c Card, key, orderNumber string) (NewCard, error) {
	code := newCode()
	norm, _ := normalize(code)
	now := s.now()
	c.ID, c.Last4, c.CreatedAt, c.stored = ids.New(), last4(norm), now, StatusActive
	if err := s.st.insertCard(ctx, tx, c, hashCode(norm), key); err != nil {
		return NewCard{}, err
	}
	note := "issued"
	if c.OrderID != "" {
		note = "sold in order " + orderNumber
	}
	if _, err := s.change(ctx, tx, c.ID, KindIssue, c.Initial.Amount, 0, c.OrderID, c.IssuedBy, note, ""); err != nil {
		return NewCard{}, err
	}
	if err := outbox.Write(ctx, tx, newIssued(c, code, orderNumber)); err != nil {
		return NewCard{}, err
	}
	c.Balance = c.Initial
	c.Held = money.Zero(c.Initial.Currency)
	c.derive(now)
	return NewCard{Card: c, Code: code}, nil
}

// change moves a card's money in tx when cond holds (see store.move) and
// records the movement in the ledger; false (and nothing written) when
// the condition did not hold.
func (s *Service) change(ctx context.Context, tx *sqldb.Tx, cardID, kind string, dBalance, dHeld int64, ref, actor, note, cond string, args ...any) (bool, error) {
	now := s.now()
	bal, held, ok, err := s.st.move(ctx, tx, cardID, dBalance, dHeld, now, cond, args...)
	if err != nil || !ok {
		return false, err
	}
	return true, s.st.insertEntry(ctx, tx, cardID, Entry{ID: ids.New(), Kind: kind, Amount: dBalance, HeldChange: dHeld,
		BalanceAfter: bal, HeldAfter: held, Reference: ref, Actor: actor, Note: note, CreatedAt: now})
}

// Get returns a card with its ledger; NotFound when unknown.
func (s *Service) Get(ctx context.Context, id string) (CardDetail, error) {
	if !ids.Valid(id) {
		return CardDetail{}, errCardNotFound()
	}
	c, err := s.st.cardByID(ctx, s.db, id)
	if err != nil {
		return CardDetail{}, err
	}
	c.derive(s.now())
	ledger, err := s.st.ledger(ctx, s.db, id)
	if err != nil {
		return CardDetail{}, err
	}
	return CardDetail{Card: c, Ledger: ledger}, nil
}

// ListQuery selects cards for staff.
type ListQuery struct {
	Status string // active, disabled, expired, spent; "" for all
	Code   string // a whole code, or its last 4 characters
	Limit  int    // 1..100; 0 means 20
	Cursor string // the previous page's NextCursor
}

// Page is a page of cards, newest first; NextCursor is nil on the last.
type Page struct {
	Items      []Card  `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// List returns cards newest first. A bad status, code, limit or cursor is
// Invalid naming it.
func (s *Service) List(ctx context.Context, q ListQuery) (Page, error) {
	var v apperr.Validator
	if q.Limit == 0 {
		q.Limit = 20
	}
	v.Check(q.Limit >= 1 && q.Limit <= 100, "limit", "must be between 1 and 100")
	v.Check(q.Status == "" || slices.Contains([]string{StatusActive, StatusDisabled, StatusExpired, StatusSpent}, q.Status),
		"status", "must be one of active, disabled, expired, spent")
	f := listFilter{status: q.Status, limit: q.Limit + 1, now: s.now()}
	if q.Code != "" {
		if norm, ok := normalize(q.Code); ok {
			f.hash = hashCode(norm)
		} else if l := strings.ToUpper(strings.TrimSpace(q.Code)); len(l) == 4 && strings.Trim(l, codeAlphabet) == "" {
			f.last4 = l
		} else {
			v.Add("code", "must be a gift card code or its last 4 characters")
		}
	}
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || !ids.Valid(string(b)) {
			v.Add("cursor", "is not a cursor returned by this list")
		}
		f.after = string(b)
	}
	if err := v.Err(); err != nil {
		return Page{}, err
	}
	items, err := s.st.list(ctx, s.db.Reader(), f)
	if err != nil {
		return Page{}, err
	}
	for i := range items {
		items[i].derive(f.now)
	}
	p := Page{Items: items}
	if len(items) > q.Limit {
		p.Items = items[:q.Limit]
		c := base64.RawURLEncoding.EncodeToString([]byte(p.Items[q.Limit-1].ID))
		p.NextCursor = &c
	}
	return p, nil
}

// Disable stops a card from paying anything from now on (holds already
// made can still be captured or released). A bad reason is Invalid;
// NotFound when unknown; a disabled card is a Conflict.
func (s *Service) Disable(ctx context.Context, id, reason, actor string) (Card, error) {
	var v apperr.Validator
	reason = strings.TrimSpace(reason)
	checkText(&v, "reason", reason, 200)
	if err := v.Err(); err != nil {
		return Card{}, err
	}
	if !ids.Valid(id) {
		return Card{}, errCardNotFound()
	}
	if reason == "" {
		reason = "disabled by " + actor
	}
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		ok, err := s.st.disable(ctx, tx, id, reason, false, s.now())
		if err != nil || ok {
			return err
		}
		if _, err := s.st.cardByID(ctx, tx, id); err != nil {
			return err
		}
		return apperr.Conflictf("the gift card is already disabled")
	})
	if err != nil {
		return Card{}, err
	}
	d, err := s.Get(ctx, id)
	return d.Card, err
}

// Adjust changes a card's balance by delta (minor units, either sign) with
// a reason, as an adjustment in the ledger. A zero or too large delta, or a
// missing reason, is Invalid; NotFound when unknown; a balance that would
// fall below what is held (or zero) or above MaxAmount is a Conflict.
func (s *Service) Adjust(ctx context.Context, id string, delta int64, reason, actor string) (Card, error) {
	var v apperr.Validator
	v.Check(delta != 0 && delta >= -MaxAmount && delta <= MaxAmount, "amount", fmt.Sprintf("must be a non-zero amount between -%d and %d (minor units)", MaxAmount, MaxAmount))
	reason = strings.TrimSpace(reason)
	v.Check(reason != "", "reason", "is required")
	checkText(&v, "reason", reason, 200)
	if err := v.Err(); err != nil {
		return Card{}, err
	}
	if !ids.Valid(id) {
		return Card{}, errCardNotFound()
	}
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		ok, err := s.change(ctx, tx, id, KindAdjustment, delta, 0, "", actor, reason, "balance + ? >= held AND balance + ? <= ?", delta, delta, MaxAmount)
		if err != nil || ok {
			return err
		}
		c, err := s.st.cardByID(ctx, tx, id)
		if err != nil {
			return err
		}
		return &apperr.Error{Code: apperr.Conflict, Message: fmt.Sprintf("the balance (%s, of which %s held) cannot change by %d", c.Balance.Format(), c.Held.Format(), delta),
			Fields: []apperr.FieldError{{Field: "amount", Message: "would take the balance below what is held or above the maximum"}}}
	})
	if err != nil {
		return Card{}, err
	}
	d, err := s.Get(ctx, id)
	return d.Card, err
}

// checkText records an error for field unless s is at most max characters
// of text without control characters.
func checkText(v *apperr.Validator, field, s string, max int) {
	switch {
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		v.Add(field, fmt.Sprintf("must be at most %d characters", max))
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		v.Add(field, "must not contain control characters")
	}
}

// ---- look-ups by code ----

// lookup counts a look-up of a code from client (an IP address; "" when
// unknown) and refuses it with TooManyRequest once the address made its
// allowance (see LookupsPerAddress).
func (s *Service) lookup(ctx context.Context, client string) error {
	wait, err := s.st.take(ctx, "lookup "+addressKey(client), s.lookups, s.window, s.now())
	if err != nil {
		return err
	}
	if wait > 0 {
		return ratelimit.Exceeded("too many gift card look-ups from your network; try again in "+aboutDuration(wait), wait)
	}
	return nil
}

// addressKey is the limiter key of a client address: IPv4 addresses one by
// one, IPv6 by /64 (one subscriber usually holds a whole /64).
func addressKey(ip string) string {
	if ip == "" {
		return "unknown"
	}
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is6() || a.Is4In6() {
		return ip
	}
	p, _ := a.Prefix(64)
	return p.String()
}

func aboutDuration(d time.Duration) string {
	secs := int(max((d+time.Second-1)/time.Second, 1))
	if secs < 60 {
		return fmt.Sprintf("%d seconds", secs)
	}
	if m := (secs + 59) / 60; m > 1 {
		return fmt.Sprintf("%d minutes", m)
	}
	return "1 minute"
}

// PurgeLookups deletes the look-up counts whose window has ended (a
// periodic job; safe beside itself on other instances).
func (s *Service) PurgeLookups(ctx context.Context) (int64, error) {
	return s.st.purgeLimits(ctx, s.now())
}

// Balance tells the holder of a code what the card can still pay and when
// it expires, and nothing else. Every call counts as a look-up from client
// (429 beyond the allowance). A code that is no card, or a disabled card,
// is NotFound.
func (s *Service) Balance(ctx context.Context, client, code string) (Balance, error) {
	if err := s.lookup(ctx, client); err != nil {
		return Balance{}, err
	}
	norm, ok := normalize(code)
	if !ok {
		return Balance{}, errCardNotFound()
	}
	c, err := s.st.cardByHash(ctx, s.db.Reader(), hashCode(norm))
	if err != nil {
		return Balance{}, err
	}
	if c.stored == StatusDisabled {
		return Balance{}, errCardNotFound()
	}
	c.derive(s.now())
	return Balance{Balance: c.Available, ExpiresAt: c.ExpiresAt}, nil
}

// ---- carts ----

// Apply puts the card with code on a cart in currency, after the cards
// already there (applying it again changes nothing). The caller has checked
// that the cart is the caller's and can change. Every call counts as a
// look-up from client (429 beyond the allowance). A code that cannot pay
// is Unprocessable on "code": "is not a valid gift card" for a code that
// is no card, a disabled card or one in another currency (the same words,
// so a guess learns nothing more than a miss), and, for a real card whose
// holder the balance check would tell anyway, that it has expired or has
// nothing left. A cart full of cards (MaxPerCart) is Unprocessable too.
func (s *Service) Apply(ctx context.Context, client, cartID, currency, code string) error {
	if err := s.lookup(ctx, client); err != nil {
		return err
	}
	c, err := s.findCard(ctx, code, currency)
	if err != nil {
		return err
	}
	if c.Available.Amount <= 0 {
		return invalidCode("this gift card has no balance left")
	}
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error { return s.st.apply(ctx, tx, cartID, c.ID, s.now()) })
}

// findCard finds the card of code that may pay in currency now (it may
// have nothing left), or says why not (see Apply).
func (s *Service) findCard(ctx context.Context, code, currency string) (Card, error) {
	if strings.TrimSpace(code) == "" {
		return Card{}, apperr.Field("code", "is required")
	}
	norm, ok := normalize(code)
	if !ok {
		return Card{}, invalidCode(notACard)
	}
	c, err := s.st.cardByHash(ctx, s.db.Reader(), hashCode(norm))
	if apperr.Is(err, apperr.NotFound) || (err == nil && (c.stored == StatusDisabled || c.Balance.Currency != currency)) {
		return Card{}, invalidCode(notACard)
	}
	if err != nil {
		return Card{}, err
	}
	c.derive(s.now())
	if c.Status == StatusExpired {
		return Card{}, invalidCode("this gift card expired on " + c.ExpiresAt.Format("2 January 2006"))
	}
	return c, nil
}

// Remove takes a card off a cart; code is the card's whole code or its
// last 4 characters (as the cart shows it). The caller has checked that
// the cart is the caller's. NotFound when no such card is on the cart.
func (s *Service) Remove(ctx context.Context, cartID, code string) error {
	cards, err := s.st.applied(ctx, s.db, cartID)
	if err != nil {
		return err
	}
	var drop []string
	if norm, ok := normalize(code); ok {
		if c, err := s.st.cardByHash(ctx, s.db, hashCode(norm)); err == nil {
			drop = append(drop, c.ID)
		} else if !apperr.Is(err, apperr.NotFound) {
			return err
		}
	} else if l := strings.ToUpper(strings.TrimSpace(code)); len(l) == 4 {
		for _, c := range cards {
			if c.Last4 == l {
				drop = append(drop, c.ID)
			}
		}
	}
	ok, err := s.st.unapply(ctx, s.db, cartID, drop)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.NotFoundf("no such gift card on this cart")
	}
	return nil
}

// Applied returns what each card applied to a cart pays of payable (the
// cart's total in currency), in the order the cards were applied, each
// card up to its available balance and all together up to payable. A card
// that cannot pay now (expired, disabled, empty, another currency) is
// listed with amount zero, so the shopper sees it and can remove it. The
// cart's total minus the uses' sum is what the card payment pays.
func (s *Service) Applied(ctx context.Context, cartID, currency string, payable money.Money) ([]Use, error) {
	cards, err := s.st.applied(ctx, s.db.Reader(), cartID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	left := max(payable.Amount, 0)
	uses := make([]Use, 0, len(cards))
	for _, c := range cards {
		u := Use{CardID: c.ID, CodeLast4: c.Last4, Amount: money.Zero(currency), Balance: money.Zero(currency)}
		if c.usable(currency, now) {
			avail := c.Balance.Amount - c.Held.Amount
			u.Balance.Amount = avail
			u.Amount.Amount = min(avail, left)
			left -= u.Amount.Amount
		}
		uses = append(uses, u)
	}
	return uses, nil
}

// ForgetCart removes the cards applied to a cart (once it became an order,
// or was abandoned). It runs in tx when one is given.
func (s *Service) ForgetCart(ctx context.Context, tx *sqldb.Tx, cartID string) error {
	return s.db.Within(ctx, tx, func(tx *sqldb.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM giftcard_cart_cards WHERE cart_id = ?`, cartID); err != nil {
			return fmt.Errorf("forget gift cards of cart: %w", err)
		}
		return nil
	})
}

// ---- holds: the checkout and the order ----

func checkReference(reference string) error {
	if !ids.Plausible(reference) {
		return apperr.Field("reference", "must be an id")
	}
	return nil
}

// noLongerCovers is the Conflict of a hold the card cannot make.
func noLongerCovers(last4 string, amount money.Money) error {
	msg := fmt.Sprintf("gift card …%s can no longer pay %s", last4, amount.Format())
	return &apperr.Error{Code: apperr.Conflict, Message: msg + "; review the cart and check out again",
		Fields: []apperr.FieldError{{Field: "code", Message: msg}}}
}

// Reserve holds, under reference (the order id of a checkout), what each
// use pays (Applied's answer for the cart, as quoted): all of them or none.
// It replaces whatever reference held before, so every attempt of one
// checkout may call it again; the same uses again only extend the holds.
// A card that can no longer pay its amount (spent meanwhile, by another
// checkout, or disabled or expired) is a Conflict naming "code", and
// nothing is held. Holds expire after the service's HoldTTL.
func (s *Service) Reserve(ctx context.Context, reference string, uses []Use) error {
	if err := checkReference(reference); err != nil {
		return err
	}
	want := map[string]int64{}
	last := map[string]string{}
	var currency string
	for i, u := range uses {
		if u.Amount.Amount == 0 {
			continue
		}
		if !ids.Valid(u.CardID) || u.Amount.Amount < 0 || u.Amount.Amount > MaxAmount || !money.ValidCurrency(u.Amount.Currency) ||
			(currency != "" && u.Amount.Currency != currency) {
			return apperr.Field(fmt.Sprintf("uses[%d]", i), "must name a card and an amount between 1 and 100000000 in one currency")
		}
		currency = u.Amount.Currency
		want[u.CardID] += u.Amount.Amount
		last[u.CardID] = u.CodeLast4
	}
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		held, err := s.st.holdsOf(ctx, tx, reference)
		if err != nil {
			return err
		}
		cards := map[string]bool{}
		for id := range want {
			cards[id] = true
		}
		for _, h := range held {
			if h.status == HoldActive || h.status == HoldExpired || h.status == HoldReleased {
				cards[h.cardID] = true
			}
		}
		// One card after the other in id order: the order every
		// transaction locks card rows in, so two cannot deadlock.
		for _, id := range slices.Sorted(maps.Keys(cards)) {
			if err := s.rehold(ctx, tx, reference, id, held, money.Money{Amount: want[id], Currency: currency}, last[id]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Hold holds amount on the card of code under reference, replacing an
// earlier hold of reference on that card (holds of reference on other
// cards stay). A code that is no usable card is Unprocessable on "code"
// (see Apply; no look-up is counted: the caller is the checkout); a card
// that cannot pay amount is a Conflict on "code".
func (s *Service) Hold(ctx context.Context, reference, code string, amount money.Money) (Redemption, error) {
	if err := checkReference(reference); err != nil {
		return Redemption{}, err
	}
	if amount.Amount < 1 || amount.Amount > MaxAmount || !money.ValidCurrency(amount.Currency) {
		return Redemption{}, apperr.Field("amount", fmt.Sprintf("must be between 1 and %d (minor units)", MaxAmount))
	}
	c, err := s.findCard(ctx, code, amount.Currency)
	if err != nil {
		return Redemption{}, err
	}
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		held, err := s.st.holdsOf(ctx, tx, reference)
		if err != nil {
			return err
		}
		return s.rehold(ctx, tx, reference, c.ID, held, amount, c.Last4)
	})
	if err != nil {
		return Redemption{}, err
	}
	return Redemption{CardID: c.ID, CodeLast4: c.Last4, Amount: amount, Credited: money.Zero(amount.Currency), Status: HoldActive}, nil
}

// rehold makes reference's hold on one card amount (zero: none): an
// active hold of that amount is kept (and extended), any other is given
// back and marked replaced; one released or expired before is marked
// replaced too (its money went back then).
func (s *Service) rehold(ctx context.Context, tx *sqldb.Tx, reference, cardID string, held []hold, amount money.Money, last4 string) error {
	now := s.now()
	kept := false
	for _, h := range held {
		if h.cardID != cardID {
			continue
		}
		switch h.status {
		case HoldActive:
			if !kept && h.amount == amount.Amount {
				kept = true
				if err := s.st.extendHold(ctx, tx, h.id, now.Add(s.holdTTL), now); err != nil {
					return err
				}
				continue
			}
			if err := s.release(ctx, tx, h, HoldReplaced, "replaced by a new checkout attempt"); err != nil {
				return err
			}
		case HoldExpired, HoldReleased:
			if _, err := s.st.settleHold(ctx, tx, h.id, h.status, HoldReplaced, now); err != nil {
				return err
			}
		}
	}
	if kept || amount.Amount == 0 {
		return nil
	}
	ok, err := s.change(ctx, tx, cardID, KindHold, 0, amount.Amount, reference, "system", "",
		"status = 'active' AND currency = ? AND (expires_at IS NULL OR expires_at > ?) AND balance - held >= ?", amount.Currency, now, amount.Amount)
	if err != nil {
		return err
	}
	if !ok {
		if last4 == "" {
			if c, err := s.st.cardByID(ctx, tx, cardID); err == nil {
				last4 = c.Last4
			}
		}
		return noLongerCovers(last4, amount)
	}
	return s.st.insertHold(ctx, tx, hold{id: ids.New(), cardID: cardID, reference: reference, amount: amount.Amount,
		expiresAt: now.Add(s.holdTTL), createdAt: now})
}

// release gives an active hold's money back to its card, as status
// (released, expired or replaced); a hold settled meanwhile by someone
// else is left alone.
func (s *Service) release(ctx context.Context, tx *sqldb.Tx, h hold, status, note string) error {
	ok, err := s.st.settleHold(ctx, tx, h.id, HoldActive, status, s.now())
	if err != nil || !ok {
		return err
	}
	ok, err = s.change(ctx, tx, h.cardID, KindRelease, 0, -h.amount, h.reference, "system", note, "held >= ?", h.amount)
	if err == nil && !ok {
		err = fmt.Errorf("release gift card hold %s: card %s holds less than %d", h.id, h.cardID, h.amount)
	}
	return err
}

// Capture takes the active holds of reference off their cards' balances,
// in tx (the order's transaction), and returns what the cards have paid
// for reference in all (minor units; 0 for an order without gift cards).
// Capturing again captures nothing more. When a hold of reference was
// given back (it expired, or Release ran) and no Reserve replaced it since,
// it is a Conflict naming "code": the money may be spent, and the order
// must not be placed on it.
func (s *Service) Capture(ctx context.Context, tx *sqldb.Tx, reference string) (int64, error) {
	if err := checkReference(reference); err != nil {
		return 0, err
	}
	var paid int64
	err := s.db.Within(ctx, tx, func(tx *sqldb.Tx) error {
		held, err := s.st.holdsOf(ctx, tx, reference)
		if err != nil {
			return err
		}
		for _, h := range held {
			if h.status == HoldExpired || h.status == HoldReleased {
				return noLongerCovers(h.last4, money.Money{Amount: h.amount, Currency: h.currency})
			}
		}
		slices.SortFunc(held, func(a, b hold) int { return strings.Compare(a.cardID, b.cardID) })
		now := s.now()
		for _, h := range held {
			switch h.status {
			case HoldCaptured:
				paid += h.amount
				continue
			case HoldActive:
			default:
				continue
			}
			ok, err := s.st.settleHold(ctx, tx, h.id, HoldActive, HoldCaptured, now)
			if err != nil {
				return err
			}
			if !ok { // released or expired since it was read
				return noLongerCovers(h.last4, money.Money{Amount: h.amount, Currency: h.currency})
			}
			ok, err = s.change(ctx, tx, h.cardID, KindCapture, -h.amount, -h.amount, reference, "system", "", "held >= ?", h.amount)
			if err == nil && !ok {
				err = fmt.Errorf("capture gift card hold %s: card %s holds less than %d", h.id, h.cardID, h.amount)
			}
			if err != nil {
				return err
			}
			paid += h.amount
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return paid, nil
}

// Release gives back every active hold of reference (a failed checkout, an
// attempt taken over, the reconciler's sweep). Releasing twice is a no-op.
// Until a new Reserve, the reference cannot capture (see Capture).
func (s *Service) Release(ctx context.Context, reference string) error {
	if err := checkReference(reference); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error { return s.releaseAll(ctx, tx, reference, "checkout did not complete") })
}

// releaseAll gives back every active hold of reference in tx.
func (s *Service) releaseAll(ctx context.Context, tx *sqldb.Tx, reference, note string) error {
	held, err := s.st.holdsOf(ctx, tx, reference)
	if err != nil {
		return err
	}
	slices.SortFunc(held, func(a, b hold) int { return strings.Compare(a.cardID, b.cardID) })
	for _, h := range held {
		if h.status == HoldActive {
			if err := s.release(ctx, tx, h, HoldReleased, note); err != nil {
				return err
			}
		}
	}
	return nil
}

// expiryBatch bounds the holds one ReleaseExpired call releases.
const expiryBatch = 500

// ReleaseExpired releases the active holds whose expiry is at or before
// now (each in its own transaction, conditionally, so instances may run it
// side by side) and returns how many it released. A reference that loses
// a hold this way cannot capture until it reserves again (see Capture).
func (s *Service) ReleaseExpired(ctx context.Context, now time.Time) (int, error) {
	hs, err := s.st.expiredHolds(ctx, s.db, now.UTC(), expiryBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, h := range hs {
		if err := s.db.InTx(ctx, func(tx *sqldb.Tx) error { return s.release(ctx, tx, h, HoldExpired, "hold expired") }); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Credit gives up to amount (minor units) of a refund of reference back to
// the cards that paid for it, in the order they were used, each up to what
// it paid less what earlier refunds gave back; in tx (the refund's
// transaction) when one is given. It returns how much went to cards: the
// rest of the refund goes to the payment. A negative amount is Invalid.
func (s *Service) Credit(ctx context.Context, tx *sqldb.Tx, reference string, amount int64) (int64, error) {
	if err := checkReference(reference); err != nil {
		return 0, err
	}
	if amount < 0 || amount > MaxAmount*MaxPerCart {
		return 0, apperr.Field("amount", "must not be negative")
	}
	left := amount
	err := s.db.Within(ctx, tx, func(tx *sqldb.Tx) error {
		left = amount
		// Refunds of one reference take their turns (the lock is held to
		// the end of tx), so each reads what the earlier ones credited.
		if err := s.st.lockCaptured(ctx, tx, reference); err != nil {
			return err
		}
		held, err := s.st.holdsOf(ctx, tx, reference)
		if err != nil {
			return err
		}
		// What each card gets, in the order the cards were used; then the
		// writes in card id order (the order every transaction locks card
		// rows in, so two refunds cannot deadlock).
		type credit struct {
			h    hold
			give int64
		}
		var plan []credit
		for _, h := range held {
			give := min(left, h.amount-h.credited)
			if left == 0 || h.status != HoldCaptured || give <= 0 {
				continue
			}
			plan = append(plan, credit{h, give})
			left -= give
		}
		slices.SortStableFunc(plan, func(a, b credit) int { return strings.Compare(a.h.cardID, b.h.cardID) })
		for _, c := range plan {
			h, give := c.h, c.give
			ok, err := s.st.creditHold(ctx, tx, h.id, give, s.now())
			if err != nil {
				return err
			}
			if !ok { // another refund credited it meanwhile: this part goes to the payment
				left += give
				continue
			}
			if _, err := s.change(ctx, tx, h.cardID, KindCredit, give, 0, reference, "system", "refund", ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return amount - left, nil
}

// Redemptions lists what cards hold or paid for reference (active and
// captured holds), in the order they were made.
func (s *Service) Redemptions(ctx context.Context, reference string) ([]Redemption, error) {
	if !ids.Plausible(reference) {
		return []Redemption{}, nil
	}
	held, err := s.st.holdsOf(ctx, s.db, reference)
	if err != nil {
		return nil, err
	}
	out := []Redemption{}
	for _, h := range held {
		if h.status == HoldActive || h.status == HoldCaptured {
			out = append(out, Redemption{CardID: h.cardID, CodeLast4: h.last4, Amount: money.Money{Amount: h.amount, Currency: h.currency},
				Credited: money.Money{Amount: h.credited, Currency: h.currency}, Status: h.status})
		}
	}
	return out, nil
}
