package address

import (
	"errors"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/apperr"
)

func valid() Address {
	return Address{Name: "Ada Lovelace", Line1: "12 St James's Square", City: "London", PostalCode: "SW1Y 4JH", Country: "GB"}
}

// fields returns field -> message of an Invalid error (nil for nil).
func fields(t *testing.T, err error) map[string]string {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code != apperr.Invalid {
		t.Fatalf("error %v, want an Invalid *apperr.Error", err)
	}
	m := map[string]string{}
	for _, f := range e.Fields {
		m[f.Field] = f.Message
	}
	return m
}

func TestNormalize(t *testing.T) {
	a := Address{Name: "  Ada ", Line1: "\t1 Road ", Line2: " ", City: " Town", PostalCode: " sw1y 4jh ", Country: " gb\n"}
	a.Normalize()
	want := Address{Name: "Ada", Line1: "1 Road", Line2: "", City: "Town", PostalCode: "SW1Y 4JH", Country: "GB"}
	if a != want {
		t.Fatalf("Normalize = %+v, want %+v", a, want)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Address)
		field string // "" for valid
		msg   string
	}{
		{"valid", func(a *Address) {}, "", ""},
		{"no line2, no postal code", func(a *Address) { a.Line2, a.PostalCode = "", "" }, "", ""},
		{"letters in postal code", func(a *Address) { a.PostalCode = "D-10115" }, "", ""},
		{"accents", func(a *Address) { a.Name, a.City = "Zoë Ébène", "Zürich" }, "", ""},
		{"longest", func(a *Address) {
			a.Name, a.Line1, a.Line2, a.City, a.PostalCode = strings.Repeat("é", MaxName), strings.Repeat("x", MaxLine), strings.Repeat("x", MaxLine), strings.Repeat("x", MaxCity), strings.Repeat("1", MaxPostalCode)
		}, "", ""},
		{"no name", func(a *Address) { a.Name = "" }, "name", "is required"},
		{"no line1", func(a *Address) { a.Line1 = "" }, "line1", "is required"},
		{"no city", func(a *Address) { a.City = "" }, "city", "is required"},
		{"no country", func(a *Address) { a.Country = "" }, "country", "is required"},
		{"long name", func(a *Address) { a.Name = strings.Repeat("é", MaxName+1) }, "name", "must be at most 100 characters"},
		{"long line2", func(a *Address) { a.Line2 = strings.Repeat("x", MaxLine+1) }, "line2", "must be at most 200 characters"},
		{"long city", func(a *Address) { a.City = strings.Repeat("x", MaxCity+1) }, "city", "must be at most 100 characters"},
		{"long postal code", func(a *Address) { a.PostalCode = strings.Repeat("1", MaxPostalCode+1) }, "postal_code", "must be at most 20 characters"},
		{"punctuation in postal code", func(a *Address) { a.PostalCode = "SW1;DROP" }, "postal_code", "may contain only letters, digits, spaces and hyphens"},
		{"markup in postal code", func(a *Address) { a.PostalCode = "<SCRIPT>" }, "postal_code", "may contain only letters, digits, spaces and hyphens"},
		{"NUL", func(a *Address) { a.Line1 = "12\x00 Street" }, "line1", "must not contain control characters"},
		{"newline", func(a *Address) { a.City = "Lon\ndon" }, "city", "must not contain control characters"},
		{"bad UTF-8", func(a *Address) { a.Name = "Ada \xff" }, "name", "must be valid UTF-8"},
		{"unknown country", func(a *Address) { a.Country = "XX" }, "country", "must be an ISO 3166-1 alpha-2 country code such as DE"},
		{"alpha-3 country", func(a *Address) { a.Country = "GBR" }, "country", "must be an ISO 3166-1 alpha-2 country code such as DE"},
		{"lower-case country (not normalised)", func(a *Address) { a.Country = "gb" }, "country", "must be an ISO 3166-1 alpha-2 country code such as DE"},
		{"UK is not GB", func(a *Address) { a.Country = "UK" }, "country", "must be an ISO 3166-1 alpha-2 country code such as DE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := valid()
			tt.edit(&a)
			got := fields(t, a.Validate(""))
			if tt.field == "" {
				if got != nil {
					t.Fatalf("Validate = %v, want nil", got)
				}
				return
			}
			if len(got) != 1 || got[tt.field] != tt.msg {
				t.Fatalf("Validate = %v, want only %s: %s", got, tt.field, tt.msg)
			}
		})
	}
}

func TestValidatePrefixAndEveryField(t *testing.T) {
	got := fields(t, Address{PostalCode: "a;b", Country: "??"}.Validate("shipping_address."))
	want := map[string]string{
		"shipping_address.name":        "is required",
		"shipping_address.line1":       "is required",
		"shipping_address.city":        "is required",
		"shipping_address.postal_code": "may contain only letters, digits, spaces and hyphens",
		"shipping_address.country":     "must be an ISO 3166-1 alpha-2 country code such as DE",
	}
	if len(got) != len(want) {
		t.Fatalf("Validate = %v, want %v", got, want)
	}
	for f, m := range want {
		if got[f] != m {
			t.Errorf("%s: %q, want %q", f, got[f], m)
		}
	}
	var v apperr.Validator
	v.Add("email", "is required")
	Address{}.Check(&v, "billing.")
	if n := len(fields(t, v.Err())); n != 5 {
		t.Fatalf("Check added to the caller's validator: %d fields, want 5 (email + 4)", n)
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in, want, msg string
	}{
		{"ada@example.com", "ada@example.com", ""},
		{"  Ada@Example.COM\t", "ada@example.com", ""},
		{"a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk", ""},
		{"", "", "is required"},
		{"   ", "", "is required"},
		{"ada", "", "must be an e-mail address like name@example.com"},
		{"ada@localhost", "", "must be an e-mail address like name@example.com"},
		{"Ada <ada@example.com>", "", "must be an e-mail address like name@example.com"},
		{"ada@example.com, bob@example.com", "", "must be an e-mail address like name@example.com"},
		{"a@b@example.com", "", "must be an e-mail address like name@example.com"},
		{strings.Repeat("a", 250) + "@example.com", "", "must be an e-mail address like name@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeEmail("contact", tt.in)
			if tt.msg == "" {
				if err != nil || got != tt.want {
					t.Fatalf("NormalizeEmail = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if f := fields(t, err); len(f) != 1 || f["contact"] != tt.msg || got != "" {
				t.Fatalf("NormalizeEmail = %q, %v; want contact: %s", got, err, tt.msg)
			}
		})
	}
}
