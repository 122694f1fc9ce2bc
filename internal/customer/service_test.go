package customer_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/platform/outbox"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

var migrations = []sqldb.Migrations{customer.Migrations(), outbox.Migrations()}

const pw = "correct horse battery"

// clock is a manual clock shared by the service and its limiters.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)} }
func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newService returns a service whose clock runs on c (the sign-in limits,
// counted in db, too).
func newService(db *sqldb.DB, c *clock, opts ...customer.Option) *customer.Service {
	opts = append([]customer.Option{
		customer.WithClock(c.now),
	}, opts...)
	return customer.NewService(db, opts...)
}

// wantErr fails unless err has the code and, when field is set, names it.
func wantErr(t *testing.T, err error, code apperr.Code, field string) {
	t.Helper()
	if !apperr.Is(err, code) {
		t.Fatalf("err = %v (%s), want %s", err, apperr.CodeOf(err), code)
	}
	if field == "" {
		return
	}
	var e *apperr.Error
	errors.As(err, &e)
	for _, f := range e.Fields {
		if f.Field == field {
			return
		}
	}
	t.Fatalf("err = %v: no error on field %q", err, field)
}

// deliverRegistered returns the customer.registered payloads the relay
// delivers for the whole database, decoded as the publisher declares them.
type registered = customer.Registered

func deliverRegistered(t *testing.T, db *sqldb.DB) []registered {
	t.Helper()
	var got []registered
	bus := outbox.NewLocalBus()
	bus.Subscribe("test", []string{customer.TopicRegistered}, func(ctx context.Context, e outbox.Event) error {
		var p registered
		if err := e.Decode(&p); err != nil {
			return err
		}
		if e.AggregateID != p.CustomerID {
			t.Errorf("aggregate id %q, payload customer_id %q", e.AggregateID, p.CustomerID)
		}
		got = append(got, p)
		return nil
	})
	relay := outbox.NewRelay(db, bus, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Hour)
	for {
		n, err := relay.Flush(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return got
		}
	}
}

func TestRegister(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := newService(db, newClock())
		a, sess, err := svc.Register(ctx, "  Ada@Example.com ", pw, " Ada Lovelace ")
		token := sess.Token
		if err != nil {
			t.Fatal(err)
		}
		if a.Email != "ada@example.com" || a.Name != "Ada Lovelace" || a.Role != auth.RoleCustomer || a.ID == "" {
			t.Fatalf("account %+v", a)
		}
		p, err := svc.ResolveToken(ctx, token)
		if err != nil || p.AccountID != a.ID || p.Role != auth.RoleCustomer {
			t.Fatalf("session of the new account: %+v, %v", p, err)
		}

		t.Run("invalid input names the field", func(t *testing.T) {
			for _, tt := range []struct {
				name, email, password, accountName, field string
			}{
				{"bad e-mail", "not-an-email", pw, "X", "email"},
				{"e-mail without domain dot", "a@localhost", pw, "X", "email"},
				{"missing e-mail", "", pw, "X", "email"},
				{"short password", "b@example.com", "short", "X", "password"},
				{"repeated password", "b@example.com", "aaaaaaaaaa", "X", "password"},
				{"password is the e-mail", "bob.builder@example.com", "Bob.Builder@example.com", "X", "password"},
				{"long password", "b@example.com", string(make([]byte, 129)), "X", "password"},
				{"common password", "b@example.com", "12345678", "X", "password"},
				{"common password, any case", "b@example.com", "Password1", "X", "password"},
				{"common password, spelled", "b@example.com", "P@ssw0rd", "X", "password"},
				{"missing name", "b@example.com", pw, "  ", "name"},
				{"name with newline", "b@example.com", pw, "Bob\nBuilder", "name"},
			} {
				t.Run(tt.name, func(t *testing.T) {
					_, _, err := svc.Register(ctx, tt.email, tt.password, tt.accountName)
					wantErr(t, err, apperr.Invalid, tt.field)
				})
			}
			_, _, err := svc.Register(ctx, "bad", "x", "")
			for _, f := range []string{"email", "password", "name"} {
				wantErr(t, err, apperr.Invalid, f) // every problem at once
			}
		})
		t.Run("duplicate e-mail is a conflict on email", func(t *testing.T) {
			_, _, err := svc.Register(ctx, "ADA@example.com", pw, "Another Ada")
			wantErr(t, err, apperr.Conflict, "email")
		})

		// Exactly one event: the failed and duplicate attempts wrote none.
		got := deliverRegistered(t, db)
		if want := []registered{{a.ID, "ada@example.com", "Ada Lovelace"}}; !slices.Equal(got, want) {
			t.Fatalf("events %+v, want %+v", got, want)
		}
		if again := deliverRegistered(t, db); len(again) != 0 {
			t.Fatalf("redelivered %+v", again)
		}
	})
}

