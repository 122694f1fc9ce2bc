// Package address is a postal address with its one set of rules (what
// checkout ships to, what an order keeps, what a customer saves) and the
// normalisation of e-mail addresses. It is a leaf: it knows countries and
// error codes, no module.
package address

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/country"
)

// Longest accepted fields, in characters.
const (
	MaxName       = 100
	MaxLine       = 200 // Line1 and Line2
	MaxCity       = 100
	MaxPostalCode = 20
)

// Address is a postal address. Its JSON form is the one orders, checkout
// requests and saved addresses share.
type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"` // ISO 3166-1 alpha-2, upper case
}

// Normalize trims every field and upper-cases the postal code and the
// country code ("sw1y 4jh", " gb" become "SW1Y 4JH", "GB"). It does not
// validate.
func (a *Address) Normalize() {
	for _, f := range []*string{&a.Name, &a.Line1, &a.Line2, &a.City, &a.PostalCode, &a.Country} {
		*f = strings.TrimSpace(*f)
	}
	a.PostalCode = strings.ToUpper(a.PostalCode)
	a.Country = country.Normalize(a.Country)
}

// Validate checks a normalised address: name, line1, city and country are
// required (the postal code is not: some countries have none; checkout,
// whose carriers need one, requires it too), every field is valid UTF-8
// without control characters and at most its Max length, the postal code
// holds only letters, digits, spaces and hyphens, and the country is an
// assigned ISO 3166-1 alpha-2 code in upper case. It returns nil, or an Invalid *apperr.Error naming
// each bad field as prefix+field (prefix "shipping_address." names
// "shipping_address.city").
func (a Address) Validate(prefix string) error {
	var v apperr.Validator
	a.Check(&v, prefix)
	return v.Err()
}

// Check is Validate adding its field errors to v, for a caller that
// validates more than the address.
func (a Address) Check(v *apperr.Validator, prefix string) {
	text(v, prefix+"name", a.Name, true, MaxName)
	text(v, prefix+"line1", a.Line1, true, MaxLine)
	text(v, prefix+"line2", a.Line2, false, MaxLine)
	text(v, prefix+"city", a.City, true, MaxCity)
	if text(v, prefix+"postal_code", a.PostalCode, false, MaxPostalCode) && !validPostalCode(a.PostalCode) {
		v.Add(prefix+"postal_code", "may contain only letters, digits, spaces and hyphens")
	}
	switch {
	case a.Country == "":
		v.Add(prefix+"country", "is required")
	case !country.Valid(a.Country):
		v.Add(prefix+"country", "must be an ISO 3166-1 alpha-2 country code such as DE")
	}
}

// text records an error for field unless s is valid text of at most max
// characters (and not empty when required); it reports whether s passed.
func text(v *apperr.Validator, field, s string, required bool, max int) bool {
	msg := ""
	switch {
	case !utf8.ValidString(s):
		msg = "must be valid UTF-8"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		msg = "must not contain control characters"
	case required && s == "":
		msg = "is required"
	case utf8.RuneCountInString(s) > max:
		msg = fmt.Sprintf("must be at most %d characters", max)
	default:
		return true
	}
	v.Add(field, msg)
	return false
}

func validPostalCode(s string) bool {
	for _, r := range s {
		if !(r == ' ' || r == '-' || (r >= '0' && r <= '9') || unicode.IsLetter(r)) {
			return false
		}
	}
	return true
}

// NormalizeEmail trims and lower-cases an e-mail address and checks its
// form (name@domain.tld, at most 254 bytes). It returns the normalised
// address, or an Invalid *apperr.Error on field: "is required" for an
// empty one, "must be an e-mail address like name@example.com" otherwise.
func NormalizeEmail(field, email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if e == "" {
		return "", apperr.Field(field, "is required")
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || len(e) > 254 || !strings.Contains(e[strings.LastIndexByte(e, '@'):], ".") {
		return "", apperr.Field(field, "must be an e-mail address like name@example.com")
	}
	return e, nil
}
