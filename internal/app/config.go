package app

import (
	"flag"
	"fmt"
	"log/slog"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"

	"github.com/mercato-shop/mercato/internal/country"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/ui"
)

// Config is everything Mercato reads from flags and the environment. It is
// read once, in run, and passed down; nothing below reads the environment.
type Config struct {
	Addr        string // MERCATO_ADDR, default :8080
	DataDir     string // MERCATO_DATA_DIR, default ./mercato-data
	DatabaseURL string // MERCATO_DATABASE_URL: empty = SQLite in DataDir, postgres://... = PostgreSQL
	ReplicaURL  string // MERCATO_DATABASE_REPLICA_URL: optional PostgreSQL read replica
	LogLevel    string // MERCATO_LOG_LEVEL: debug, info, warn, error
	Currency    string // MERCATO_CURRENCY, default EUR
	ShopName    string // MERCATO_SHOP_NAME, default Mercato
	ShopLogo    string // MERCATO_SHOP_LOGO: path of a logo image on this site; empty shows the name
	ShopAccent  string // MERCATO_SHOP_ACCENT: accent colour #rrggbb; empty = the default teal
	BaseURL     string // MERCATO_BASE_URL: public address for canonical links and the sitemap, default http://localhost:8080
	Demo        bool   // MERCATO_DEMO: seed the demo catalog on first start (default true)
	StaffEmail  string // MERCATO_STAFF_EMAIL: where staff alerts (low stock) go, default staff@localhost

	MetricsToken string // MERCATO_METRICS_TOKEN: when set, GET /metrics needs "Authorization: Bearer <token>"

	DefaultCountry   string // MERCATO_DEFAULT_COUNTRY: the shop's country (ISO 3166-1 alpha-2) for shipping and tax estimates, default DE
	PricesIncludeTax bool   // MERCATO_PRICES_INCLUDE_TAX: catalog prices include tax (default true); false adds it on top
	pricesIncludeTax string // the raw MERCATO_PRICES_INCLUDE_TAX, checked by validate

	TrustedProxies []netip.Prefix // MERCATO_TRUSTED_PROXIES: comma-separated CIDRs of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed
	trustedProxies string

	CaptureOnFulfilment bool   // MERCATO_PAYMENT_CAPTURE=fulfilment: authorize at checkout, capture at the first fulfilment (default: capture at checkout)
	paymentCapture      string // the raw MERCATO_PAYMENT_CAPTURE, checked by validate
}

func defaultConfig(getenv func(string) string) Config {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	return Config{
		Addr:        env("MERCATO_ADDR", ":8080"),
		DataDir:     env("MERCATO_DATA_DIR", "./mercato-data"),
		DatabaseURL: getenv("MERCATO_DATABASE_URL"),
		ReplicaURL:  getenv("MERCATO_DATABASE_REPLICA_URL"),
		LogLevel:    env("MERCATO_LOG_LEVEL", "info"),
		Currency:    env("MERCATO_CURRENCY", "EUR"),
		ShopName:    env("MERCATO_SHOP_NAME", "Mercato"),
		ShopLogo:    getenv("MERCATO_SHOP_LOGO"),
		ShopAccent:  getenv("MERCATO_SHOP_ACCENT"),
		BaseURL:     strings.TrimRight(env("MERCATO_BASE_URL", "http://localhost:8080"), "/"),
		Demo:        env("MERCATO_DEMO", "true") != "false",
		StaffEmail:  env("MERCATO_STAFF_EMAIL", defaultStaffEmail),

		MetricsToken: getenv("MERCATO_METRICS_TOKEN"),

		DefaultCountry:   country.Normalize(env("MERCATO_DEFAULT_COUNTRY", "DE")),
		PricesIncludeTax: env("MERCATO_PRICES_INCLUDE_TAX", "true") == "true",
		pricesIncludeTax: env("MERCATO_PRICES_INCLUDE_TAX", "true"),

		CaptureOnFulfilment: getenv("MERCATO_PAYMENT_CAPTURE") == "fulfilment",
		paymentCapture:      env("MERCATO_PAYMENT_CAPTURE", "checkout"),
		trustedProxies:      getenv("MERCATO_TRUSTED_PROXIES"),
	}
}