func TestRegisterEventOnlyWhenAccountCommits(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := newService(db, newClock())
		// Make the last step of the registration transaction (opening the
		// session) fail: the account and its event must both roll back.
		if _, err := db.ExecContext(ctx, `ALTER TABLE customer_tokens RENAME TO customer_tokens_away`); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.Register(ctx, "eve@example.com", pw, "Eve"); err == nil {
			t.Fatal("register succeeded without a tokens table")
		}
		if _, err := db.ExecContext(ctx, `ALTER TABLE customer_tokens_away RENAME TO customer_tokens`); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, "eve@example.com", pw); !errors.Is(err, customer.ErrBadCredentials) {
			t.Fatalf("account exists after the rollback: %v", err)
		}
		if got := deliverRegistered(t, db); len(got) != 0 {
			t.Fatalf("events of a rolled-back registration: %+v", got)
		}
		// Staff accounts are not customers: no event; customers made by
		// CreateAccount (CLI, seeds) are.
		if _, err := svc.CreateAccount(ctx, "staff@example.com", pw, "S", auth.RoleStaff); err != nil {
			t.Fatal(err)
		}
		c, err := svc.CreateAccount(ctx, "carl@example.com", pw, "Carl", auth.RoleCustomer)
		if err != nil {
			t.Fatal(err)
		}
		if got := deliverRegistered(t, db); len(got) != 1 || got[0].CustomerID != c.ID {
			t.Fatalf("events %+v, want one for %s", got, c.ID)
		}
	})
}

func TestLoginAndSessions(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := newClock()
		svc := newService(db, c)
		a, _, err := svc.Register(ctx, "ada@example.com", pw, "Ada")
		if err != nil {
			t.Fatal(err)
		}
		got, sess, err := svc.Login(ctx, " ADA@example.com", pw)
		token := sess.Token
		if err != nil || got.ID != a.ID {
			t.Fatalf("login: %+v, %v", got, err)
		}
		p, err := svc.ResolveToken(ctx, token)
		if err != nil || p.AccountID != a.ID || p.Email != "ada@example.com" || p.SessionID == "" {
			t.Fatalf("resolve: %+v, %v", p, err)
		}
		for _, tt := range []struct{ name, email, password string }{
			{"wrong password", "ada@example.com", "wrong password"},
			{"unknown e-mail", "nobody@example.com", pw},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if _, _, err := svc.Login(ctx, tt.email, tt.password); !errors.Is(err, customer.ErrBadCredentials) {
					t.Fatalf("err = %v, want ErrBadCredentials", err)
				}
			})
		}
		t.Run("revoked session", func(t *testing.T) {
			if err := svc.Logout(auth.With(ctx, p)); err != nil {
				t.Fatal(err)
			}
			_, err := svc.ResolveToken(ctx, token)
			wantErr(t, err, apperr.Unauthorized, "")
			if err := svc.Logout(auth.With(ctx, p)); err != nil {
				t.Fatalf("second logout: %v", err)
			}
		})
		t.Run("expired session", func(t *testing.T) {
			_, sess, err := svc.Login(ctx, "ada@example.com", pw)
			if err != nil {
				t.Fatal(err)
			}
			token := sess.Token
			c.advance(customer.SessionTTL - time.Second)
			if _, err := svc.ResolveToken(ctx, token); err != nil {
				t.Fatalf("session ended early: %v", err)
			}
			c.advance(2 * time.Second)
			_, err = svc.ResolveToken(ctx, token)
			wantErr(t, err, apperr.Unauthorized, "")
		})
		t.Run("garbage tokens", func(t *testing.T) {
			for _, tok := range []string{"", "mct_", "nope", "mct_" + string(make([]byte, 200))} {
				_, err := svc.ResolveToken(ctx, tok)
				wantErr(t, err, apperr.Unauthorized, "")
			}
		})
	})
}

