package affiliate

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// Options configure the programme.
type Options struct {
	Currency string // the shop's currency: figures and payouts are in it
	BaseURL  string // the shop's public address, for share links
	// Window is how long a click refers the visitor's carts and orders
	// (0: DefaultWindow).
	Window time.Duration
	// ReturnWindow is how long a commission stays pending after its order
	// (0: DefaultReturnWindow).
	ReturnWindow time.Duration
	// Rate is the commission of affiliates without their own (nil:
	// DefaultRate).
	Rate *Rate
	Now  func() time.Time // nil: time.Now
}

// Service runs the programme.
type Service struct {
	db   *sqldb.DB
	st   store
	opts Options
	rate Rate
	log  *slog.Logger
	now  func() time.Time
}

// NewService returns the service. It fails on an invalid currency or
// window (a configuration mistake the app's settings refuse first).
func NewService(db *sqldb.DB, opts Options, log *slog.Logger) (*Service, error) {
	if err := validCurrency(opts.Currency); err != nil {
		return nil, err
	}
	if opts.Window == 0 {
		opts.Window = DefaultWindow
	}
	if opts.ReturnWindow == 0 {
		opts.ReturnWindow = DefaultReturnWindow
	}
	if opts.Window < 0 || opts.ReturnWindow < 0 {
		return nil, fmt.Errorf("affiliate: windows must not be negative")
	}
	rate := DefaultRate
	if opts.Rate != nil {
		rate = *opts.Rate
	}
	if rate < 0 || rate > 10000 {
		return nil, fmt.Errorf("affiliate: commission rate %d bp: want 0 to 10000", rate)
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Service{db: db, st: store{db: db}, opts: opts, rate: rate, log: log}
	s.now = func() time.Time { return now().UTC().Truncate(time.Microsecond) }
	return s, nil
}

// Window is how long a click refers the visitor (the referral cookie's age).
func (s *Service) Window() time.Duration { return s.opts.Window }

// DefaultPercent is the commission of affiliates without their own.
func (s *Service) DefaultPercent() float64 { return s.rate.Percent() }

// ---- applications ----

// Apply makes the signed-in account p an applicant: status pending, a new
// code, the account's name and e-mail. An account that applied before gets
// its record as it is (created false), whatever its status: applying twice
// changes nothing. A note over MaxNote characters is Invalid on "note";
// nobody signed in is Unauthorized.
func (s *Service) Apply(ctx context.Context, p auth.Principal, note string) (Affiliate, bool, error) {
	if p.AccountID == "" {
		return Affiliate{}, false, auth.ErrUnauthenticated
	}
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > MaxNote {
		return Affiliate{}, false, apperr.Field("note", fmt.Sprintf("must be at most %d characters", MaxNote))
	}
	for range 5 {
		if a, err := s.st.one(ctx, s.db, "account_id", p.AccountID); err == nil {
			out, err := s.withFigures(ctx, a)
			return out, false, err
		} else if !apperr.Is(err, apperr.NotFound) {
			return Affiliate{}, false, err
		}
		now := s.now()
		a := Affiliate{ID: ids.New(), AccountID: p.AccountID, Email: strings.ToLower(p.Email), Name: p.Name, Code: newCode(), Status: StatusPending,
			Note: note, CreatedAt: now}
		err := s.st.insert(ctx, s.db, a, now)
		if err == nil {
			out, err := s.withFigures(ctx, a)
			return out, true, err
		}
		if !sqldb.IsUniqueViolation(err) {
			return Affiliate{}, false, fmt.Errorf("apply: %w", err)
		}
		// The account applied at the same moment (read it next time round),
		// or the code was taken (draw another).
	}
	return Affiliate{}, false, fmt.Errorf("apply: no free code after 5 attempts")
}

// Mine returns the dashboard of the account's affiliate record with its
// latest commissions; NotFound when the account never applied.
func (s *Service) Mine(ctx context.Context, accountID string) (Dashboard, error) {
	if accountID == "" {
		return Dashboard{}, auth.ErrUnauthenticated
	}
	a, err := s.st.one(ctx, s.db.Reader(), "account_id", accountID)
	if apperr.Is(err, apperr.NotFound) {
		return Dashboard{}, apperr.NotFoundf("you are not an affiliate: apply first")
	}
	if err != nil {
		return Dashboard{}, err
	}
	d := Dashboard{Recent: []Commission{}}
	if d.Affiliate, err = s.withFigures(ctx, a); err != nil {
		return Dashboard{}, err
	}
	rows, err := s.st.recent(ctx, a.ID, 20)
	if err != nil {
		return Dashboard{}, err
	}
	for _, c := range rows {
		m := func(v int64) money.Money { return money.Money{Amount: v, Currency: c.currency} }
		d.Recent = append(d.Recent, Commission{ID: c.id, Status: c.status, Net: m(c.net), Percent: c.rate.Percent(), Amount: m(c.amount),
			Reversed: m(c.reversed), PlacedAt: c.placedAt, ApproveAfter: c.approveAfter})
	}
	return d, nil
}

// withFigures completes one affiliate with its figures.
func (s *Service) withFigures(ctx context.Context, a Affiliate) (Affiliate, error) {
	out := []Affiliate{a}
	if err := s.complete(ctx, out); err != nil {
		return Affiliate{}, err
	}
	return out[0], nil
}

// complete fills in the derived fields of affiliates: the effective rate,
// the share link, the ledger figures.
func (s *Service) complete(ctx context.Context, as []Affiliate) error {
	idList := make([]string, len(as))
	for i, a := range as {
		idList[i] = a.ID
	}
	figs, err := s.st.figuresOf(ctx, s.db.Reader(), idList, s.opts.Currency)
	if err != nil {
		return err
	}
	cur := s.opts.Currency
	for i := range as {
		a := &as[i]
		a.DefaultCommission = a.rate == nil
		a.CommissionPercent = s.rateOf(*a).Percent()
		a.Link = s.opts.BaseURL + "/?ref=" + url.QueryEscape(a.Code)
		f := figs[a.ID]
		if f == nil {
			f = &figures{}
		}
		a.Orders = f.orders
		a.Commissions = f.commissions
		for _, b := range []*Bucket{&a.Commissions.Pending, &a.Commissions.Approved, &a.Commissions.Paid, &a.Commissions.Reversed} {
			b.Amount.Currency = cur
		}
		a.Payable = money.Money{Amount: a.Commissions.Approved.Amount.Amount - f.clawback, Currency: cur}
	}
	return nil
}

// rateOf is the commission rate of a's new orders.
func (s *Service) rateOf(a Affiliate) Rate {
	if a.rate != nil {
		return *a.rate
	}
	return s.rate
}

// ---- staff ----

// ListQuery selects a page of affiliates, newest first.
type ListQuery struct {
	Status string // pending, approved, rejected; "" for all
	Q      string // words found in the e-mail, name or code
	Limit  int    // 1..100, default 20
	Cursor string // from the previous page's NextCursor
}

// Page is one page of affiliates.
type Page struct {
	Items      []Affiliate `json:"items"`
	NextCursor *string     `json:"next_cursor"`
}

func makeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func parseCursor(raw string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || !ids.Plausible(string(b)) {
		return "", apperr.Field("cursor", "is not a cursor returned by this list")
	}
	return string(b), nil
}

// List returns a page of affiliates with their figures, newest first. An
// unknown status, a limit out of range, a Q over 200 characters or a
// foreign cursor is Invalid on that parameter.
func (s *Service) List(ctx context.Context, q ListQuery) (Page, error) {
	f, err := s.filter(q)
	if err != nil {
		return Page{}, err
	}
	as, err := s.st.list(ctx, f)
	if err != nil {
		return Page{}, err
	}
	page, limit := Page{Items: as}, f.limit-1
	if len(as) > limit {
		page.Items = as[:limit]
		next := makeCursor(page.Items[limit-1].ID)
		page.NextCursor = &next
	}
	if err := s.complete(ctx, page.Items); err != nil {
		return Page{}, err
	}
	return page, nil
}

func (s *Service) filter(q ListQuery) (listFilter, error) {
	var v apperr.Validator
	if q.Limit == 0 {
		q.Limit = 20
	}
	v.Check(q.Limit >= 1 && q.Limit <= 100, "limit", "must be an integer between 1 and 100")
	v.Check(q.Status == "" || q.Status == StatusPending || q.Status == StatusApproved || q.Status == StatusRejected,
		"status", "must be pending, approved or rejected")
	v.Check(utf8.RuneCountInString(q.Q) <= 200, "q", "must be at most 200 characters")
	if err := v.Err(); err != nil {
		return listFilter{}, err
	}
	f := listFilter{status: q.Status, words: strings.Fields(q.Q), limit: q.Limit + 1}
	if q.Cursor != "" {
		after, err := parseCursor(q.Cursor)
		if err != nil {
			return listFilter{}, err
		}
		f.after = after
	}
	return f, nil
}

// Export calls fn for every affiliate matching q's status and words (its
// limit and cursor are ignored), newest first, page by page.
func (s *Service) Export(ctx context.Context, q ListQuery, fn func(Affiliate) error) error {
	q.Limit, q.Cursor = 100, ""
	f, err := s.filter(q)
	if err != nil {
		return err
	}
	for {
		as, err := s.st.list(ctx, f)
		if err != nil {
			return err
		}
		more := len(as) > q.Limit
		if more {
			as = as[:q.Limit]
		}
		if err := s.complete(ctx, as); err != nil {
			return err
		}
		for _, a := range as {
			if err := fn(a); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
		f.after = as[len(as)-1].ID
	}
}

// Patch is a staff decision: absent fields stay.
type Patch struct {
	Status *string // approved or rejected
	// SetRate changes the commission rate: Rate is the new one, nil for
	// the shop's default.
	// Orders placed from then on earn it.
	SetRate bool
	Rate    *Rate
}

// Update applies a staff decision to an affiliate and returns it. A status
// other than approved or rejected is Invalid on "status", a rate outside
// 0..100 % on "commission_percent"; an unknown affiliate NotFound.
// Rejecting an approved affiliate stops its code from referring; what it
// earned stays.
func (s *Service) Update(ctx context.Context, id string, p Patch) (Affiliate, error) {
	var v apperr.Validator
	if p.Status != nil {
		v.Check(*p.Status == StatusApproved || *p.Status == StatusRejected, "status", "must be approved or rejected")
	}
	if p.SetRate && p.Rate != nil {
		v.Check(*p.Rate >= 0 && *p.Rate <= 10000, "commission_percent", "must be between 0 and 100 with at most two decimals")
	}
	if err := v.Err(); err != nil {
		return Affiliate{}, err
	}
	var out Affiliate
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		now := s.now()
		a, err := s.st.update(ctx, tx, id, now, func(a *Affiliate) error {
			if p.Status != nil && *p.Status != a.Status {
				a.Status, a.DecidedAt = *p.Status, &now
			}
			if p.SetRate {
				a.rate = p.Rate
				return s.st.addRateChange(ctx, tx, a.ID, p.Rate, now)
			}
			return nil
		})
		out = a
		return err
	})
	if err != nil {
		return Affiliate{}, err
	}
	return s.withFigures(ctx, out)
}

