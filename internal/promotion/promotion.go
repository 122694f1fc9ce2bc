// Package promotion owns promotions: discount codes and automatic
// promotions, their conditions and limits, the discounts they give a cart
// (computed in minor units and allocated to the lines) and their uses.
//
// The cart asks Discounts whenever it prices itself; the checkout holds a
// use of every promotion an order gets (Reserve, a conditional update, so a
// limit is never exceeded across concurrent checkouts and instances),
// commits it with the order (Commit, in the order's transaction) and gives
// it back when the checkout fails (Release, ReleaseExpired). A cancelled or
// fully refunded order gives its uses back (consumer.go, from the order
// events). It imports no other domain module: the composition root adapts
// the cart's and the checkout's types to this package's.
package promotion

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/ids"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the promotion tables.
func Migrations() sqldb.Migrations {
	return sqldb.Embedded("promotion", migrationFS, "migrations")
}

// Kind is what a promotion gives.
type Kind string

// Kinds of promotion.
const (
	// Percentage takes Value percent (1..100) off the lines it applies to.
	Percentage Kind = "percentage"
	// Fixed takes Value minor units off the lines it applies to (at most
	// what they cost), shared among them in proportion to their prices.
	Fixed Kind = "fixed"
	// FreeShipping makes the shipping free.
	FreeShipping Kind = "free_shipping"
	// BuyXGetY: of every BuyQuantity + GetQuantity units of the lines it
	// applies to, the GetQuantity cheapest are Value percent off (100:
	// free).
	BuyXGetY Kind = "buy_x_get_y"
)

// Kinds lists every kind.
var Kinds = []Kind{Percentage, Fixed, FreeShipping, BuyXGetY}

// Limits.
const (
	MaxCodeLength = 64
	MaxNameLength = 200
	MaxTargets    = 500 // product or category ids
	MaxQuantity   = 999 // buy / get quantities
)