// bind registers the flags that override the environment.
func (c *Config) bind(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (env MERCATO_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "data folder for SQLite and uploads (env MERCATO_DATA_DIR)")
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "empty for SQLite in the data folder, or postgres://... (env MERCATO_DATABASE_URL)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error (env MERCATO_LOG_LEVEL)")
}

// parseProxies reads MERCATO_TRUSTED_PROXIES ("10.0.0.0/8, 127.0.0.1/32").
func (c *Config) parseProxies() error {
	c.TrustedProxies = nil
	for _, part := range strings.Split(c.trustedProxies, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			if a, aerr := netip.ParseAddr(part); aerr == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				return fmt.Errorf("MERCATO_TRUSTED_PROXIES %q: want comma-separated addresses or CIDRs such as 10.0.0.0/8", part)
			}
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	return nil
}

func (c Config) validate() error {
	if c.paymentCapture != "" && c.paymentCapture != "checkout" && c.paymentCapture != "fulfilment" {
		return fmt.Errorf("MERCATO_PAYMENT_CAPTURE %q: want checkout (capture when the order is placed) or fulfilment (authorize, capture at the first fulfilment)", c.paymentCapture)
	}
	if c.Addr == "" || !strings.Contains(c.Addr, ":") {
		return fmt.Errorf("MERCATO_ADDR %q: want host:port such as :8080", c.Addr)
	}
	if c.DataDir == "" {
		return fmt.Errorf("MERCATO_DATA_DIR: must not be empty")
	}
	if u := c.DatabaseURL; u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") && !strings.HasPrefix(u, "sqlite:") {
		return fmt.Errorf("MERCATO_DATABASE_URL: want empty (SQLite), sqlite:PATH or postgres://...")
	}
	if _, err := c.level(); err != nil {
		return err
	}
	if c.ShopAccent != "" && !ui.ValidColor(c.ShopAccent) {
		return fmt.Errorf("MERCATO_SHOP_ACCENT %q: want a colour #rrggbb such as #0f766e", c.ShopAccent)
	}
	if l := c.ShopLogo; l != "" && (!strings.HasPrefix(l, "/") || strings.HasPrefix(l, "//")) {
		return fmt.Errorf("MERCATO_SHOP_LOGO %q: want a path on this site such as /media/logo.svg (the Content-Security-Policy allows same-origin images only)", l)
	}
	if u, err := url.Parse(c.BaseURL); c.BaseURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "") {
		return fmt.Errorf("MERCATO_BASE_URL %q: want the shop's public address, scheme and host only, such as https://shop.example.com", c.BaseURL)
	}
	if a, err := mail.ParseAddress(c.StaffEmail); err != nil || a.Address != c.StaffEmail {
		return fmt.Errorf("MERCATO_STAFF_EMAIL %q: want a bare e-mail address such as staff@example.com", c.StaffEmail)
	}
	if t := c.MetricsToken; t != "" && (len(t) < 16 || strings.IndexFunc(t, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0) {
		return fmt.Errorf("MERCATO_METRICS_TOKEN: want at least 16 printable ASCII characters without spaces, such as the output of openssl rand -hex 32")
	}
	if !money.ValidCurrency(c.Currency) {
		return fmt.Errorf("MERCATO_CURRENCY %q: want a 3-letter ISO 4217 code such as EUR", c.Currency)
	}
	if !country.Valid(c.DefaultCountry) {
		return fmt.Errorf("MERCATO_DEFAULT_COUNTRY %q: want an ISO 3166-1 alpha-2 country code such as DE", c.DefaultCountry)
	}
	if v := c.pricesIncludeTax; v != "" && v != "true" && v != "false" {
		return fmt.Errorf("MERCATO_PRICES_INCLUDE_TAX %q: want true (prices include tax) or false (tax is added)", v)
	}
	return nil
}

func (c Config) level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return l, fmt.Errorf("MERCATO_LOG_LEVEL %q: want debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}