// Get returns one affiliate with its figures; NotFound when there is none.
func (s *Service) Get(ctx context.Context, id string) (Affiliate, error) {
	if !ids.Plausible(id) {
		return Affiliate{}, errAffiliateNotFound
	}
	a, err := s.st.one(ctx, s.db.Reader(), "id", id)
	if err != nil {
		return Affiliate{}, err
	}
	return s.withFigures(ctx, a)
}

// PayoutInput is what staff say about a payout.
type PayoutInput struct {
	Reference string // the bank transfer's reference, say; up to MaxReference characters
}

// Payout records that staff paid an affiliate everything approved in the
// shop's currency, less what refunds took back from commissions paid
// before: those commissions become paid, the clawbacks settled, and the
// payout is returned. With nothing approved, or clawbacks as large as what
// is approved, it is a Conflict and nothing changes; an unknown affiliate
// is NotFound; a reference too long Invalid on "reference". Two payouts
// at once never pay one commission twice: the second finds it paid.
func (s *Service) Payout(ctx context.Context, id string, in PayoutInput, actor string) (Payout, error) {
	in.Reference = strings.TrimSpace(in.Reference)
	if utf8.RuneCountInString(in.Reference) > MaxReference {
		return Payout{}, apperr.Field("reference", fmt.Sprintf("must be at most %d characters", MaxReference))
	}
	cur := s.opts.Currency
	var p Payout
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		now := s.now()
		// Lock the affiliate: payouts of one affiliate run one at a time.
		a, err := s.st.update(ctx, tx, id, now, func(*Affiliate) error { return nil })
		if err != nil {
			return err
		}
		p = Payout{ID: ids.New(), AffiliateID: a.ID, Reference: in.Reference, CreatedBy: actor, CreatedAt: now}
		gross, n, claw, err := s.st.pay(ctx, tx, a.ID, cur, p.ID, now)
		if err != nil {
			return err
		}
		switch {
		case n == 0:
			return apperr.Conflictf("nothing to pay: %s has no approved commissions", a.Email)
		case gross-claw <= 0 && claw == 0:
			return apperr.Conflictf("nothing to pay: the approved commissions of %s come to nothing", a.Email)
		case gross-claw <= 0:
			return apperr.Conflictf("nothing to pay: refunds of commissions paid before (%s) take all of the approved %s",
				money.Money{Amount: claw, Currency: cur}.Format(), money.Money{Amount: gross, Currency: cur}.Format())
		}
		p.Gross, p.Clawback = money.Money{Amount: gross, Currency: cur}, money.Money{Amount: claw, Currency: cur}
		p.Amount, p.Commissions = money.Money{Amount: gross - claw, Currency: cur}, n
		return s.st.addPayout(ctx, tx, p)
	})
	if err != nil {
		return Payout{}, err
	}
	return p, nil
}