// Promotion is a discount code (Code set) or an automatic promotion.
//
// It applies to the lines of the products ProductIDs or the categories
// CategoryIDs (or below them), or to every line when both are empty; a
// cart without such a line does not get it. Its conditions: MinSubtotal
// (minor units, before discounts), FirstOrder (a signed-in customer
// without orders), StartsAt <= now < EndsAt. Its limits: UsageLimit uses
// in all, UsageLimitPerCustomer per customer (by account and by e-mail).
// An Exclusive promotion is never combined with another; a cart gets at
// most one code and any automatic promotions.
type Promotion struct {
	ID                    string     `json:"id"`
	Name                  string     `json:"name"` // the label the cart shows
	Code                  string     `json:"code,omitempty"`
	Kind                  Kind       `json:"type"`
	Value                 int64      `json:"value"`
	BuyQuantity           int64      `json:"buy_quantity,omitempty"`
	GetQuantity           int64      `json:"get_quantity,omitempty"`
	MinSubtotal           int64      `json:"min_subtotal"`
	ProductIDs            []string   `json:"product_ids"`
	CategoryIDs           []string   `json:"category_ids"`
	FirstOrder            bool       `json:"first_order"`
	Exclusive             bool       `json:"exclusive"`
	Active                bool       `json:"active"`
	StartsAt              *time.Time `json:"starts_at"`
	EndsAt                *time.Time `json:"ends_at"`
	UsageLimit            *int64     `json:"usage_limit"`
	UsageLimitPerCustomer *int64     `json:"usage_limit_per_customer"`
	// Used counts the uses of placed orders and of checkouts under way.
	Used      int64     `json:"used"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Automatic reports whether the promotion applies without a code.
func (p *Promotion) Automatic() bool { return p.Code == "" }

// targeted reports whether the promotion applies to given products or
// categories only.
func (p *Promotion) targeted() bool { return len(p.ProductIDs) > 0 || len(p.CategoryIDs) > 0 }

// perCustomerLimit is the uses one customer may have: UsageLimitPerCustomer,
// and one for a first-order promotion; ok is false when there is no limit.
func (p *Promotion) perCustomerLimit() (n int64, ok bool) {
	if p.UsageLimitPerCustomer != nil {
		n, ok = *p.UsageLimitPerCustomer, true
	}
	if p.FirstOrder && (!ok || n > 1) {
		n, ok = 1, true
	}
	return n, ok
}

// Input is what staff send to create a promotion (POST). Value is a
// percentage (1..100) for percentage and buy_x_get_y (default 100: free),
// minor units for fixed, nothing for free_shipping.
type Input struct {
	Name                  string   `json:"name"`
	Code                  *string  `json:"code"`
	Kind                  Kind     `json:"type"`
	Value                 int64    `json:"value"`
	BuyQuantity           int64    `json:"buy_quantity"`
	GetQuantity           int64    `json:"get_quantity"`
	MinSubtotal           int64    `json:"min_subtotal"`
	ProductIDs            []string `json:"product_ids"`
	CategoryIDs           []string `json:"category_ids"`
	FirstOrder            bool     `json:"first_order"`
	Exclusive             bool     `json:"exclusive"`
	Active                *bool    `json:"active"`
	StartsAt              *string  `json:"starts_at"` // RFC 3339
	EndsAt                *string  `json:"ends_at"`
	UsageLimit            *int64   `json:"usage_limit"`
	UsageLimitPerCustomer *int64   `json:"usage_limit_per_customer"`
}

// parseTime reads an RFC 3339 date-time of field, recording a bad one in v.
func parseTime(v *apperr.Validator, field string, s *string) *time.Time {
	if s == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		v.Add(field, "must be an RFC 3339 date-time such as 2026-06-01T00:00:00Z")
		return nil
	}
	return &t
}

// Optional is a field of a PATCH: Set when it was sent, Null when it was
// sent as null (which clears a field that may be empty).
type Optional[T any] struct {
	Set, Null bool
	Value     T
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// Patch changes some fields of a promotion (PATCH); absent fields stay.
// code, starts_at, ends_at, usage_limit and usage_limit_per_customer may be
// null (no code: automatic; no start, end or limit).
type Patch struct {
	Name                  Optional[string]   `json:"name"`
	Code                  Optional[string]   `json:"code"`
	Kind                  Optional[Kind]     `json:"type"`
	Value                 Optional[int64]    `json:"value"`
	BuyQuantity           Optional[int64]    `json:"buy_quantity"`
	GetQuantity           Optional[int64]    `json:"get_quantity"`
	MinSubtotal           Optional[int64]    `json:"min_subtotal"`
	ProductIDs            Optional[[]string] `json:"product_ids"`
	CategoryIDs           Optional[[]string] `json:"category_ids"`
	FirstOrder            Optional[bool]     `json:"first_order"`
	Exclusive             Optional[bool]     `json:"exclusive"`
	Active                Optional[bool]     `json:"active"`
	StartsAt              Optional[string]   `json:"starts_at"`
	EndsAt                Optional[string]   `json:"ends_at"`
	UsageLimit            Optional[int64]    `json:"usage_limit"`
	UsageLimitPerCustomer Optional[int64]    `json:"usage_limit_per_customer"`
}

// notNull lists the fields of a Patch that may not be null.
func (p Patch) notNull(v *apperr.Validator) {
	for _, f := range []struct {
		name string
		null bool
	}{{"name", p.Name.Null}, {"type", p.Kind.Null}, {"value", p.Value.Null}, {"buy_quantity", p.BuyQuantity.Null},
		{"get_quantity", p.GetQuantity.Null}, {"min_subtotal", p.MinSubtotal.Null}, {"first_order", p.FirstOrder.Null},
		{"exclusive", p.Exclusive.Null}, {"active", p.Active.Null}} {
		v.Check(!f.null, f.name, "must not be null")
	}
}

// apply sets the fields of the patch on p; bad times are recorded in v.
func (pt Patch) apply(p *Promotion, v *apperr.Validator) {
	set := func(o Optional[int64], dst *int64) {
		if o.Set && !o.Null {
			*dst = o.Value
		}
	}
	if pt.Name.Set {
		p.Name = pt.Name.Value
	}
	if pt.Code.Set {
		p.Code = pt.Code.Value // null: ""
	}
	if pt.Kind.Set {
		p.Kind = pt.Kind.Value
	}
	set(pt.Value, &p.Value)
	set(pt.BuyQuantity, &p.BuyQuantity)
	set(pt.GetQuantity, &p.GetQuantity)
	set(pt.MinSubtotal, &p.MinSubtotal)
	if pt.ProductIDs.Set {
		p.ProductIDs = pt.ProductIDs.Value
	}
	if pt.CategoryIDs.Set {
		p.CategoryIDs = pt.CategoryIDs.Value
	}
	if pt.FirstOrder.Set {
		p.FirstOrder = pt.FirstOrder.Value
	}
	if pt.Exclusive.Set {
		p.Exclusive = pt.Exclusive.Value
	}
	if pt.Active.Set {
		p.Active = pt.Active.Value
	}
	optTime := func(field string, o Optional[string], dst **time.Time) {
		switch {
		case o.Null:
			*dst = nil
		case o.Set:
			if t := parseTime(v, field, &o.Value); t != nil {
				*dst = t
			}
		}
	}
	optTime("starts_at", pt.StartsAt, &p.StartsAt)
	optTime("ends_at", pt.EndsAt, &p.EndsAt)
	optInt := func(o Optional[int64], dst **int64) {
		switch {
		case o.Null:
			*dst = nil
		case o.Set:
			n := o.Value
			*dst = &n
		}
	}
	optInt(pt.UsageLimit, &p.UsageLimit)
	optInt(pt.UsageLimitPerCustomer, &p.UsageLimitPerCustomer)
}

// fromInput is the promotion an Input describes (not yet validated); bad
// times are recorded in v.
func fromInput(in Input, v *apperr.Validator) Promotion {
	p := Promotion{Name: in.Name, Kind: in.Kind, Value: in.Value, BuyQuantity: in.BuyQuantity, GetQuantity: in.GetQuantity,
		MinSubtotal: in.MinSubtotal, ProductIDs: in.ProductIDs, CategoryIDs: in.CategoryIDs, FirstOrder: in.FirstOrder,
		Exclusive: in.Exclusive, Active: true, StartsAt: parseTime(v, "starts_at", in.StartsAt), EndsAt: parseTime(v, "ends_at", in.EndsAt),
		UsageLimit: in.UsageLimit, UsageLimitPerCustomer: in.UsageLimitPerCustomer}
	if in.Code != nil {
		p.Code = *in.Code
	}
	if in.Active != nil {
		p.Active = *in.Active
	}
	if p.Kind == BuyXGetY && p.Value == 0 {
		p.Value = 100
	}
	return p
}

// NormalizeCode is the form codes are kept and compared in: trimmed, upper case.
func NormalizeCode(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// normalize tidies p's fields before validation.
func (p *Promotion) normalize() {
	p.Name = strings.TrimSpace(p.Name)
	p.Code = NormalizeCode(p.Code)
	p.ProductIDs = tidyIDs(p.ProductIDs)
	p.CategoryIDs = tidyIDs(p.CategoryIDs)
	for _, t := range []**time.Time{&p.StartsAt, &p.EndsAt} {
		if *t != nil {
			u := (*t).UTC().Truncate(time.Microsecond)
			*t = &u
		}
	}
}

// tidyIDs trims the ids, drops empty ones and repeats; never nil.
func tidyIDs(in []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, id := range in {
		id = strings.TrimSpace(id)
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// validate checks a normalised promotion and names every bad field in v
// (which may hold earlier ones); it returns v's error.
func (p *Promotion) validate(v apperr.Validator) error {
	switch {
	case p.Name == "":
		v.Add("name", "is required")
	case utf8.RuneCountInString(p.Name) > MaxNameLength:
		v.Add("name", fmt.Sprintf("must be at most %d characters", MaxNameLength))
	case strings.IndexFunc(p.Name, unicode.IsControl) >= 0:
		v.Add("name", "must not contain control characters")
	}
	if p.Code != "" {
		switch {
		case len(p.Code) > MaxCodeLength:
			v.Add("code", fmt.Sprintf("must be at most %d characters", MaxCodeLength))
		case strings.IndexFunc(p.Code, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') }) >= 0:
			v.Add("code", "may hold only letters A-Z, digits, '-' and '_'")
		}
	}
	switch p.Kind {
	case Percentage:
		v.Check(p.Value >= 1 && p.Value <= 100, "value", "must be a percentage between 1 and 100")
	case Fixed:
		v.Check(p.Value >= 1 && p.Value <= 1_000_000_000_000, "value", "must be an amount in minor units, at least 1")
	case FreeShipping:
		v.Check(p.Value == 0, "value", "must be 0 or left out for free shipping")
	case BuyXGetY:
		v.Check(p.Value >= 1 && p.Value <= 100, "value", "must be the percentage off the free items, 1 to 100 (100: free)")
		v.Check(p.BuyQuantity >= 1 && p.BuyQuantity <= MaxQuantity, "buy_quantity", fmt.Sprintf("must be between 1 and %d", MaxQuantity))
		v.Check(p.GetQuantity >= 1 && p.GetQuantity <= MaxQuantity, "get_quantity", fmt.Sprintf("must be between 1 and %d", MaxQuantity))
	case "":
		v.Add("type", "is required: percentage, fixed, free_shipping or buy_x_get_y")
	default:
		v.Add("type", "must be percentage, fixed, free_shipping or buy_x_get_y")
	}
	if p.Kind != BuyXGetY {
		v.Check(p.BuyQuantity == 0, "buy_quantity", "is only for buy_x_get_y")
		v.Check(p.GetQuantity == 0, "get_quantity", "is only for buy_x_get_y")
	}
	v.Check(p.MinSubtotal >= 0 && p.MinSubtotal <= 1_000_000_000_000, "min_subtotal", "must be an amount in minor units, 0 or more")
	for _, f := range []struct {
		name string
		ids  []string
	}{{"product_ids", p.ProductIDs}, {"category_ids", p.CategoryIDs}} {
		if len(f.ids) > MaxTargets {
			v.Add(f.name, fmt.Sprintf("at most %d ids", MaxTargets))
			continue
		}
		for i, id := range f.ids {
			if !ids.Plausible(id) {
				v.Add(fmt.Sprintf("%s[%d]", f.name, i), "is not an id")
				break
			}
		}
	}
	if p.StartsAt != nil && p.EndsAt != nil {
		v.Check(p.EndsAt.After(*p.StartsAt), "ends_at", "must be after starts_at")
	}
	for _, f := range []struct {
		name string
		n    *int64
	}{{"usage_limit", p.UsageLimit}, {"usage_limit_per_customer", p.UsageLimitPerCustomer}} {
		if f.n != nil {
			v.Check(*f.n >= 1 && *f.n <= 1_000_000_000, f.name, "must be at least 1 (or null: no limit)")
		}
	}
	return v.Err()
}
