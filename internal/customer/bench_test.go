package customer_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mercato-shop/mercato/internal/customer"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// BenchmarkAuthenticate measures what a signed-in request pays before its
// handler runs: resolving the session cookie (one indexed read) and the
// cross-origin check.
func BenchmarkAuthenticate(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			var db *sqldb.DB
			if engine == "sqlite" {
				db = sqldbtest.SQLite(b, migrations...)
			} else {
				db = sqldbtest.Postgres(b, migrations...)
			}
			svc := customer.NewService(db)
			_, sess, err := svc.Register(context.Background(), "bench@example.com", pw, "Bench")
			if err != nil {
				b.Fatal(err)
			}
			h := customer.Authenticate(svc, func(w http.ResponseWriter, r *http.Request, err error) { b.Fatal(err) },
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest("POST", "/api/v1/me/addresses", nil)
					r.Header.Set("Sec-Fetch-Site", "same-origin")
					r.AddCookie(&http.Cookie{Name: customer.SessionCookie, Value: sess.Token})
					h.ServeHTTP(httptest.NewRecorder(), r)
				}
			})
		})
	}
}

// BenchmarkLogin measures a successful sign-in: argon2id (19 MiB, 2
// passes) plus the session insert.
func BenchmarkLogin(b *testing.B) {
	db := sqldbtest.SQLite(b, migrations...)
	svc := customer.NewService(db)
	const n = 200
	for i := range n {
		if _, _, err := svc.Register(context.Background(), fmt.Sprintf("u%d@example.com", i), pw, "U"); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; b.Loop(); i++ {
		if _, _, err := svc.Login(context.Background(), fmt.Sprintf("u%d@example.com", i%n), pw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPasswordResetRequest compares a reset request for an address
// with an account (the link and its event are stored) and without one (the
// same limiter writes and transaction, nothing stored): a difference is
// what a stopwatch could tell about whether an account exists. Both wait
// for the same least answer time, so both should take about 100 ms.
func BenchmarkPasswordResetRequest(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			var db *sqldb.DB
			if engine == "sqlite" {
				db = sqldbtest.SQLite(b, migrations...)
			} else {
				db = sqldbtest.Postgres(b, migrations...)
			}
			c := newClock()
			svc := customer.NewService(db, customer.WithClock(c.now))
			ctx := customer.WithClientIP(context.Background(), "192.0.2.1")
			if _, _, err := svc.Register(ctx, "owner@example.com", pw, "Owner"); err != nil {
				b.Fatal(err)
			}
			for _, who := range []string{"owner@example.com", "nobody@example.com"} {
				b.Run(map[string]string{"owner@example.com": "account", "nobody@example.com": "no-account"}[who], func(b *testing.B) {
					for b.Loop() {
						c.advance(customer.LinkMailWindow) // a new window: the limits do not refuse
						if err := svc.RequestPasswordReset(ctx, who); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
