package country

import (
	"slices"
	"testing"
)

func TestCodes(t *testing.T) {
	all := Codes()
	if len(all) != 249 {
		t.Fatalf("%d codes, want the 249 assigned ISO 3166-1 alpha-2 codes", len(all))
	}
	if !slices.IsSorted(all) {
		t.Fatal("codes are not sorted")
	}
	if len(slices.Compact(slices.Clone(all))) != len(all) {
		t.Fatal("a code is listed twice")
	}
	eu := EU()
	if len(eu) != 27 || !slices.IsSorted(eu) {
		t.Fatalf("EU = %v, want the 27 member states sorted", eu)
	}
	for _, c := range eu {
		if !Valid(c) {
			t.Errorf("EU member %s is not a valid code", c)
		}
	}
}

func TestValid(t *testing.T) {
	tests := []struct {
		code      string
		valid, eu bool
	}{
		{"DE", true, true}, {"FR", true, true}, {"GR", true, true}, {"AD", true, false}, {"ZW", true, false},
		{"US", true, false}, {"GB", true, false}, {"CH", true, false}, {"NO", true, false},
		{"EL", false, false}, // Greece's VAT prefix, not an ISO code
		{"UK", false, false}, // reserved, not assigned
		{"XK", false, false}, // Kosovo: user-assigned
		{"EU", false, false}, // exceptionally reserved, not a country
		{"XX", false, false},
		{"de", false, false}, {" DE", false, false}, {"D", false, false}, {"DEU", false, false},
		{"", false, false}, {"*", false, false}, {"E ", false, false}, {" A", false, false}, {"D\x00", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := Valid(tt.code); got != tt.valid {
				t.Errorf("Valid(%q) = %v, want %v", tt.code, got, tt.valid)
			}
			if got := InEU(tt.code); got != tt.eu {
				t.Errorf("InEU(%q) = %v, want %v", tt.code, got, tt.eu)
			}
		})
	}
	if got := Normalize("  de\t"); got != "DE" {
		t.Errorf("Normalize = %q", got)
	}
}

func TestName(t *testing.T) {
	for _, c := range Codes() {
		if n := Name(c); n == c || n == "" {
			t.Errorf("Name(%s) = %q, want its English name", c, n)
		}
	}
	tests := []struct{ code, want string }{
		{"DE", "Germany"}, {"GB", "United Kingdom"}, {"US", "United States"}, {"CZ", "Czechia"}, {"TR", "Türkiye"},
		{"KR", "South Korea"}, {"CI", "Côte d'Ivoire"}, {"AX", "Åland Islands"}, {"ZW", "Zimbabwe"},
		{"XX", "XX"}, {"de", "de"}, {"", ""}, {"*", "*"}, {"EU", "EU"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := Name(tt.code); got != tt.want {
				t.Errorf("Name(%q) = %q, want %q", tt.code, got, tt.want)
			}
		})
	}
}
