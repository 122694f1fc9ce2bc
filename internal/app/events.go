package app

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"time"

	"github.com/mercato-shop/mercato/internal/analytics"
	"github.com/mercato-shop/mercato/internal/notify"
	"github.com/mercato-shop/mercato/internal/platform/mail"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
)

// relayInterval is how often the relay looks for events nobody woke it for
// (written outside a request, or by another instance).
const relayInterval = time.Second

// mailEvery is how often the mail worker looks for e-mails to send.
const mailEvery = 2 * time.Second

// openCarts tells notify whether a reminder's cart is still open. It reads
// a.Carts when asked (wireShop makes the cart service after notify).
type openCarts struct{ a *App }

func (o openCarts) Active(ctx context.Context, id string) (bool, error) {
	return o.a.Carts.Active(ctx, id)
}

// defaultStaffEmail receives staff alerts when MERCATO_STAFF_EMAIL is unset.
const defaultStaffEmail = "staff@localhost"

// wireEvents builds the in-process bus and the outbox relay and subscribes
// the event consumers.
func (a *App) wireEvents() error {
	a.Bus = outbox.NewLocalBus()
	a.Relay = outbox.NewRelay(a.DB, a.Bus, a.Log, relayInterval)
	staff := a.Config.StaffEmail
	if staff == "" {
		staff = defaultStaffEmail
	}
	opts := notify.Options{ShopName: a.Config.ShopName, BaseURL: a.Config.BaseURL, StaffEmail: staff, Carts: openCarts{a}}
	if cfg := a.Config; cfg.SMTP != nil {
		hello := "localhost"
		if u, err := url.Parse(cfg.BaseURL); err == nil && u.Hostname() != "" {
			hello = u.Hostname()
		}
		sender, err := mail.NewSender(*cfg.SMTP, mail.Options{From: cfg.MailFrom, HelloName: hello, RootCAs: cfg.SMTPRoots})
		if err != nil {
			return fmt.Errorf("wire e-mail: %w", err)
		}
		opts.Sender = sender
	}
	n, err := notify.NewService(a.DB, opts, a.Log)
	if err != nil {
		return fmt.Errorf("wire notify: %w", err)
	}
	a.Notify = n
	if opts.Sender != nil {
		a.Log.Info("e-mail delivery on", "smtp", a.Config.SMTP, "from", a.Config.MailFrom.Address)
		a.Every(mailEvery, "mail-delivery", func(ctx context.Context) error {
			_, err := a.Notify.Deliver(ctx) // each failure is logged as it happens
			return err
		})
	}
	a.Analytics = analytics.NewService(a.DB, a.Config.Currency, a.Log)
	a.Notify.Subscribe(a.Bus)
	a.Analytics.Subscribe(a.Bus)
	a.GiftCards.Subscribe(a.Bus) // gift cards sold as products: issued when their order is paid
	a.Registry.MustRegister(newOutboxLag(a.DB))
	return nil
}

// withRelayNotifier gives every request a context whose outbox.Add calls
// wake the relay once their transaction commits, so events leave at once
// instead of at the next poll.
func (a *App) withRelayNotifier(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(outbox.WithNotifier(r.Context(), a.Relay.Notify)))
	})
}

// job is a periodic background task.
type job struct {
	name     string
	interval time.Duration
	run      func(ctx context.Context) error
}

// jobs are the periodic tasks registered with Every.
type jobs struct {
	mu   sync.Mutex
	list []job
}

// Every registers fn to run every interval while the server runs: once
// when Start is called, then after each interval (runs of one job never
// overlap). Register while wiring, before Start. An error or a panic is
// logged under name and the job runs again next time. Every instance runs
// its jobs, so fn must be safe beside itself on another instance (use
// conditional updates).
func (a *App) Every(interval time.Duration, name string, fn func(ctx context.Context) error) {
	if interval <= 0 {
		panic(fmt.Sprintf("app.Every(%q): interval must be positive", name)) // a wiring mistake
	}
	a.jobs.mu.Lock()
	defer a.jobs.mu.Unlock()
	a.jobs.list = append(a.jobs.list, job{name: name, interval: interval, run: fn})
}

// Start runs the outbox relay and the periodic jobs in the background until
// ctx ends or stop is called; stop waits for them to finish, so call it
// before closing the database.
func (a *App) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { a.Relay.Run(ctx) })
	a.jobs.mu.Lock()
	list := append([]job(nil), a.jobs.list...)
	a.jobs.mu.Unlock()
	for _, j := range list {
		wg.Go(func() { a.runJob(ctx, j) })
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

func (a *App) runJob(ctx context.Context, j job) {
	t := time.NewTicker(j.interval)
	defer t.Stop()
	for {
		a.runJobOnce(ctx, j)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *App) runJobOnce(ctx context.Context, j job) {
	defer func() {
		if rec := recover(); rec != nil {
			a.Log.ErrorContext(ctx, "job panicked", "job", j.name, "panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
		}
	}()
	if err := j.run(ctx); err != nil && ctx.Err() == nil {
		a.Log.WarnContext(ctx, "job failed", "job", j.name, "err", err)
	}
}
