// Package app is Mercato's composition root: it reads configuration, opens
// the database, builds every module, wires them together and serves HTTP.
// It is the only package that knows all the others.
package app

import (
	"context"
	"fmt"
	"github.com/mercato-shop/mercato/internal/cart"
	"github.com/mercato-shop/mercato/internal/checkout"
	"github.com/mercato-shop/mercato/internal/order"
	"github.com/mercato-shop/mercato/internal/payment"
	"github.com/mercato-shop/mercato/internal/platform/ratelimit"
	"github.com/mercato-shop/mercato/internal/promotion"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mercato-shop/mercato/internal/admin"
	"github.com/mercato-shop/mercato/internal/affiliate"
	"github.com/mercato-shop/mercato/internal/analytics"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/giftcard"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/platform/blob"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/web"
	"github.com/mercato-shop/mercato/internal/shipping"
	"github.com/mercato-shop/mercato/internal/storefront"
	"github.com/mercato-shop/mercato/internal/tax"
)

// Migrations lists every module's migrations in the order they apply.
func Migrations() []sqldb.Migrations {
	return []sqldb.Migrations{
		catalog.Migrations(),
		inventory.Migrations(),
		customer.Migrations(),
		shipping.Migrations(),
		tax.Migrations(),
		outbox.Migrations(),
		notify.Migrations(),
		analytics.Migrations(),
		cart.Migrations(),
		payment.Migrations(),
		order.Migrations(),
		checkout.Migrations(),
		affiliate.Migrations(),
		giftcard.Migrations(),
		promotion.Migrations(),
	}
}

// App holds the wired modules.
type App struct {
	Config    Config
	Log       *slog.Logger
	DB        *sqldb.DB
	Registry  *prometheus.Registry
	Metrics   *web.Metrics
	Catalog   *catalog.Service
	Inventory *inventory.Service
	Customers *customer.Service
	Blob      *blob.Disk // uploaded and demo files, <data dir>/media, served at /media/

	Storefront *storefront.Storefront // the public HTML pages and the shared static files

	Shipping *shipping.Service // shipping zones, rates and methods by destination
	Tax      *tax.Service      // tax rates by destination, inclusive or exclusive

	Payments      *payment.Service
	Orders        *order.Service
	Carts         *cart.Service
	Checkout      *checkout.Service
	Promotions    *promotion.Service // discount codes and automatic promotions
	checkoutLimit *ratelimit.Memory
	GiftCards     *giftcard.Service // gift cards: issue, balance, holds at checkout, cards sold as products

	Bus       *outbox.LocalBus   // domain events, in process; consumers subscribe in wireEvents
	Relay     *outbox.Relay      // publishes committed outbox events to Bus (run by Start)
	Notify    *notify.Service    // e-mails and low-stock alerts from events
	Analytics *analytics.Service // sales counters from events
	// Affiliates runs the affiliate programme: applications, ?ref= links,
	// commissions from order events, payouts.
	Affiliates *affiliate.Service
	Admin      *admin.Admin // the staff pages under /admin
	jobs       jobs         // periodic tasks (Every), run by Start
}