// Payouts returns an affiliate's latest 100 payouts, newest first;
// NotFound for an unknown affiliate.
func (s *Service) Payouts(ctx context.Context, id string) ([]Payout, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	return s.st.payouts(ctx, id, 100)
}

// ApproveDue approves the pending commissions whose return window has
// passed at now and returns how many. Safe beside itself on another
// instance (one conditional update). The app runs it periodically.
func (s *Service) ApproveDue(ctx context.Context, now time.Time) (int64, error) {
	return s.st.approveDue(ctx, now.UTC())
}

// Purge deletes what is no longer needed at now: the click marks of past
// hours and referrals older than the window. It returns how many rows went.
func (s *Service) Purge(ctx context.Context, now time.Time) (int64, error) {
	now = now.UTC()
	return s.st.purge(ctx, now.Unix()/3600, now.Add(-s.opts.Window))
}

// ---- referrals ----

// clientKey is what click marks store of a client address: a hash, not the
// address (IPv6 by its /64, which one host usually has whole).
func clientKey(addr string) string {
	if ip, err := netip.ParseAddr(addr); err == nil {
		if ip = ip.Unmap(); ip.Is6() {
			addr = netip.PrefixFrom(ip, 64).Masked().String()
		} else {
			addr = ip.String()
		}
	}
	sum := sha256.Sum256([]byte("mercato-affiliate-click:" + addr))
	return hex.EncodeToString(sum[:12])
}

