package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/demo"
)

// Version is set at build time with -ldflags "-X .../internal/app.Version=...".
var Version = "dev"

const usage = `mercato — an e-commerce platform in one binary

Usage:
  mercato [serve]                          run the shop (default)
  mercato migrate                          apply pending database migrations
  mercato seed --demo                      load the demo catalog
  mercato admin create --email E --password P [--name N] [--role admin|staff]
                                           create a staff account
  mercato version                          print the version
  mercato help                             show this help

Configuration (flags override the environment):
  MERCATO_ADDR          listen address (default :8080)
  MERCATO_DATA_DIR      data folder (default ./mercato-data)
  MERCATO_DATABASE_URL  empty: SQLite in the data folder; postgres://...: PostgreSQL
  MERCATO_LOG_LEVEL     debug, info, warn, error (default info)
  MERCATO_CURRENCY      shop currency (default EUR)
  MERCATO_DEFAULT_COUNTRY
                        the shop's country (ISO 3166-1 alpha-2) for shipping and tax (default DE)
  MERCATO_PRICES_INCLUDE_TAX
                        true: prices include tax (default); false: tax is added on top
  MERCATO_TRUSTED_PROXIES
                        reverse proxies (CIDRs) whose X-Forwarded-For names the client, e.g. 127.0.0.1/32 behind nginx
  MERCATO_PAYMENT_CAPTURE
                        checkout: capture payment when the order is placed (default);
                        fulfilment: authorize at checkout, capture at the first fulfilment
  MERCATO_STRIPE_SECRET_KEY, MERCATO_STRIPE_PUBLISHABLE_KEY, MERCATO_STRIPE_WEBHOOK_SECRET
                        Stripe keys: set the secret key to take card payments through Stripe
  MERCATO_STRIPE_API_BASE
                        another Stripe API address (stripe-mock: http://127.0.0.1:12111)
  MERCATO_XENDIT_SECRET_KEY
                        Xendit secret API key (xnd_…); set: payment method pm_xendit_invoice pays on
                        Xendit's invoice page (cards, e-wallets, virtual accounts)
  MERCATO_XENDIT_CALLBACK_TOKEN
                        Xendit's callback verification token (required with the key); checks the
                        callbacks at POST /api/v1/payments/xendit/callback
  MERCATO_XENDIT_API_BASE
                        Xendit's API address (default https://api.xendit.co)
  MERCATO_SANDBOX_WEBHOOK_SECRET
                        signs the sandbox payment provider's webhooks; unset: none accepted
  MERCATO_CHECKOUT_TIMEOUT
                        how long one checkout attempt may run, payment provider calls included
                        (default 20s); a retry takes over from a crashed attempt after 1.5 times this
  MERCATO_AFFILIATE_WINDOW
                        how long a click on an affiliate link (?ref=CODE) refers the visitor's
                        carts and orders: 30d (default), 48h, ... (1h to 366d)
  MERCATO_AFFILIATE_RETURN_WINDOW
                        how long a commission stays pending before it is approved for payout
                        (default 30d; 1h to 366d)
  MERCATO_AFFILIATE_COMMISSION_PERCENT
                        commission of affiliates without their own, in percent of the net order
                        (subtotal minus discounts, without shipping and tax; default 10)
  MERCATO_GIFT_CARD_SKU_PREFIX
                        products whose SKU starts with it are gift cards: each unit paid for issues
                        a card worth its price, mailed to the buyer (default GIFTCARD-)
  MERCATO_BASE_URL      public address for canonical links and the sitemap (default http://localhost:8080)
  MERCATO_SHOP_NAME     shop name in the storefront (default Mercato)
  MERCATO_SHOP_LOGO     path of a logo image on this site, e.g. /media/logo.svg (default: the name)
  MERCATO_SHOP_ACCENT   accent colour #rrggbb (default #0f766e)
  MERCATO_DEMO          false: do not seed the demo catalog on first start
  MERCATO_STAFF_EMAIL   where staff alerts such as low stock go (default staff@localhost)
  MERCATO_SMTP_URL      the SMTP server e-mails are sent through: smtp://user:password@host:587
                        (STARTTLS when offered; add ?tls=required to insist) or smtps://user:password@host:465;
                        percent-encode / @ : in the password. Unset: e-mails stay queued, unsent
  MERCATO_MAIL_FROM     the sender of every e-mail, e.g. shop@example.com or "Shop <shop@example.com>"
                        (required with MERCATO_SMTP_URL)
  MERCATO_SMTP_CA_FILE  PEM certificates to trust for the SMTP server besides the system's (a private CA)
  MERCATO_ABANDONED_CART_AFTER
                        how long a signed-in customer's cart sits idle before its one reminder e-mail
                        (default 4h); off: no reminders
  MERCATO_METRICS_TOKEN
                        when set, GET /metrics needs Authorization: Bearer <token>; unset, it is
                        public: set it, or block /metrics at the proxy or firewall, in production
`