// New opens the database, applies migrations and builds the modules.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	db, err := sqldb.Open(ctx, cfg.DatabaseURL, cfg.DataDir, sqldb.Options{ReplicaURL: cfg.ReplicaURL})
	if err != nil {
		return nil, err
	}
	applied, err := db.Migrate(ctx, Migrations()...)
	if err != nil {
		db.Close()
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("migrations applied", "count", len(applied), "dialect", db.Dialect())
	}
	a, err := Wire(cfg, log, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

// loginPurgeEvery is how often forgotten sign-in counts and known sources
// (customer.Service.PurgeLoginRecords) and expired mailed links
// (PurgeExpiredLinks) are deleted.
const loginPurgeEvery = 10 * time.Minute

// Wire builds the modules on an open, migrated database. It fails only when
// an embedded template does not parse (a build defect the modules' tests
// catch) or the configuration is inconsistent.
func Wire(cfg Config, log *slog.Logger, db *sqldb.DB) (*App, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	inv := inventory.NewService(db)
	cat := catalog.NewService(db, inv)
	a := &App{
		Config:    cfg,
		Log:       log,
		DB:        db,
		Registry:  reg,
		Metrics:   web.NewMetrics(reg),
		Catalog:   cat,
		Inventory: inv,
		Customers: customer.NewService(db, customer.WithTrustedProxies(cfg.TrustedProxies...), customer.WithCSRFBypass("POST /api/v1/payments/webhook", "POST /api/v1/payments/{provider}/webhook", "POST /api/v1/payments/xendit/callback")),
		Blob:      blob.NewDisk(filepath.Join(cfg.DataDir, "media")),

		Shipping: shipping.NewService(db, shipping.Options{DefaultCountry: cfg.DefaultCountry, Currency: cfg.Currency}),
		Tax:      tax.NewService(db, tax.Options{DefaultCountry: cfg.DefaultCountry, PricesIncludeTax: cfg.PricesIncludeTax}),
	}
	a.Every(loginPurgeEvery, "customer-login-purge", func(ctx context.Context) error {
		_, err := a.Customers.PurgeLoginRecords(ctx)
		return err
	})
	a.Every(loginPurgeEvery, "customer-link-purge", func(ctx context.Context) error {
		_, err := a.Customers.PurgeExpiredLinks(ctx)
		return err
	})
	a.wireGiftCards()
	if err := a.wireEvents(); err != nil {
		return nil, err
	}
	if err := a.wireShop(); err != nil {
		return nil, err
	}
	if err := a.wireAffiliates(); err != nil {
		return nil, err
	}
	sf, err := storefront.New(cat, storefront.Options{ShopName: cfg.ShopName, LogoURL: cfg.ShopLogo, AccentColor: cfg.ShopAccent, BaseURL: cfg.BaseURL,
		Services: storefront.Services{Carts: a.Carts, Checkout: a.Checkout, Orders: a.Orders, Customers: a.Customers, Shipping: a.Shipping, Payments: paymentMethods{a.Payments}, Mailing: a.Notify, AllowCheckout: a.allowCheckout,
			Affiliates: a.Affiliates}}, log)
	if err != nil {
		return nil, fmt.Errorf("wire storefront: %w", err)
	}
	a.Storefront = sf
	a.Admin, err = admin.New(admin.Services{Catalog: cat, Inventory: inv, Orders: a.Orders, Accounts: a.Customers, Emails: a.Notify,
		Sales: a.Analytics, Blobs: a.Blob, Affiliates: a.Affiliates, GiftCards: a.GiftCards, Promotions: a.Promotions}, admin.Options{ShopName: cfg.ShopName, Currency: cfg.Currency, Assets: sf.Assets()}, log)
	if err != nil {
		return nil, fmt.Errorf("wire admin: %w", err)
	}
	return a, nil
}

// affiliateEvery is how often commissions past their return window are
// approved and old click marks and referrals are deleted.
const affiliateEvery = 10 * time.Minute

// wireAffiliates builds the affiliate programme, subscribes it to the order
// and account events, and registers its periodic job.
func (a *App) wireAffiliates() error {
	cfg := a.Config
	svc, err := affiliate.NewService(a.DB, affiliate.Options{Currency: cfg.Currency, BaseURL: cfg.BaseURL, Window: cfg.AffiliateWindow,
		ReturnWindow: cfg.AffiliateReturnWindow, Rate: cfg.AffiliateRate}, a.Log)
	if err != nil {
		return fmt.Errorf("wire affiliates: %w", err)
	}
	a.Affiliates = svc
	svc.Subscribe(a.Bus)
	a.Every(affiliateEvery, "affiliate-ledger", func(ctx context.Context) error {
		now := time.Now()
		n, err := svc.ApproveDue(ctx, now)
		if n > 0 {
			a.Log.Info("affiliate commissions approved", "count", n)
		}
		if err != nil {
			return err
		}
		_, err = svc.Purge(ctx, now)
		return err
	})
	return nil
}

// Close releases the database.
func (a *App) Close() error {
	if err := a.DB.Close(); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}
