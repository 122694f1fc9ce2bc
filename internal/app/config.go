package app

import (
	"crypto/x509"
	"flag"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/affiliate"
	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/country"
	"github.com/mercato-shop/mercato/internal/giftcard"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/payment/xendit"
	"github.com/mercato-shop/mercato/internal/platform/mail"
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

	StripeSecretKey      string // MERCATO_STRIPE_SECRET_KEY: sk_…; set: cards are paid through Stripe
	StripePublishableKey string // MERCATO_STRIPE_PUBLISHABLE_KEY: pk_…, for Stripe.js on the storefront
	StripeWebhookSecret  string // MERCATO_STRIPE_WEBHOOK_SECRET: whsec_…, verifies Stripe's webhooks
	StripeAPIBase        string // MERCATO_STRIPE_API_BASE: another API address (stripe-mock: http://127.0.0.1:12111)

	XenditSecretKey     string // MERCATO_XENDIT_SECRET_KEY: xnd_development_… or xnd_production_…; set: pm_xendit_invoice pays through Xendit
	XenditCallbackToken string // MERCATO_XENDIT_CALLBACK_TOKEN: Xendit's callback verification token, checks its callbacks
	XenditAPIBase       string // MERCATO_XENDIT_API_BASE: Xendit's API address (default https://api.xendit.co)

	SandboxWebhookSecret string // MERCATO_SANDBOX_WEBHOOK_SECRET: signs the sandbox provider's webhooks; empty: the sandbox accepts none
	// moreProviders are payment providers besides the configured ones (the
	// app's tests: a provider paid on its own page).
	moreProviders []payment.Provider

	GiftCardSKUPrefix string // MERCATO_GIFT_CARD_SKU_PREFIX: products whose SKU starts with it are gift cards (default GIFTCARD-)

	CheckoutTimeout time.Duration // MERCATO_CHECKOUT_TIMEOUT: how long one checkout attempt may run, provider calls included (default 20s)
	checkoutTimeout string

	// SMTP is the server e-mails are sent through (MERCATO_SMTP_URL,
	// smtp://user:password@host:587 or smtps://...); nil: e-mails stay
	// queued. Its String never shows the password.
	SMTP      *mail.Server
	smtpURL   string
	MailFrom  *netmail.Address // MERCATO_MAIL_FROM: the From of every e-mail; required with SMTP
	mailFrom  string
	SMTPRoots *x509.CertPool // MERCATO_SMTP_CA_FILE: PEM certificates trusted for the SMTP server besides the system's; nil: the system's
	smtpCA    string

	// AbandonedCartAfter is how long a customer's cart sits idle before its
	// one reminder (MERCATO_ABANDONED_CART_AFTER, default 4h; 0 = off).
	AbandonedCartAfter time.Duration
	abandonedCartAfter string

	AffiliateWindow       time.Duration   // MERCATO_AFFILIATE_WINDOW: how long a ?ref= click refers the visitor (default 30d); 0 here: the default
	AffiliateReturnWindow time.Duration   // MERCATO_AFFILIATE_RETURN_WINDOW: how long a commission stays pending (default 30d); 0 here: the default
	AffiliateRate         *affiliate.Rate // MERCATO_AFFILIATE_COMMISSION_PERCENT: the default commission (default 10); nil here: the default
	affiliateWindow       string
	affiliateReturnWindow string
	affiliatePercent      string
}

// skuPrefixRE is the form of MERCATO_GIFT_CARD_SKU_PREFIX: the start of a
// catalog SKU.
var skuPrefixRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

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

		CaptureOnFulfilment:  getenv("MERCATO_PAYMENT_CAPTURE") == "fulfilment",
		paymentCapture:       env("MERCATO_PAYMENT_CAPTURE", "checkout"),
		trustedProxies:       getenv("MERCATO_TRUSTED_PROXIES"),
		SandboxWebhookSecret: getenv("MERCATO_SANDBOX_WEBHOOK_SECRET"),
		StripeSecretKey:      getenv("MERCATO_STRIPE_SECRET_KEY"),
		StripePublishableKey: getenv("MERCATO_STRIPE_PUBLISHABLE_KEY"),
		StripeWebhookSecret:  getenv("MERCATO_STRIPE_WEBHOOK_SECRET"),
		StripeAPIBase:        getenv("MERCATO_STRIPE_API_BASE"),
		XenditSecretKey:      getenv("MERCATO_XENDIT_SECRET_KEY"),
		XenditCallbackToken:  getenv("MERCATO_XENDIT_CALLBACK_TOKEN"),
		XenditAPIBase:        env("MERCATO_XENDIT_API_BASE", xendit.DefaultAPIBase),
		checkoutTimeout:      env("MERCATO_CHECKOUT_TIMEOUT", checkout.DefaultAttemptTimeout.String()),
		smtpURL:              getenv("MERCATO_SMTP_URL"),
		mailFrom:             getenv("MERCATO_MAIL_FROM"),
		smtpCA:               getenv("MERCATO_SMTP_CA_FILE"),
		abandonedCartAfter:   env("MERCATO_ABANDONED_CART_AFTER", "4h"),

		affiliateWindow:       env("MERCATO_AFFILIATE_WINDOW", "30d"),
		affiliateReturnWindow: env("MERCATO_AFFILIATE_RETURN_WINDOW", "30d"),
		affiliatePercent:      env("MERCATO_AFFILIATE_COMMISSION_PERCENT", "10"),

		GiftCardSKUPrefix: env("MERCATO_GIFT_CARD_SKU_PREFIX", giftcard.DefaultSKUPrefix),
	}
}