func TestUpdateProfile(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := newService(db, newClock())
		a, s1, err := svc.Register(ctx, "ada@example.com", pw, "Ada")
		if err != nil {
			t.Fatal(err)
		}
		_, s2, err := svc.Login(ctx, "ada@example.com", pw)
		if err != nil {
			t.Fatal(err)
		}
		t1, t2 := s1.Token, s2.Token
		p, _ := svc.ResolveToken(ctx, t1)
		str := func(s string) *string { return &s }

		for _, tt := range []struct {
			name  string
			patch customer.ProfilePatch
			code  apperr.Code
			field string
		}{
			{"empty name", customer.ProfilePatch{Name: str(" ")}, apperr.Invalid, "name"},
			{"no current password", customer.ProfilePatch{Password: str("a new password")}, apperr.Invalid, "current_password"},
			{"weak new password", customer.ProfilePatch{Password: str("short"), CurrentPassword: str(pw)}, apperr.Invalid, "password"},
			{"wrong current password", customer.ProfilePatch{Password: str("a new password"), CurrentPassword: str("not it at all")}, apperr.Invalid, "current_password"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := svc.UpdateProfile(ctx, p, tt.patch)
				wantErr(t, err, tt.code, tt.field)
			})
		}
		got, err := svc.UpdateProfile(ctx, p, customer.ProfilePatch{Name: str(" Ada King ")})
		if err != nil || got.Name != "Ada King" || got.Email != a.Email {
			t.Fatalf("rename: %+v, %v", got, err)
		}
		if _, err := svc.UpdateProfile(ctx, p, customer.ProfilePatch{Password: str("a new password"), CurrentPassword: str(pw)}); err != nil {
			t.Fatal(err)
		}
		// The session that changed the password stays; the other is revoked.
		if _, err := svc.ResolveToken(ctx, t1); err != nil {
			t.Fatalf("own session revoked: %v", err)
		}
		_, err = svc.ResolveToken(ctx, t2)
		wantErr(t, err, apperr.Unauthorized, "")
		if _, _, err := svc.Login(ctx, "ada@example.com", pw); !errors.Is(err, customer.ErrBadCredentials) {
			t.Fatalf("old password still works: %v", err)
		}
		if _, _, err := svc.Login(ctx, "ada@example.com", "a new password"); err != nil {
			t.Fatalf("new password: %v", err)
		}
	})
}

