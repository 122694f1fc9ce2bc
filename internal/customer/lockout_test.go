package customer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/platform/ratelimit"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// jar keeps the cookies a client was given, except the session (a browser
// after signing out).
type jar []*http.Cookie

func (j *jar) keep(r resp) {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name != customer.SessionCookie && c.MaxAge >= 0 {
			*j = append(*j, c)
		}
	}
}

func (j jar) send() opt {
	return func(r *http.Request) {
		for _, c := range j {
			r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
}

// TestHTTPLockoutAttack is the attack of issue 8 (finding 4): wrong
// passwords for someone else's account from many addresses, repeated
// every 3 minutes, must not keep the owner out.
func TestHTTPLockoutAttack(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		s := newServer(t, db, nil, customer.WithClock(c.now))
		login := func(password string, opts ...opt) resp {
			return s.do("POST", "/api/v1/auth/login", map[string]string{"email": "owner@example.com", "password": password}, opts...)
		}
		s.register("owner@example.com", "Owner")
		// The owner signs in once at home: the browser keeps what it is given.
		var browser jar
		browser.keep(login(pw, remote("192.0.2.10:4000")).want(200))

		attack := func(round int) {
			t.Helper()
			for i := range 5 {
				r := login("wrong password", remote(fmt.Sprintf("198.51.%d.%d:1000", round, i+1)))
				if r.Code != 401 && r.Code != 429 {
					t.Fatalf("attack %d.%d: %d %s", round, i, r.Code, r.Body)
				}
			}
		}
		attack(0)
		// The owner's browser, now on a new network (a phone on mobile data).
		login(pw, remote("203.0.113.77:5000"), browser.send()).want(200)
		// Another device at home (the address the owner signed in from).
		login(pw, remote("192.0.2.10:6000")).want(200)

		// The attack goes on every 3 minutes for two hours: the owner's
		// browser gets in every time.
		for round := 1; round <= 40; round++ {
			c.advance(3 * time.Minute)
			attack(round)
			login(pw, remote(fmt.Sprintf("203.0.113.%d:5000", 100+round)), browser.send()).want(200)
		}

		// A new device on a new network, while the attack goes on, waits
		// at most LoginDelayMax and is told how long in Retry-After.
		r := login(pw, remote("100.64.0.1:7000")).want(429)
		n, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || n < 1 || n > int(customer.LoginDelayMax.Seconds()) {
			t.Fatalf("Retry-After %q, want 1..%v", r.Header.Get("Retry-After"), customer.LoginDelayMax.Seconds())
		}
		c.advance(time.Duration(n) * time.Second)
		login(pw, remote("100.64.0.1:7000")).want(200)
	})
}

// retryAfter returns the retry delay of a TooManyRequest error, in seconds.
func retryAfter(t *testing.T, err error) int {
	t.Helper()
	wantErr(t, err, apperr.TooManyRequest, "")
	var e *apperr.Error
	errors.As(err, &e)
	ra, ok := e.Detail.(ratelimit.RetryAfter)
	if !ok {
		t.Fatalf("detail %#v, want a retry delay", e.Detail)
	}
	return ra.Seconds
}

func from(ip string) context.Context { return customer.WithClientIP(context.Background(), ip) }