// bind registers the flags that override the environment.
func (c *Config) bind(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (env MERCATO_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "data folder for SQLite and uploads (env MERCATO_DATA_DIR)")
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "empty for SQLite in the data folder, or postgres://... (env MERCATO_DATABASE_URL)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error (env MERCATO_LOG_LEVEL)")
}

// parseCheckoutTimeout reads MERCATO_CHECKOUT_TIMEOUT ("20s").
func (c *Config) parseCheckoutTimeout() error {
	d, err := time.ParseDuration(c.checkoutTimeout)
	if err != nil || d < time.Second || d > 5*time.Minute {
		return fmt.Errorf("MERCATO_CHECKOUT_TIMEOUT %q: want a duration between 1s and 5m such as 20s", c.checkoutTimeout)
	}
	c.CheckoutTimeout = d
	return nil
}

// parseMail reads MERCATO_SMTP_URL, MERCATO_MAIL_FROM and
// MERCATO_SMTP_CA_FILE. No message quotes the URL: it may hold a password.
func (c *Config) parseMail() error {
	c.SMTP, c.MailFrom, c.SMTPRoots = nil, nil, nil
	if c.mailFrom != "" {
		a, err := netmail.ParseAddress(c.mailFrom)
		if err != nil || strings.ContainsAny(c.mailFrom, "\r\n") || !strings.Contains(a.Address, "@") {
			return fmt.Errorf("MERCATO_MAIL_FROM %q: want an e-mail address such as shop@example.com or \"Shop name <shop@example.com>\"", c.mailFrom)
		}
		if a.Name == "" {
			a.Name = c.ShopName
		}
		c.MailFrom = a
	}
	if c.smtpCA != "" {
		pem, err := os.ReadFile(c.smtpCA)
		if err != nil {
			return fmt.Errorf("MERCATO_SMTP_CA_FILE: %v", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("MERCATO_SMTP_CA_FILE %q: no PEM certificate in it", c.smtpCA)
		}
		c.SMTPRoots = pool
	}
	if c.smtpURL == "" {
		return nil
	}
	s, err := mail.ParseURL(c.smtpURL)
	if err != nil {
		return fmt.Errorf("MERCATO_SMTP_URL: %v", err)
	}
	if c.MailFrom == nil {
		return fmt.Errorf("MERCATO_MAIL_FROM: required with MERCATO_SMTP_URL (the sender address, such as shop@example.com)")
	}
	c.SMTP = &s
	return nil
}

// parseReminderDelay reads MERCATO_ABANDONED_CART_AFTER ("4h", or "off").
func (c *Config) parseReminderDelay() error {
	if c.abandonedCartAfter == "off" || c.abandonedCartAfter == "0" {
		c.AbandonedCartAfter = 0
		return nil
	}
	d, err := time.ParseDuration(c.abandonedCartAfter)
	if err != nil || d < time.Second || d > 30*24*time.Hour {
		return fmt.Errorf("MERCATO_ABANDONED_CART_AFTER %q: want a duration between 1s and 720h such as 4h, or off", c.abandonedCartAfter)
	}
	c.AbandonedCartAfter = d
	return nil
}

// parseDays reads a duration given in days ("30d") or as a Go duration
// ("720h").
func parseDays(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		return time.Duration(days) * 24 * time.Hour, err == nil
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}

// parseAffiliate reads the MERCATO_AFFILIATE_ settings: the windows between
// one hour and a year, the percentage from 0 to 100 (two decimals at most).
func (c *Config) parseAffiliate() error {
	for _, w := range []struct {
		name, raw string
		dst       *time.Duration
	}{
		{"MERCATO_AFFILIATE_WINDOW", c.affiliateWindow, &c.AffiliateWindow},
		{"MERCATO_AFFILIATE_RETURN_WINDOW", c.affiliateReturnWindow, &c.AffiliateReturnWindow},
	} {
		d, ok := parseDays(w.raw)
		if !ok || d < time.Hour || d > 366*24*time.Hour {
			return fmt.Errorf("%s %q: want a duration between 1h and 366d such as 30d or 48h", w.name, w.raw)
		}
		*w.dst = d
	}
	p, err := strconv.ParseFloat(strings.TrimSpace(c.affiliatePercent), 64)
	rate, ok := affiliate.RateFromPercent(p)
	if err != nil || !ok {
		return fmt.Errorf("MERCATO_AFFILIATE_COMMISSION_PERCENT %q: want a percentage from 0 to 100 such as 10 or 7.5", c.affiliatePercent)
	}
	c.AffiliateRate = &rate
	return nil
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
	if a, err := netmail.ParseAddress(c.StaffEmail); err != nil || a.Address != c.StaffEmail {
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
	if k := c.StripeSecretKey; k != "" && !strings.HasPrefix(k, "sk_") && !strings.HasPrefix(k, "rk_") {
		return fmt.Errorf("MERCATO_STRIPE_SECRET_KEY: want a Stripe secret key (sk_test_… or sk_live_…)")
	}
	if k := c.StripePublishableKey; k != "" && !strings.HasPrefix(k, "pk_") {
		return fmt.Errorf("MERCATO_STRIPE_PUBLISHABLE_KEY %q: want a Stripe publishable key (pk_test_… or pk_live_…)", k)
	}
	if k := c.StripeWebhookSecret; k != "" && !strings.HasPrefix(k, "whsec_") {
		return fmt.Errorf("MERCATO_STRIPE_WEBHOOK_SECRET: want a webhook signing secret (whsec_…)")
	}
	if c.StripeSecretKey == "" && (c.StripeWebhookSecret != "" || c.StripePublishableKey != "") {
		return fmt.Errorf("MERCATO_STRIPE_SECRET_KEY is not set, but other MERCATO_STRIPE_ settings are: set it too, or none")
	}
	if u := c.StripeAPIBase; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return fmt.Errorf("MERCATO_STRIPE_API_BASE %q: want an http(s) address such as http://127.0.0.1:12111", u)
		}
	}
	if err := c.validateXendit(); err != nil {
		return err
	}
	if n := len(c.SandboxWebhookSecret); n > 0 && n < 16 {
		return fmt.Errorf("MERCATO_SANDBOX_WEBHOOK_SECRET: want at least 16 characters (a random string; it signs payment notifications)")
	}
	if p := c.GiftCardSKUPrefix; p != "" && (len(p) > 32 || !skuPrefixRE.MatchString(p)) {
		return fmt.Errorf("MERCATO_GIFT_CARD_SKU_PREFIX %q: want the start of a SKU, 1-32 letters, digits, '.', '_' or '-', such as GIFTCARD-", p)
	}
	if v := c.pricesIncludeTax; v != "" && v != "true" && v != "false" {
		return fmt.Errorf("MERCATO_PRICES_INCLUDE_TAX %q: want true (prices include tax) or false (tax is added)", v)
	}
	return nil
}