func TestAddresses(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := newClock()
		svc := newService(db, c)
		ada, _, _ := svc.Register(ctx, "ada@example.com", pw, "Ada")
		bob, _, _ := svc.Register(ctx, "bob@example.com", pw, "Bob")
		home := customer.AddressInput{Name: " Ada Lovelace ", Line1: "12 St James's Square", City: "London", PostalCode: "sw1y 4jh", Country: "gb", Phone: "+44 20 7946 0000"}

		t.Run("validation names each field", func(t *testing.T) {
			for _, tt := range []struct {
				name  string
				edit  func(*customer.AddressInput)
				field string
			}{
				{"missing name", func(a *customer.AddressInput) { a.Name = "" }, "name"},
				{"missing line1", func(a *customer.AddressInput) { a.Line1 = " " }, "line1"},
				{"missing city", func(a *customer.AddressInput) { a.City = "" }, "city"},
				{"missing country", func(a *customer.AddressInput) { a.Country = "" }, "country"},
				{"unknown country", func(a *customer.AddressInput) { a.Country = "XX" }, "country"},
				{"alpha-3 country", func(a *customer.AddressInput) { a.Country = "GBR" }, "country"},
				{"bad postal code", func(a *customer.AddressInput) { a.PostalCode = "SW1;DROP" }, "postal_code"},
				{"long line2", func(a *customer.AddressInput) { a.Line2 = string(make([]rune, 201)) }, "line2"},
				{"control character", func(a *customer.AddressInput) { a.Line1 = "12\x00 Street" }, "line1"},
				{"bad phone", func(a *customer.AddressInput) { a.Phone = "call me" }, "phone"},
				{"short phone", func(a *customer.AddressInput) { a.Phone = "+1 23" }, "phone"},
			} {
				t.Run(tt.name, func(t *testing.T) {
					in := home
					tt.edit(&in)
					_, err := svc.AddAddress(ctx, ada.ID, in)
					wantErr(t, err, apperr.Invalid, tt.field)
				})
			}
		})

		first, err := svc.AddAddress(ctx, ada.ID, home)
		if err != nil {
			t.Fatal(err)
		}
		if first.Name != "Ada Lovelace" || first.Country != "GB" || first.PostalCode != "SW1Y 4JH" || !first.IsDefault {
			t.Fatalf("first address (normalised, default): %+v", first)
		}
		c.advance(time.Second)
		work := home
		work.Line1, work.Phone = "Work Street 1", ""
		second, err := svc.AddAddress(ctx, ada.ID, work)
		if err != nil || second.IsDefault {
			t.Fatalf("second: %+v, %v", second, err)
		}
		yes := true
		if second, err = svc.UpdateAddress(ctx, ada.ID, second.ID, customer.AddressPatch{IsDefault: &yes}); err != nil || !second.IsDefault {
			t.Fatalf("make default: %+v, %v", second, err)
		}
		list, err := svc.Addresses(ctx, ada.ID)
		if err != nil || len(list) != 2 || list[0].ID != second.ID || !list[0].IsDefault || list[1].IsDefault {
			t.Fatalf("list (default first, one default): %+v, %v", list, err)
		}
		line2 := "Flat 3"
		got, err := svc.UpdateAddress(ctx, ada.ID, first.ID, customer.AddressPatch{Line2: &line2})
		if err != nil || got.Line2 != "Flat 3" || got.Line1 != first.Line1 || got.IsDefault {
			t.Fatalf("patch line2: %+v, %v", got, err)
		}
		bad := "ZZ"
		_, err = svc.UpdateAddress(ctx, ada.ID, first.ID, customer.AddressPatch{Country: &bad})
		wantErr(t, err, apperr.Invalid, "country")

		t.Run("other accounts see nothing", func(t *testing.T) {
			if l, err := svc.Addresses(ctx, bob.ID); err != nil || len(l) != 0 {
				t.Fatalf("bob's list: %+v, %v", l, err)
			}
			_, err := svc.Address(ctx, bob.ID, first.ID)
			wantErr(t, err, apperr.NotFound, "")
			_, err = svc.UpdateAddress(ctx, bob.ID, first.ID, customer.AddressPatch{Line2: &line2})
			wantErr(t, err, apperr.NotFound, "")
			wantErr(t, svc.DeleteAddress(ctx, bob.ID, first.ID), apperr.NotFound, "")
			if a, err := svc.Address(ctx, ada.ID, first.ID); err != nil || a.Line2 != "Flat 3" {
				t.Fatalf("ada's address changed by bob: %+v, %v", a, err)
			}
		})

		// Deleting the default promotes the newest remaining address.
		if err := svc.DeleteAddress(ctx, ada.ID, second.ID); err != nil {
			t.Fatal(err)
		}
		if a, err := svc.Address(ctx, ada.ID, first.ID); err != nil || !a.IsDefault {
			t.Fatalf("not promoted: %+v, %v", a, err)
		}
		wantErr(t, svc.DeleteAddress(ctx, ada.ID, second.ID), apperr.NotFound, "")

		t.Run("at most MaxAddresses", func(t *testing.T) {
			for i := 1; i < customer.MaxAddresses; i++ {
				if _, err := svc.AddAddress(ctx, ada.ID, home); err != nil {
					t.Fatalf("address %d: %v", i+1, err)
				}
			}
			_, err := svc.AddAddress(ctx, ada.ID, home)
			wantErr(t, err, apperr.Conflict, "")
		})
	})
}