func TestLoginLimitPerAccount(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		svc := newService(db, c)
		if _, err := svc.CreateAccount(context.Background(), "ada@example.com", pw, "Ada", auth.RoleCustomer); err != nil {
			t.Fatal(err)
		}
		addr := 0
		stranger := func() context.Context { addr++; return from(fmt.Sprintf("198.51.100.%d", addr)) }
		fail := func(email string) error {
			t.Helper()
			_, _, err := svc.Login(stranger(), email, "wrong password")
			return err
		}
		// The attack of issue 8: five wrong passwords from five addresses.
		for i := range customer.LoginFreeAttempts {
			if err := fail("ada@example.com"); !errors.Is(err, customer.ErrBadCredentials) {
				t.Fatalf("failure %d: %v", i+1, err)
			}
		}
		// The owner from yet another address, with the right password,
		// waits LoginDelayFirst: the documented short delay.
		_, _, err := svc.Login(stranger(), "ADA@example.com", pw)
		if n := retryAfter(t, err); n != 60 {
			t.Fatalf("retry after %d s, want 60", n)
		}
		refusal := err.Error()
		c.advance(customer.LoginDelayFirst)
		if _, _, err := svc.Login(stranger(), "ada@example.com", pw); err != nil {
			t.Fatalf("after the delay: %v", err)
		}

		// A success ended the run: five free attempts again, then the
		// delays double up to LoginDelayMax and stay there.
		for range customer.LoginFreeAttempts {
			if err := fail("ada@example.com"); !errors.Is(err, customer.ErrBadCredentials) {
				t.Fatal(err)
			}
		}
		for _, want := range []int{60, 120, 240, 480, 900, 900, 900} {
			n := retryAfter(t, fail("ada@example.com"))
			if n != want {
				t.Fatalf("retry after %d s, want %d", n, want)
			}
			c.advance(time.Duration(n-1) * time.Second)
			if m := retryAfter(t, fail("ada@example.com")); m != 1 {
				t.Fatalf("a second early: retry after %d s, want 1", m)
			}
			c.advance(time.Second)
			if err := fail("ada@example.com"); !errors.Is(err, customer.ErrBadCredentials) {
				t.Fatalf("after %d s: %v", want, err)
			}
		}

		// An account that does not exist is refused alike: the answer does
		// not tell whether the account exists.
		for range customer.LoginFreeAttempts {
			if err := fail("nobody@example.com"); !errors.Is(err, customer.ErrBadCredentials) {
				t.Fatal(err)
			}
		}
		_, _, err = svc.Login(stranger(), "nobody@example.com", pw)
		if n := retryAfter(t, err); n != 60 || err.Error() != refusal {
			t.Fatalf("unknown account refused with %q after %d s; an existing one with %q after 60 s", err, n, refusal)
		}
		// Another account is not affected.
		if err := fail("other@example.com"); !errors.Is(err, customer.ErrBadCredentials) {
			t.Fatalf("other account: %v", err)
		}
		// The count is forgotten LoginCountForgotten after the latest attempt.
		c.advance(customer.LoginCountForgotten)
		for range customer.LoginFreeAttempts {
			if err := fail("ada@example.com"); !errors.Is(err, customer.ErrBadCredentials) {
				t.Fatalf("after a day: %v", err)
			}
		}
	})
}

