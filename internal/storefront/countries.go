package storefront

import (
	"context"
	"sort"

	"github.com/mercato-shop/mercato/internal/shipping/country"
)

// countryNames are the English names of the countries a shop most often
// ships to; other codes are shown as they are.
var countryNames = map[string]string{
	"AT": "Austria", "BE": "Belgium", "BG": "Bulgaria", "CY": "Cyprus", "CZ": "Czechia", "DE": "Germany", "DK": "Denmark",
	"EE": "Estonia", "ES": "Spain", "FI": "Finland", "FR": "France", "GR": "Greece", "HR": "Croatia", "HU": "Hungary",
	"IE": "Ireland", "IT": "Italy", "LT": "Lithuania", "LU": "Luxembourg", "LV": "Latvia", "MT": "Malta", "NL": "Netherlands",
	"PL": "Poland", "PT": "Portugal", "RO": "Romania", "SE": "Sweden", "SI": "Slovenia", "SK": "Slovakia",
	"GB": "United Kingdom", "CH": "Switzerland", "NO": "Norway", "IS": "Iceland", "LI": "Liechtenstein", "US": "United States",
	"CA": "Canada", "AU": "Australia", "NZ": "New Zealand", "JP": "Japan", "KR": "South Korea", "CN": "China", "IN": "India",
	"BR": "Brazil", "MX": "Mexico", "AR": "Argentina", "ZA": "South Africa", "TR": "Türkiye", "UA": "Ukraine", "IL": "Israel",
	"AE": "United Arab Emirates", "SG": "Singapore", "HK": "Hong Kong", "TW": "Taiwan", "RS": "Serbia", "BA": "Bosnia and Herzegovina",
	"ME": "Montenegro", "MK": "North Macedonia", "AL": "Albania", "MD": "Moldova", "MC": "Monaco", "AD": "Andorra", "SM": "San Marino",
}

func countryName(code string) string {
	if n, ok := countryNames[code]; ok {
		return n
	}
	return code
}

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