// validateXendit checks the MERCATO_XENDIT_ settings: none, or a secret key
// (not the public one) with the callback verification token; the API base
// is an http(s) address.
func (c Config) validateXendit() error {
	if c.XenditSecretKey == "" {
		if c.XenditCallbackToken != "" {
			return fmt.Errorf("MERCATO_XENDIT_SECRET_KEY is not set, but MERCATO_XENDIT_CALLBACK_TOKEN is: set it too, or neither")
		}
		return nil
	}
	if k := c.XenditSecretKey; !strings.HasPrefix(k, "xnd_") || strings.HasPrefix(k, "xnd_public_") {
		return fmt.Errorf("MERCATO_XENDIT_SECRET_KEY: want a Xendit secret API key (xnd_development_… or xnd_production_…), not a public key")
	}
	if len(c.XenditCallbackToken) < 16 {
		return fmt.Errorf("MERCATO_XENDIT_CALLBACK_TOKEN: want Xendit's callback verification token (Settings > Callbacks in Xendit's dashboard); payments complete by its callbacks")
	}
	if c.XenditAPIBase != "" {
		if err := xendit.CheckAPIBase(c.XenditAPIBase); err != nil {
			return fmt.Errorf("MERCATO_XENDIT_API_BASE %q: want an http(s) address such as %s", c.XenditAPIBase, xendit.DefaultAPIBase)
		}
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