func TestLoginKnownSources(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := newClock()
		svc := newService(db, c)
		for _, email := range []string{"owner@example.com", "eve@example.com"} {
			if _, err := svc.CreateAccount(ctx, email, pw, "X", auth.RoleAdmin); err != nil {
				t.Fatal(err)
			}
		}
		// The owner signs in at home: a new device secret.
		_, sess, err := svc.Login(from("192.0.2.10"), "owner@example.com", pw)
		if err != nil {
			t.Fatal(err)
		}
		device := sess.Device
		if !strings.HasPrefix(device, "mcd_") || len(device) < 40 {
			t.Fatalf("device secret %q", device)
		}
		onDevice := func(ip string) context.Context { return customer.WithDevice(from(ip), device) }
		// Signing in again on that device keeps its secret.
		if _, s2, err := svc.Login(onDevice("203.0.113.5"), "owner@example.com", pw); err != nil || s2.Device != device {
			t.Fatalf("again on the device: %q, %v; want %q", s2.Device, err, device)
		}

		attack := func() {
			t.Helper()
			for i := range 2 * customer.LoginFreeAttempts {
				svc.Login(from(fmt.Sprintf("198.51.100.%d", i+1)), "owner@example.com", "wrong password")
			}
		}
		attack()
		if _, _, err := svc.Login(from("198.51.100.99"), "owner@example.com", pw); !apperr.Is(err, apperr.TooManyRequest) {
			t.Fatalf("unknown source during the attack: %v, want 429", err)
		}
		t.Run("known device, any network", func(t *testing.T) {
			if _, _, err := svc.Login(onDevice("100.64.1.1"), "owner@example.com", pw); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("known network, another device", func(t *testing.T) {
			if _, _, err := svc.Login(from("192.0.2.10"), "owner@example.com", pw); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("known device despite its address's limit", func(t *testing.T) {
			for i := range customer.LoginAttemptsPerIP {
				svc.Login(from("203.0.113.200"), fmt.Sprintf("u%d@example.com", i), pw)
			}
			if _, _, err := svc.Login(from("203.0.113.200"), "x@example.com", pw); !apperr.Is(err, apperr.TooManyRequest) {
				t.Fatalf("address limit: %v", err)
			}
			if _, _, err := svc.Login(onDevice("203.0.113.200"), "owner@example.com", pw); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("another account's device is a stranger", func(t *testing.T) {
			ctx := customer.WithDevice(from("198.51.100.150"), device)
			if _, _, err := svc.Login(ctx, "eve@example.com", "wrong password"); !errors.Is(err, customer.ErrBadCredentials) {
				t.Fatal(err)
			}
			_, sess, err := svc.Login(ctx, "eve@example.com", pw)
			if err != nil {
				t.Fatal(err)
			}
			if sess.Device == device {
				t.Fatal("a device secret another account knows was kept: it must be replaced")
			}
		})
		t.Run("a known device is limited on its own", func(t *testing.T) {
			// Someone with the owner's device cookie gets the same few
			// guesses, then delays; the owner's other sources are not hit.
			for i := range customer.LoginFreeAttempts {
				if _, _, err := svc.Login(onDevice("100.64.1.1"), "owner@example.com", "wrong password"); !errors.Is(err, customer.ErrBadCredentials) {
					t.Fatalf("failure %d: %v", i+1, err)
				}
			}
			_, _, err := svc.Login(onDevice("100.64.1.1"), "owner@example.com", pw)
			if n := retryAfter(t, err); n != 60 {
				t.Fatalf("retry after %d, want 60", n)
			}
			if _, _, err := svc.Login(from("192.0.2.10"), "owner@example.com", pw); err != nil {
				t.Fatalf("known network: %v", err)
			}
			c.advance(customer.LoginDelayFirst)
			if _, _, err := svc.Login(onDevice("100.64.1.1"), "owner@example.com", pw); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("known sources are forgotten", func(t *testing.T) {
			c.advance(customer.KnownNetworkTTL + time.Second)
			attack()
			if _, _, err := svc.Login(from("192.0.2.10"), "owner@example.com", pw); !apperr.Is(err, apperr.TooManyRequest) {
				t.Fatalf("network unused for %v: %v, want 429", customer.KnownNetworkTTL, err)
			}
			if _, _, err := svc.Login(onDevice("100.64.1.1"), "owner@example.com", pw); err != nil {
				t.Fatalf("device used %v ago: %v", customer.KnownNetworkTTL, err)
			}
			c.advance(customer.KnownDeviceTTL + time.Second)
			attack()
			if _, _, err := svc.Login(onDevice("100.64.1.1"), "owner@example.com", pw); !apperr.Is(err, apperr.TooManyRequest) {
				t.Fatalf("device unused for %v: %v, want 429", customer.KnownDeviceTTL, err)
			}
		})
	})
}

func TestLoginLimitPerAddress(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		svc := newService(db, c)
		ip := from("203.0.113.9")
		for i := range customer.LoginAttemptsPerIP {
			if _, _, err := svc.Login(ip, fmt.Sprintf("user%d@example.com", i), pw); !errors.Is(err, customer.ErrBadCredentials) {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
		}
		_, _, err := svc.Login(ip, "fresh@example.com", pw)
		if n := retryAfter(t, err); n != 60 {
			t.Fatalf("retry after %d, want 60 (the window)", n)
		}
		// Registration counts against the same address.
		_, _, err = svc.Register(ip, "new@example.com", pw, "New")
		retryAfter(t, err)
		// Another address is not affected; an IPv6 /64 counts as one address.
		if _, _, err := svc.Login(from("203.0.113.10"), "fresh@example.com", pw); !errors.Is(err, customer.ErrBadCredentials) {
			t.Fatalf("other address: %v", err)
		}
		for i := range customer.LoginAttemptsPerIP {
			svc.Login(from(fmt.Sprintf("2001:db8:1:2::%x", i+1)), fmt.Sprintf("v6-%d@example.com", i), pw)
		}
		_, _, err = svc.Login(from("2001:db8:1:2:ffff::1"), "v6@example.com", pw)
		retryAfter(t, err)
		c.advance(customer.LoginAttemptWindow)
		if _, _, err := svc.Login(ip, "fresh@example.com", pw); !errors.Is(err, customer.ErrBadCredentials) {
			t.Fatalf("after a window: %v", err)
		}
	})
}

// TestLoginLimitsShared: the counts live in the database, so every instance
// on it sees the same ones, and a restart forgets nothing.
func TestLoginLimitsShared(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		one, two := newService(db, c), newService(db, c)
		if _, err := one.CreateAccount(context.Background(), "ada@example.com", pw, "Ada", auth.RoleCustomer); err != nil {
			t.Fatal(err)
		}
		for i := range customer.LoginFreeAttempts {
			svc := []*customer.Service{one, two}[i%2]
			if _, _, err := svc.Login(from(fmt.Sprintf("198.51.100.%d", i)), "ada@example.com", "wrong password"); !errors.Is(err, customer.ErrBadCredentials) {
				t.Fatalf("failure %d: %v", i+1, err)
			}
		}
		for _, svc := range []*customer.Service{one, two, newService(db, c)} {
			_, _, err := svc.Login(from("198.51.100.99"), "ada@example.com", pw)
			retryAfter(t, err)
		}
		// The per-address count too.
		for i := range customer.LoginAttemptsPerIP {
			svc := []*customer.Service{one, two}[i%2]
			svc.Login(from("203.0.113.7"), fmt.Sprintf("u%d@example.com", i), pw)
		}
		_, _, err := newService(db, c).Login(from("203.0.113.7"), "fresh@example.com", pw)
		retryAfter(t, err)
	})
}

// TestLoginLimitsParallel: wrong passwords sent at once, half through each
// of two instances, get no more tries than the limit.
func TestLoginLimitsParallel(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		svcs := []*customer.Service{newService(db, c), newService(db, c)}
		if _, err := svcs[0].CreateAccount(context.Background(), "ada@example.com", pw, "Ada", auth.RoleCustomer); err != nil {
			t.Fatal(err)
		}
		const n = 16
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, _, errs[i] = svcs[i%2].Login(from(fmt.Sprintf("198.51.100.%d", i+1)), "ada@example.com", "wrong password")
			})
		}
		wg.Wait()
		var bad, limited int
		for _, err := range errs {
			switch {
			case errors.Is(err, customer.ErrBadCredentials):
				bad++
			case apperr.Is(err, apperr.TooManyRequest):
				limited++
			default:
				t.Fatalf("unexpected: %v", err)
			}
		}
		if bad != customer.LoginFreeAttempts || limited != n-customer.LoginFreeAttempts {
			t.Fatalf("%d passwords checked, %d refused; want %d and %d", bad, limited, customer.LoginFreeAttempts, n-customer.LoginFreeAttempts)
		}
	})
}