// approvedByCode returns the approved affiliate with code; ok is false for
// a malformed code or one that is not an approved affiliate's.
func (s *Service) approvedByCode(ctx context.Context, q sqldb.Querier, code string) (Affiliate, bool, error) {
	code, valid := NormalizeCode(code)
	if !valid {
		return Affiliate{}, false, nil
	}
	a, err := s.st.one(ctx, q, "code", code)
	if apperr.Is(err, apperr.NotFound) {
		return a, false, nil
	}
	if err != nil {
		return a, false, err
	}
	return a, a.Status == StatusApproved, nil
}

// Click records that a visitor from client (its address) followed a link
// with code, counting it unless that client's click on that code was
// already counted this hour, or the visitor is the affiliate itself. It returns the
// referral to remember, ok false when the code is not an approved
// affiliate's (nothing is recorded then). With cartID (the visitor's
// cart), the cart is referred by this click: the last click wins.
func (s *Service) Click(ctx context.Context, code, client, cartID string) (Referral, bool, error) {
	a, ok, err := s.approvedByCode(ctx, s.db.Reader(), code)
	if err != nil || !ok {
		return Referral{}, false, err
	}
	now := s.now()
	ref := Referral{AffiliateID: a.ID, Code: a.Code, ClickedAt: now}
	if s.own(ctx, a) {
		return ref, true, nil // the affiliate trying its own link: counted nowhere, refers nothing (ReferCart checks again)
	}
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if _, err := s.st.countClick(ctx, tx, a.ID, clientKey(client), now.Unix()/3600); err != nil {
			return err
		}
		if cartID != "" && ids.Plausible(cartID) {
			return s.st.refer(ctx, tx, cartID, a.ID, now, now)
		}
		return nil
	})
	if err != nil {
		return Referral{}, false, err
	}
	return ref, true, nil
}