// errUsage marks errors that are the caller's mistake: main prints them
// with a hint and exits 2.
var errUsage = errors.New("usage")

// Run is the whole program: main calls it with the process's arguments,
// environment, standard streams and a context cancelled on SIGINT/SIGTERM.
// Tests call it the same way.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, rest := "serve", []string{}
	if len(args) > 1 {
		cmd, rest = args[1], args[2:]
		if strings.HasPrefix(cmd, "-") && cmd != "-h" && cmd != "-help" && cmd != "--help" {
			cmd, rest = "serve", args[1:]
		}
	}
	cfg := new(Config)
	*cfg = defaultConfig(getenv)
	fs := flag.NewFlagSet("mercato "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.bind(fs)
	switch cmd {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version":
		fmt.Fprintln(stdout, "mercato", Version)
		return nil
	case "serve":
		if err := parse(fs, rest, cfg); err != nil {
			return err
		}
		return serve(ctx, cfg, stdout, stderr)
	case "migrate":
		if err := parse(fs, rest, cfg); err != nil {
			return err
		}
		return withApp(ctx, cfg, stderr, func(a *App) error {
			fmt.Fprintf(stdout, "database is up to date (%s)\n", a.DB.Dialect())
			return nil
		})
	case "seed":
		demoFlag := fs.Bool("demo", false, "load the demo catalog")
		if err := parse(fs, rest, cfg); err != nil {
			return err
		}
		if !*demoFlag {
			return fmt.Errorf("%w: seed needs --demo (the only seed there is)", errUsage)
		}
		return withApp(ctx, cfg, stderr, func(a *App) error {
			n, err := demo.Seed(ctx, a.Catalog, a.Blob, cfg.Currency, stdout)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "demo catalog loaded: %d products\n", n)
			return nil
		})
	case "admin":
		if len(rest) == 0 || rest[0] != "create" {
			return fmt.Errorf("%w: want 'mercato admin create --email E --password P'", errUsage)
		}
		email := fs.String("email", "", "e-mail of the new staff account")
		password := fs.String("password", "", "password (at least 8 characters)")
		name := fs.String("name", "", "display name")
		role := fs.String("role", "admin", "admin or staff")
		if err := parse(fs, rest[1:], cfg); err != nil {
			return err
		}
		if r := auth.Role(*role); r != auth.RoleAdmin && r != auth.RoleStaff {
			return fmt.Errorf("%w: --role must be admin or staff", errUsage)
		}
		return withApp(ctx, cfg, stderr, func(a *App) error {
			acc, err := a.Customers.CreateAccount(ctx, *email, *password, *name, auth.Role(*role))
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "created %s account %s (%s)\n", acc.Role, acc.Email, acc.ID)
			return nil
		})
	}
	return fmt.Errorf("%w: unknown command %q (see 'mercato help')", errUsage, cmd)
}

// IsUsage reports whether err is a command-line mistake.
func IsUsage(err error) bool { return errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) }

func parse(fs *flag.FlagSet, args []string, cfg *Config) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := cfg.parseProxies(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := cfg.parseCheckoutTimeout(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := cfg.parseMail(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := cfg.parseReminderDelay(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := cfg.parseAffiliate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	lvl, _ := cfg.level()
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}

func withApp(ctx context.Context, cfg *Config, stderr io.Writer, fn func(*App) error) error {
	a, err := New(ctx, *cfg, newLogger(*cfg, stderr))
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a)
}

func serve(ctx context.Context, cfg *Config, stdout, stderr io.Writer) error {
	log := newLogger(*cfg, stderr)
	a, err := New(ctx, *cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	if cfg.Demo {
		if err := a.seedDemoIfEmpty(ctx, stderr); err != nil {
			return err
		}
	}
	// The outbox relay and periodic jobs outlive the signal until HTTP has
	// drained (stop runs after Shutdown) and stop before the database closes.
	stop := a.Start(context.WithoutCancel(ctx))
	defer stop()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "mercato %s listening on http://%s (%s)\n", Version, displayAddr(ln.Addr()), a.DB.Dialect())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func displayAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		if ok {
			return fmt.Sprintf("localhost:%d", tcp.Port)
		}
	}
	return addr.String()
}

// seedDemoIfEmpty loads the demo catalog when the catalog is empty. It holds
// the seeding lock while it looks and loads, so that instances starting
// together on one empty database seed it once (the others find it full).
func (a *App) seedDemoIfEmpty(ctx context.Context, progress io.Writer) error {
	return a.DB.WithLock(ctx, "mercato-demo-seed", func() error {
		n, err := a.Catalog.CountProducts(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		a.Log.Info("empty catalog: loading the demo catalog (MERCATO_DEMO=false to skip)")
		if _, err := demo.Seed(ctx, a.Catalog, a.Blob, a.Config.Currency, progress); err != nil {
			return fmt.Errorf("seed demo catalog: %w", err)
		}
		return nil
	})
}