func TestPasswordChangeLimitPerSession(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := newClock()
		svc := newService(db, c)
		_, s1, err := svc.Register(ctx, "ada@example.com", pw, "Ada")
		if err != nil {
			t.Fatal(err)
		}
		_, s2, err := svc.Login(ctx, "ada@example.com", pw)
		if err != nil {
			t.Fatal(err)
		}
		p1, _ := svc.ResolveToken(ctx, s1.Token)
		p2, _ := svc.ResolveToken(ctx, s2.Token)
		change := func(p auth.Principal, current string) error {
			next := "a brand new password"
			_, err := svc.UpdateProfile(ctx, p, customer.ProfilePatch{Password: &next, CurrentPassword: &current})
			return err
		}
		for range customer.LoginFreeAttempts {
			wantErr(t, change(p1, "wrong password"), apperr.Invalid, "current_password")
		}
		if n := retryAfter(t, change(p1, pw)); n != 60 {
			t.Fatalf("retry after %d, want 60", n)
		}
		// Neither the account's other sessions nor its sign-ins are hit.
		if _, _, err := svc.Login(from("198.51.100.1"), "ada@example.com", pw); err != nil {
			t.Fatalf("sign-in: %v", err)
		}
		if err := change(p2, pw); err != nil {
			t.Fatalf("other session: %v", err)
		}
	})
}