// own reports whether the signed-in account of ctx is affiliate a's.
func (s *Service) own(ctx context.Context, a Affiliate) bool {
	p, ok := auth.From(ctx)
	return ok && (p.AccountID == a.AccountID || sameMailbox(p.Email, a.Email))
}

type referralKey struct{}

// WithReferral returns a context carrying the visitor's referral (from the
// cookie or the link just followed), which ReferCart uses.
func WithReferral(ctx context.Context, r Referral) context.Context {
	return context.WithValue(ctx, referralKey{}, r)
}

// ReferralFrom returns the referral WithReferral put in ctx.
func ReferralFrom(ctx context.Context) (Referral, bool) {
	r, ok := ctx.Value(referralKey{}).(Referral)
	return r, ok
}

// errReferral refuses a referral code named by a new cart.
func errReferral(msg string) error {
	return &apperr.Error{Code: apperr.Unprocessable, Message: "the referral code cannot be used", Fields: []apperr.FieldError{{Field: "referral_code", Message: msg}}}
}

// resolve checks a referral code a new cart names: a malformed one is
// Invalid on "referral_code"; one that is not an approved affiliate's, or
// the caller's own, Unprocessable on it.
func (s *Service) resolve(ctx context.Context, code string) (Affiliate, error) {
	if _, valid := NormalizeCode(code); !valid {
		return Affiliate{}, apperr.Field("referral_code", "must be 4 to 32 letters and digits")
	}
	a, ok, err := s.approvedByCode(ctx, s.db.Reader(), code)
	if err != nil {
		return Affiliate{}, err
	}
	if !ok {
		return Affiliate{}, errReferral("no affiliate has this code")
	}
	if s.own(ctx, a) {
		return Affiliate{}, errReferral("is your own code: you cannot refer yourself")
	}
	return a, nil
}

// CheckReferral refuses a referral code a new cart names before the cart
// is made (see resolve); "" is always fine.
func (s *Service) CheckReferral(ctx context.Context, code string) error {
	if code == "" {
		return nil
	}
	_, err := s.resolve(ctx, code)
	return err
}

// ReferCart records who referred a new cart: the affiliate of code, or,
// when code is "", the referral in ctx (the visitor's cookie), if it is
// within the window, an approved affiliate's and not the visitor's own.
// Refusals of code are those of CheckReferral.
func (s *Service) ReferCart(ctx context.Context, cartID, code string) error {
	now := s.now()
	if code != "" {
		a, err := s.resolve(ctx, code)
		if err != nil {
			return err
		}
		return s.st.refer(ctx, s.db, cartID, a.ID, now, now)
	}
	r, ok := ReferralFrom(ctx)
	if !ok || r.ClickedAt.Before(now.Add(-s.opts.Window)) || r.ClickedAt.After(now.Add(time.Minute)) {
		return nil
	}
	a, ok, err := s.approvedByCode(ctx, s.db.Reader(), r.Code)
	if err != nil || !ok || s.own(ctx, a) {
		return err
	}
	return s.st.refer(ctx, s.db, cartID, a.ID, r.ClickedAt, now)
}