func TestConcurrentDefaultAddress(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := newService(db, newClock())
		ada, _, _ := svc.Register(ctx, "ada@example.com", pw, "Ada")
		in := customer.AddressInput{Name: "Ada", Line1: "1 Road", City: "Town", Country: "DE"}
		var ids []string
		for range 8 {
			a, err := svc.AddAddress(ctx, ada.ID, in)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, a.ID)
		}
		yes := true
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Go(func() {
				_, err := svc.UpdateAddress(ctx, ada.ID, id, customer.AddressPatch{IsDefault: &yes})
				if err != nil && !apperr.Is(err, apperr.Conflict) {
					t.Errorf("set default: %v", err)
				}
			})
		}
		wg.Wait()
		list, _ := svc.Addresses(ctx, ada.ID)
		n := 0
		for _, a := range list {
			if a.IsDefault {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d default addresses, want 1", n)
		}
	})
}

func TestAdminCustomers(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := newClock()
		svc := newService(db, c)
		var want []string
		for i := range 7 {
			a, err := svc.CreateAccount(ctx, fmt.Sprintf("c%d@example.com", i), pw, fmt.Sprintf("Customer %d", i), auth.RoleCustomer)
			if err != nil {
				t.Fatal(err)
			}
			want = append([]string{a.ID}, want...) // newest first
		}
		special, _ := svc.CreateAccount(ctx, "under_score@example.com", pw, "Zoë 100% Real", auth.RoleCustomer)
		want = append([]string{special.ID}, want...)
		staff, _ := svc.CreateAccount(ctx, "staff@example.com", pw, "Customer Service", auth.RoleStaff)

		var got []string
		q := customer.CustomerQuery{Limit: 3}
		for pages := 0; ; pages++ {
			page, err := svc.Customers(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range page.Items {
				got = append(got, a.ID)
			}
			if page.NextCursor == nil {
				break
			}
			if pages > 5 {
				t.Fatal("cursor walk does not end")
			}
			q.Cursor = *page.NextCursor
		}
		if !slices.Equal(got, want) {
			t.Fatalf("walk %v, want %v (staff excluded, newest first)", got, want)
		}
		for _, tt := range []struct {
			q    string
			want []string
		}{
			{"C3@EXAMPLE", []string{want[4]}},
			{"customer 5", []string{want[2]}},
			{"100%", []string{special.ID}}, // % is literal
			{"_", []string{special.ID}},    // _ is literal
			{"nobody", nil},
		} {
			t.Run("q="+tt.q, func(t *testing.T) {
				page, err := svc.Customers(ctx, customer.CustomerQuery{Q: tt.q})
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, a := range page.Items {
					ids = append(ids, a.ID)
				}
				if !slices.Equal(ids, tt.want) {
					t.Fatalf("got %v, want %v", ids, tt.want)
				}
			})
		}
		for _, bad := range []customer.CustomerQuery{{Limit: 101}, {Limit: -1}, {Cursor: "!!"}, {Cursor: "e30"}, {Q: string(make([]rune, 201))}} {
			_, err := svc.Customers(ctx, bad)
			wantErr(t, err, apperr.Invalid, "")
		}

		addr, err := svc.AddAddress(ctx, special.ID, customer.AddressInput{Name: "Zoë", Line1: "1 Rue", City: "Paris", Country: "FR"})
		if err != nil {
			t.Fatal(err)
		}
		d, err := svc.Customer(ctx, special.ID)
		if err != nil || d.Email != special.Email || len(d.Addresses) != 1 || d.Addresses[0].ID != addr.ID {
			t.Fatalf("detail %+v, %v", d, err)
		}
		_, err = svc.Customer(ctx, staff.ID)
		wantErr(t, err, apperr.NotFound, "")
		_, err = svc.Customer(ctx, "nope")
		wantErr(t, err, apperr.NotFound, "")
	})
}