func TestPurgeLoginRecords(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := newClock()
		svc := newService(db, c)
		count := func(table string) (n int) {
			t.Helper()
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if _, _, err := svc.Register(from("192.0.2.1"), "ada@example.com", pw, "Ada"); err != nil {
			t.Fatal(err)
		}
		svc.Login(from("198.51.100.1"), "ada@example.com", "wrong password")
		// Rows: the two addresses' counts and the account's; a known
		// network and a known device.
		if l, s := count("customer_login_limits"), count("customer_login_sources"); l != 3 || s != 2 {
			t.Fatalf("%d counts, %d sources; want 3 and 2", l, s)
		}
		if n, err := svc.PurgeLoginRecords(ctx); err != nil || n != 0 {
			t.Fatalf("purge now: %d, %v", n, err)
		}
		c.advance(customer.LoginAttemptWindow)
		if n, err := svc.PurgeLoginRecords(ctx); err != nil || n != 2 {
			t.Fatalf("purge after a minute: %d, %v; want the 2 address counts", n, err)
		}
		c.advance(customer.KnownDeviceTTL)
		if n, err := svc.PurgeLoginRecords(ctx); err != nil || n != 3 {
			t.Fatalf("purge after a year: %d, %v; want the account count and both sources", n, err)
		}
		if l, s := count("customer_login_limits"), count("customer_login_sources"); l != 0 || s != 0 {
			t.Fatalf("%d counts, %d sources left", l, s)
		}
	})
}

