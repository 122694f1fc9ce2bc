// Package shipping prices delivery: which shipping methods reach a
// destination country and what each costs for a cart subtotal.
//
// Methods come from RateProviders. The built-in one is a table of zones kept
// in this module's tables: a zone is a named set of countries (or "*" for
// every country no other zone names) with flat rates, each optionally free
// from a subtotal threshold on. A carrier adapter (live quotes from a
// parcel service) is another RateProvider passed in Options; the cart and
// checkout only ever see Methods.
package shipping

import (
	"context"
	"embed"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/country"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the shipping module's tables.
func Migrations() sqldb.Migrations { return sqldb.Embedded("shipping", migrationFS, "migrations") }

// Method is one way to ship an order to a destination, priced for a subtotal.
type Method struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	Price        money.Money  `json:"price"`               // what the customer pays: 0 when the free-over threshold is reached
	RegularPrice money.Money  `json:"regular_price"`       // the price below the threshold
	FreeOver     *money.Money `json:"free_over,omitempty"` // free when the subtotal is at least this; nil: never free
	Carrier      string       `json:"carrier"`             // the provider that quoted it: CarrierFlat for the zone table
	ZoneID       string       `json:"zone_id,omitempty"`   // the zone of a table rate
	Zone         string       `json:"zone,omitempty"`      // its name
	MinDays      int          `json:"min_days"`            // estimated delivery time in days; 0 = not given
	MaxDays      int          `json:"max_days"`
}

// CarrierFlat is the Carrier of methods from the zone table.
const CarrierFlat = "flat"

// Quote is what a RateProvider is asked to price. It will grow (parcel
// weight, postal code) as carriers need it; providers ignore what they do
// not use.
type Quote struct {
	Country  string      // ISO 3166-1 alpha-2, validated and upper case
	Subtotal money.Money // in the shop currency
}

// RateProvider quotes the shipping methods it offers for a destination. It
// returns none (and no error) for a country it does not serve. Method ids
// must be stable between calls and unique across providers (a carrier
// adapter prefixes its own, e.g. "dhl:paket").
type RateProvider interface {
	Rates(ctx context.Context, q Quote) ([]Method, error)
}

// Zone is a set of destination countries and the flat rates that serve them.
type Zone struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Countries []string  `json:"countries"` // sorted; "*" means every country no other zone lists
	Rates     []Rate    `json:"rates"`     // in the order staff gave them
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Rate is a flat-priced shipping method of a zone.
type Rate struct {
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	Price    money.Money  `json:"price"`
	FreeOver *money.Money `json:"free_over"` // null: never free
	MinDays  int          `json:"min_days"`
	MaxDays  int          `json:"max_days"`
}

// ZoneInput creates or replaces a zone with its countries and rates.
type ZoneInput struct {
	Name      string      `json:"name"`
	Countries []string    `json:"countries"`
	Rates     []RateInput `json:"rates"`
}

// RateInput is one rate of a ZoneInput. When replacing a zone, a rate with
// the id of one of the zone's rates updates it (its id, which carts may hold,
// stays); a rate without id is new; the zone's rates not listed are deleted.
type RateInput struct {
	ID       string       `json:"id,omitempty"`
	Name     string       `json:"name"`
	Price    money.Money  `json:"price"`
	FreeOver *money.Money `json:"free_over"`
	MinDays  int          `json:"min_days"`
	MaxDays  int          `json:"max_days"`
}

// Limits of a zone.
const (
	MaxNameLen   = 100
	MaxCountries = 250
	MaxRates     = 20
	MaxDays      = 365
)

// validate normalizes in (trimmed names, upper-case country codes) and
// checks it; money must be in currency. Field names are the JSON paths.
func (in ZoneInput) validate(currency string) (ZoneInput, error) {
	var v apperr.Validator
	in.Name = strings.TrimSpace(in.Name)
	v.Check(in.Name != "" && utf8.RuneCountInString(in.Name) <= MaxNameLen, "name", fmt.Sprintf("must be 1-%d characters", MaxNameLen))

	switch {
	case len(in.Countries) == 0:
		v.Add("countries", `must list at least one country (ISO 3166-1 alpha-2 code, or "*" for every other country)`)
	case len(in.Countries) > MaxCountries:
		v.Add("countries", fmt.Sprintf("must list at most %d countries", MaxCountries))
	}
	countries := make([]string, len(in.Countries))
	seen := map[string]bool{}
	for i, c := range in.Countries {
		c = country.Normalize(c)
		field := fmt.Sprintf("countries[%d]", i)
		switch {
		case c != country.Wildcard && !country.Valid(c):
			v.Add(field, `must be an ISO 3166-1 alpha-2 country code such as DE, or "*" for every other country`)
		case seen[c]:
			v.Add(field, c+" is listed twice")
		}
		seen[c] = true
		countries[i] = c
	}
	in.Countries = countries

	v.Check(len(in.Rates) <= MaxRates, "rates", fmt.Sprintf("must have at most %d rates", MaxRates))
	rates := make([]RateInput, len(in.Rates))
	names, ids := map[string]bool{}, map[string]bool{}
	for i, r := range in.Rates {
		at := fmt.Sprintf("rates[%d]", i)
		r.Name = strings.TrimSpace(r.Name)
		v.Check(r.Name != "" && utf8.RuneCountInString(r.Name) <= MaxNameLen, at+".name", fmt.Sprintf("must be 1-%d characters", MaxNameLen))
		if key := strings.ToLower(r.Name); r.Name != "" {
			v.Check(!names[key], at+".name", "is used by another rate of this zone")
			names[key] = true
		}
		if r.ID != "" {
			v.Check(!ids[r.ID], at+".id", "is listed twice")
			ids[r.ID] = true
		}
		checkMoney(&v, at+".price", r.Price, currency)
		if r.FreeOver != nil {
			checkMoney(&v, at+".free_over", *r.FreeOver, currency)
		}
		v.Check(r.MinDays >= 0 && r.MinDays <= MaxDays, at+".min_days", fmt.Sprintf("must be between 0 and %d", MaxDays))
		v.Check(r.MaxDays >= 0 && r.MaxDays <= MaxDays, at+".max_days", fmt.Sprintf("must be between 0 and %d", MaxDays))
		v.Check(r.MaxDays >= r.MinDays, at+".max_days", "must not be less than min_days")
		rates[i] = r
	}
	in.Rates = rates
	return in, v.Err()
}

func checkMoney(v *apperr.Validator, field string, m money.Money, currency string) {
	v.Check(m.Currency == currency, field+".currency", "must be "+currency+", the shop currency")
	v.Check(m.Amount >= 0 && m.Amount <= money.MaxAmount, field+".amount", fmt.Sprintf("must be between 0 and %d minor units", int64(money.MaxAmount)))
}
