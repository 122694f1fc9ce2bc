package tax

import (
	"context"
	"fmt"
	"math/bits"
	"sort"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/country"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// DefaultCountry is the shop's country when Options leave it empty.
const DefaultCountry = "DE"

// Options configure the service.
type Options struct {
	// DefaultCountry is used when Calculate gets no country (estimates
	// before an address is known); "" means DefaultCountry.
	DefaultCountry string
	// PricesIncludeTax: catalog prices already contain tax (the usual B2C
	// setting in the EU); false adds tax on top.
	PricesIncludeTax bool
}

// Service computes tax and keeps the rates.
type Service struct {
	db        *sqldb.DB
	store     store
	country   string
	inclusive bool
	now       func() time.Time
}

// NewService returns the tax service on db.
func NewService(db *sqldb.DB, opt Options) *Service {
	c := country.Normalize(opt.DefaultCountry)
	if c == "" {
		c = DefaultCountry
	}
	return &Service{db: db, store: store{db: db}, country: c, inclusive: opt.PricesIncludeTax,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

// PricesIncludeTax reports whether prices already include tax.
func (s *Service) PricesIncludeTax() bool { return s.inclusive }

// destination normalizes a country argument: "" is the default country; an
// unknown code is Invalid on "country".
func (s *Service) destination(c string) (string, error) {
	c = country.Normalize(c)
	if c == "" {
		return s.country, nil
	}
	if !country.Valid(c) {
		return "", apperr.Field("country", "must be an ISO 3166-1 alpha-2 country code such as DE")
	}
	return c, nil
}

// RateFor returns the rate in basis points that applies to a destination
// country ("" = the default country): its own rate, else the "*" rate, else
// 0. An unknown country code is Invalid on "country".
func (s *Service) RateFor(ctx context.Context, dest string) (int64, error) {
	c, err := s.destination(dest)
	if err != nil {
		return 0, err
	}
	rates, err := s.store.ratesOf(ctx, c, country.Wildcard)
	if err != nil {
		return 0, fmt.Errorf("read tax rate of %s: %w", c, err)
	}
	if bp, ok := rates[c]; ok {
		return bp, nil
	}
	return rates[country.Wildcard], nil // 0 when there is no "*" rate either
}

// Calculate returns the tax on a taxable amount (goods after discount +
// shipping) for a destination country ("" = default country). Inclusive:
// tax = amount * rate / (1 + rate); exclusive: tax = amount * rate; both
// rounded half away from zero to minor units. An unknown country code is
// Invalid on "country", a malformed currency Invalid on "currency".
func (s *Service) Calculate(ctx context.Context, dest string, taxable money.Money) (Breakdown, error) {
	if !money.ValidCurrency(taxable.Currency) {
		return Breakdown{}, apperr.Field("currency", "must be a 3-letter ISO 4217 code such as EUR")
	}
	bp, err := s.RateFor(ctx, dest)
	if err != nil {
		return Breakdown{}, err
	}
	return Compute(taxable, bp, s.inclusive), nil
}

// Compute is the arithmetic of Calculate: the tax on amount at rateBP basis
// points (0..MaxRateBP), included in amount or on top of it, rounded half
// away from zero. It never overflows: the product is computed in 128 bits.
func Compute(amount money.Money, rateBP int64, inclusive bool) Breakdown {
	rateBP = min(max(rateBP, 0), MaxRateBP)
	den := uint64(10000)
	if inclusive {
		den += uint64(rateBP)
	}
	neg := amount.Amount < 0
	a := uint64(amount.Amount)
	if neg {
		a = -a // two's complement: also right for math.MinInt64
	}
	hi, lo := bits.Mul64(a, uint64(rateBP))
	q, r := bits.Div64(hi, lo, den) // q <= a because rateBP <= den: no overflow
	if 2*r >= den {
		q++
	}
	t := int64(q)
	if neg {
		t = -t
	}
	return Breakdown{Tax: money.Money{Amount: t, Currency: amount.Currency}, Inclusive: inclusive, RateBP: rateBP}
}

// Rates lists every rate, the "*" rate first, then by country code.
func (s *Service) Rates(ctx context.Context) ([]Rate, error) {
	out, err := s.store.all(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Country < out[j].Country }) // '*' sorts first
	return out, nil
}

// SetRate sets the rate of a country ("*" for every country without its own
// rate), creating it when missing. A bad code is Invalid on "country", a rate
// outside 0..10000 Invalid on "rate_bp".
func (s *Service) SetRate(ctx context.Context, code string, rateBP int64) (Rate, error) {
	return s.setRate(ctx, code, &rateBP)
}

// setRate is SetRate with the rate optional, so that a missing rate and a
// bad country are reported together.
func (s *Service) setRate(ctx context.Context, code string, bp *int64) (Rate, error) {
	var v apperr.Validator
	c := country.Normalize(code)
	v.Check(c == country.Wildcard || country.Valid(c), "country", "must be an ISO 3166-1 alpha-2 country code such as DE, or * for every other country")
	switch {
	case bp == nil:
		v.Add("rate_bp", "is required")
	case *bp < 0 || *bp > MaxRateBP:
		v.Add("rate_bp", "must be between 0 and 10000 basis points (0% to 100%)")
	}
	if err := v.Err(); err != nil {
		return Rate{}, err
	}
	rateBP := *bp
	r := Rate{Country: c, RateBP: rateBP, UpdatedAt: s.now()}
	if err := s.store.put(ctx, r); err != nil {
		return Rate{}, err
	}
	return r, nil
}