func TestHTTPLoginLimits(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		c := newClock()
		login := func(s *server, email, password string, opts ...opt) resp {
			return s.do("POST", "/api/v1/auth/login", map[string]string{"email": email, "password": password}, opts...)
		}
		// want429 checks the answer and returns its detail and Retry-After.
		want429 := func(t *testing.T, r resp) (string, int) {
			t.Helper()
			p := r.problem(429, "")
			n, err := strconv.Atoi(r.Header.Get("Retry-After"))
			if err != nil || n < 1 {
				t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
			}
			var extra struct {
				RetryAfter int `json:"retry_after"`
			}
			b, _ := json.Marshal(p.Extra)
			if json.Unmarshal(b, &extra); extra.RetryAfter != n {
				t.Fatalf("extra %s, Retry-After %d", b, n)
			}
			return p.Detail, n
		}
		t.Run("device cookie", func(t *testing.T) {
			s := newServer(t, db, nil, customer.WithClock(c.now))
			for _, r := range []resp{
				s.do("POST", "/api/v1/auth/register", map[string]string{"email": "dev@example.com", "password": pw, "name": "D"}).want(201),
				login(s, "dev@example.com", pw).want(200),
			} {
				var dc *http.Cookie
				for _, c := range (&http.Response{Header: r.Header}).Cookies() {
					if c.Name == customer.DeviceCookie {
						dc = c
					}
				}
				if dc == nil || !strings.HasPrefix(dc.Value, "mcd_") || !dc.HttpOnly || dc.Path != "/" || dc.SameSite != http.SameSiteLaxMode ||
					dc.MaxAge != int(customer.KnownDeviceTTL.Seconds()) {
					t.Fatalf("%s: device cookie %+v", r.req, dc)
				}
			}
		})
		t.Run("per account, same answer for an unknown account", func(t *testing.T) {
			s := newServer(t, db, nil, customer.WithClock(c.now))
			s.register("ada@example.com", "Ada")
			var answers []string
			for _, email := range []string{"ada@example.com", "ghost@example.com"} {
				for i := range customer.LoginFreeAttempts {
					login(s, email, "wrong password", remote(fmt.Sprintf("198.51.100.%d:1000", i))).problem(401, "")
				}
				detail, n := want429(t, login(s, email, pw, remote("198.51.100.99:1000")))
				answers = append(answers, fmt.Sprintf("%s (%d s)", detail, n))
			}
			if answers[0] != answers[1] {
				t.Fatalf("existing account: %s; unknown: %s", answers[0], answers[1])
			}
			if !strings.Contains(answers[0], "1 minute") {
				t.Fatalf("the answer does not say how long to wait: %s", answers[0])
			}
		})
		t.Run("per client IP, X-Forwarded-For not trusted, two instances", func(t *testing.T) {
			one := newServer(t, db, nil, customer.WithClock(c.now))
			two := newServer(t, db, nil, customer.WithClock(c.now))
			for i := range customer.LoginAttemptsPerIP {
				login([]*server{one, two}[i%2], fmt.Sprintf("u%d@example.com", i), pw, remote("203.0.113.1:1000"),
					header("X-Forwarded-For", fmt.Sprintf("10.0.0.%d", i))).problem(401, "")
			}
			want429(t, login(one, "fresh@example.com", pw, remote("203.0.113.1:2000"), header("X-Forwarded-For", "10.9.9.9")))
			login(two, "fresh@example.com", pw, remote("203.0.113.2:1000")).problem(401, "")
			// Registration counts against the same address.
			want429(t, two.do("POST", "/api/v1/auth/register", map[string]string{"email": "n@example.com", "password": pw, "name": "N"}, remote("203.0.113.1:3000")))
		})
	})
}

// fakeAttempts stands in for another keeper of the counts (Redis, issue
// 15): it refuses every key after its first attempt.
type fakeAttempts struct {
	mu    sync.Mutex
	seen  map[string]int
	reset int
}

func (f *fakeAttempts) Take(_ context.Context, key string, _ customer.Rule, _ time.Time) (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen[key]++
	if f.seen[key] > 1 {
		return 42 * time.Second, nil
	}
	return 0, nil
}

func (f *fakeAttempts) Reset(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.seen, key)
	f.reset++
	return nil
}

func TestWithAttempts(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		f := &fakeAttempts{seen: map[string]int{}}
		svc := newService(db, newClock(), customer.WithAttempts(f))
		if _, _, err := svc.Register(from("192.0.2.1"), "ada@example.com", pw, "Ada"); err != nil {
			t.Fatal(err)
		}
		// The address's one attempt went on registering.
		_, _, err := svc.Login(from("192.0.2.1"), "ada@example.com", pw)
		if n := retryAfter(t, err); n != 42 {
			t.Fatalf("retry after %d, want the keeper's 42", n)
		}
		if _, _, err := svc.Login(from("192.0.2.2"), "ada@example.com", pw); err != nil {
			t.Fatal(err)
		}
		if f.reset != 1 || len(f.seen) != 2 {
			t.Fatalf("keeper: %d resets, keys %v", f.reset, f.seen)
		}
		var rows int
		if err := db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM customer_login_limits").Scan(&rows); err != nil || rows != 0 {
			t.Fatalf("%d rows in the database's counts (%v), want none", rows, err)
		}
	})
}
