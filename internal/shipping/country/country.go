// Package country knows the ISO 3166-1 alpha-2 country codes and which of
// them are member states of the European Union. It is data, not a service:
// shipping zones, tax rates and (later) addresses validate codes with it.
package country

import "strings"

// Wildcard stands for "every country not named elsewhere" in shipping zones
// and tax rates. It is not a country: Valid refuses it.
const Wildcard = "*"

// codes are the 249 officially assigned ISO 3166-1 alpha-2 codes, each
// followed by a space. Kept as a constant so that nothing can change it.
const codes = "" +
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ " +
	"BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ " +
	"DE DJ DK DM DO DZ " +
	"EC EE EG EH ER ES ET " +
	"FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY " +
	"HK HM HN HR HT HU " +
	"ID IE IL IM IN IO IQ IR IS IT " +
	"JE JM JO JP " +
	"KE KG KH KI KM KN KP KR KW KY KZ " +
	"LA LB LC LI LK LR LS LT LU LV LY " +
	"MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ " +
	"NA NC NE NF NG NI NL NO NP NR NU NZ " +
	"OM " +
	"PA PE PF PG PH PK PL PM PN PR PS PT PW PY " +
	"QA " +
	"RE RO RS RU RW " +
	"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ " +
	"TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ " +
	"UA UG UM US UY UZ " +
	"VA VC VE VG VI VN VU " +
	"WF WS " +
	"YE YT " +
	"ZA ZM ZW "

// euCodes are the 27 member states of the European Union (ISO codes: Greece
// is GR here, not the VAT prefix EL).
const euCodes = "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK "

// Normalize trims spaces and upper-cases a code, so "de " becomes "DE". It
// does not validate.
func Normalize(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// Valid reports whether code is an assigned ISO 3166-1 alpha-2 code, exactly
// (upper case, no spaces; Normalize first to be lenient).
func Valid(code string) bool { return in(codes, code) }

// InEU reports whether code is a member state of the European Union.
func InEU(code string) bool { return in(euCodes, code) }

// Codes returns every ISO 3166-1 alpha-2 code, sorted.
func Codes() []string { return strings.Fields(codes) }

// EU returns the member states of the European Union, sorted.
func EU() []string { return strings.Fields(euCodes) }

func in(list, code string) bool {
	if len(code) != 2 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z' {
		return false
	}
	i := strings.Index(list, code+" ")
	return i >= 0 && i%3 == 0
}
