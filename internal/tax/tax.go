// Package tax computes the tax on an order by destination country: one
// standard rate per country in basis points, a wildcard rate for every other
// country, and a shop-wide choice of whether prices already include tax.
//
// Rates live in the module's own table (defaults: the EU standard VAT rates,
// 0 elsewhere); staff change them through the admin API.
package tax

import (
	"embed"
	"time"

	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the tax module's tables.
func Migrations() sqldb.Migrations { return sqldb.Embedded("tax", migrationFS, "migrations") }

// MaxRateBP bounds a rate: 10000 basis points is 100%.
const MaxRateBP = 10000

// Breakdown is the tax on one taxable amount.
type Breakdown struct {
	Tax       money.Money `json:"tax"`       // the tax amount (included in prices, or to be added)
	Inclusive bool        `json:"inclusive"` // prices already include tax
	RateBP    int64       `json:"rate_bp"`   // the rate in basis points (1900 = 19%)
}

// Rate is the tax rate of a destination country, or of every other country
// when Country is "*".
type Rate struct {
	Country   string    `json:"country"`
	RateBP    int64     `json:"rate_bp"`
	UpdatedAt time.Time `json:"updated_at"`
}