func TestStaffRoles(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc := newService(db, newClock())
		admin, err := svc.CreateStaff(ctx, "admin@example.com", pw, "Ada Admin", auth.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		clerk, err := svc.CreateStaff(ctx, "clerk@example.com", pw, "Carl Clerk", auth.RoleStaff)
		if err != nil {
			t.Fatal(err)
		}
		cust, _ := svc.CreateAccount(ctx, "cust@example.com", pw, "Cust", auth.RoleCustomer)
		_, err = svc.CreateStaff(ctx, "x@example.com", pw, "X", auth.RoleCustomer)
		wantErr(t, err, apperr.Invalid, "role")
		_, err = svc.CreateStaff(ctx, "CLERK@example.com", pw, "X", auth.RoleStaff)
		wantErr(t, err, apperr.Conflict, "email")

		list, err := svc.StaffMembers(ctx)
		if err != nil || len(list) != 2 || list[0].ID != admin.ID || list[1].ID != clerk.ID {
			t.Fatalf("staff %+v, %v", list, err)
		}
		_, err = svc.SetStaffRole(ctx, admin.ID, auth.RoleStaff)
		wantErr(t, err, apperr.Conflict, "role") // the last admin
		_, err = svc.SetStaffRole(ctx, cust.ID, auth.RoleAdmin)
		wantErr(t, err, apperr.NotFound, "") // customers are not staff
		_, err = svc.SetStaffRole(ctx, clerk.ID, "owner")
		wantErr(t, err, apperr.Invalid, "role")
		if a, err := svc.SetStaffRole(ctx, clerk.ID, auth.RoleAdmin); err != nil || a.Role != auth.RoleAdmin {
			t.Fatalf("promote: %+v, %v", a, err)
		}

		// Two admins demoting each other at once: one must fail.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, id := range []string{admin.ID, clerk.ID} {
			wg.Go(func() { _, errs[i] = svc.SetStaffRole(ctx, id, auth.RoleStaff) })
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("concurrent demotions: %v, %v; want exactly one to fail", errs[0], errs[1])
		}
		for _, err := range errs {
			if err != nil {
				wantErr(t, err, apperr.Conflict, "role")
			}
		}
		var admins int
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM customer_accounts WHERE role = 'admin'`).Scan(&admins)
		if admins != 1 {
			t.Fatalf("%d admins left", admins)
		}
	})
}

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tt := range []struct {
		name    string
		trusted bool
		remote  string
		xff     []string
		want    string
	}{
		{"no proxy configured: X-Forwarded-For ignored", false, "203.0.113.5:4000", []string{"1.2.3.4"}, "203.0.113.5"},
		{"untrusted peer: X-Forwarded-For ignored", true, "203.0.113.5:4000", []string{"1.2.3.4"}, "203.0.113.5"},
		{"trusted proxy: last untrusted hop", true, "10.1.2.3:4000", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"chain of trusted proxies", true, "10.1.2.3:4000", []string{"6.6.6.6", "198.51.100.7, 10.9.9.9"}, "198.51.100.7"},
		{"garbage hop stops the walk", true, "10.1.2.3:4000", []string{"198.51.100.7, junk, 10.9.9.9"}, "10.9.9.9"},
		{"trusted proxy without header", true, "10.1.2.3:4000", nil, "10.1.2.3"},
		{"IPv6 peer", false, "[2001:db8::1]:4000", nil, "2001:db8::1"},
		{"IPv4-mapped IPv6", false, "[::ffff:192.0.2.1]:4000", nil, "192.0.2.1"},
		{"trusted IPv6 proxy", true, "[fd00::1]:4000", []string{"2001:db8::7"}, "2001:db8::7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var opts []customer.Option
			if tt.trusted {
				opts = append(opts, customer.WithTrustedProxies(proxies...))
			}
			svc := customer.NewService(nil, opts...)
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := svc.ClientIP(r); got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}
