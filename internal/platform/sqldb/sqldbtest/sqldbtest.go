// Package sqldbtest opens real databases for tests: a fresh SQLite file per
// test, and a fresh PostgreSQL schema per test when MERCATO_TEST_POSTGRES_URL
// is set. With MERCATO_TEST_REQUIRE_SERVICES=1 (set by .ci/run) a missing
// PostgreSQL fails the test instead of skipping it.
package sqldbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/mercato-shop/mercato/internal/platform/sqldb"
)

// RequireServices reports whether tests must fail, not skip, when an external
// service is missing.
func RequireServices() bool { return os.Getenv("MERCATO_TEST_REQUIRE_SERVICES") == "1" }

// SQLite opens a migrated SQLite database in the test's temp dir.
func SQLite(t testing.TB, sets ...sqldb.Migrations) *sqldb.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+t.TempDir()+"/test.db", "", sqldb.Options{})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx, sets...); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// PostgresURL returns a URL for a fresh, empty schema in the test database,
// dropped when the test ends. It skips (or fails, in CI) without PostgreSQL.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("MERCATO_TEST_POSTGRES_URL")
	if base == "" {
		if RequireServices() {
			t.Fatal("MERCATO_TEST_POSTGRES_URL is not set but MERCATO_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("PostgreSQL tests skipped: set MERCATO_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	admin, err := sql.Open("pgx", base)
	if err == nil {
		err = admin.PingContext(context.Background())
	}
	if err != nil {
		if RequireServices() {
			t.Fatalf("PostgreSQL at MERCATO_TEST_POSTGRES_URL unreachable: %v", err)
		}
		t.Skipf("PostgreSQL unreachable, skipping: %v", err)
	}
	defer admin.Close()
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		a.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse MERCATO_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Postgres opens a migrated database on a fresh schema.
func Postgres(t testing.TB, sets ...sqldb.Migrations) *sqldb.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, PostgresURL(t), "", sqldb.Options{MaxConns: 30})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx, sets...); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return db
}

// ForEach runs fn as a subtest against every backend: "sqlite" always,
// "postgres" when available.
func ForEach(t *testing.T, sets []sqldb.Migrations, fn func(t *testing.T, db *sqldb.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, sets...)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t, sets...)) })
}

// Name is a helper for sub-benchmarks and logs.
func Name(db *sqldb.DB) string { return strings.ToLower(string(db.Dialect())) }
