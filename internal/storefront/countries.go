package storefront

import (
	"context"
	"sort"

	"github.com/mercato-shop/mercato/internal/country"
)

// countryName is the English name of a country code, for display.
func countryName(code string) string { return country.Name(code) }

// shipCountries lists the destinations the shop ships to (named zones'
// countries first, by name; every other country after them when a zone
// covers "all other countries"), with selected chosen.
func (s *Storefront) shipCountries(ctx context.Context, selected string) (main, others []option, err error) {
	zones, err := s.svc.Shipping.Zones(ctx)
	if err != nil {
		return nil, nil, err
	}
	listed, wildcard := map[string]bool{}, false
	for _, z := range zones {
		if len(z.Rates) == 0 {
			continue
		}
		for _, c := range z.Countries {
			if c == country.Wildcard {
				wildcard = true
			} else {
				listed[c] = true
			}
		}
	}
	if len(listed) == 0 && !wildcard {
		listed[s.svc.Shipping.DefaultCountry()] = true
	}
	var first, rest []option
	for c := range listed {
		first = append(first, option{Value: c, Label: countryName(c)})
	}
	if wildcard {
		for _, c := range country.Codes() {
			if !listed[c] {
				rest = append(rest, option{Value: c, Label: countryName(c)})
			}
		}
	}
	byLabel := func(o []option) { sort.Slice(o, func(i, j int) bool { return o[i].Label < o[j].Label }) }
	byLabel(first)
	byLabel(rest)
	for _, o := range [][]option{first, rest} {
		for i := range o {
			o[i].Selected = o[i].Value == selected
		}
	}
	return first, rest, nil
}
