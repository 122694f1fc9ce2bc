package sqldb_test

import (
	"context"
	"testing"
	"testing/fstest"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

var testMigrations = []sqldb.Migrations{{Module: "t", FS: fstest.MapFS{
	"001_init.sql":          {Data: []byte(`CREATE TABLE things (id TEXT PRIMARY KEY, n BIGINT NOT NULL, flag BOOLEAN NOT NULL, at TIMESTAMP NOT NULL);`)},
	"002_more.sql":          {Data: []byte(`ALTER TABLE things ADD COLUMN note TEXT NOT NULL DEFAULT 'portable';`)},
	"002_more.postgres.sql": {Data: []byte(`ALTER TABLE things ADD COLUMN note TEXT NOT NULL DEFAULT 'pg';`)},
}}}

func TestBackends(t *testing.T) {
	sqldbtest.ForEach(t, testMigrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		if _, err := db.ExecContext(ctx, `INSERT INTO things (id, n, flag, at) VALUES (?, ?, ?, ?)`, "a", int64(1)<<40, true, now); err != nil {
			t.Fatal(err)
		}
		var (
			n    int64
			flag bool
			at   time.Time
			note string
		)
		if err := db.Reader().QueryRowContext(ctx, `SELECT n, flag, at, note FROM things WHERE id = ? AND note <> '?'`, "a").Scan(&n, &flag, &at, &note); err != nil {
			t.Fatal(err)
		}
		if n != 1<<40 || !flag || !at.Equal(now) {
			t.Fatalf("round trip: n=%d flag=%v at=%v (want %v)", n, flag, at, now)
		}
		wantNote := map[sqldb.Dialect]string{sqldb.SQLite: "portable", sqldb.Postgres: "pg"}[db.Dialect()]
		if note != wantNote {
			t.Fatalf("dialect-specific migration: note = %q, want %q", note, wantNote)
		}

		// Unique violations are recognised on both engines.
		_, err := db.ExecContext(ctx, `INSERT INTO things (id, n, flag, at) VALUES (?, 0, false, ?)`, "a", now)
		if !sqldb.IsUniqueViolation(err) {
			t.Fatalf("duplicate insert: err = %v, want a unique violation", err)
		}

		// A failing transaction leaves nothing behind and skips AfterCommit.
		ran := false
		err = db.InTx(ctx, func(tx *sqldb.Tx) error {
			tx.AfterCommit(func() { ran = true })
			if _, err := tx.ExecContext(ctx, `INSERT INTO things (id, n, flag, at) VALUES ('b', 0, false, ?)`, now); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO things (id, n, flag, at) VALUES ('a', 0, false, ?)`, now)
			return err
		})
		if err == nil || ran {
			t.Fatalf("tx: err=%v ran=%v; want an error and no after-commit hook", err, ran)
		}
		var count int
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM things`).Scan(&count)
		if count != 1 {
			t.Fatalf("rolled-back row is visible: %d rows", count)
		}

		// Migrating again applies nothing.
		applied, err := db.Migrate(ctx, testMigrations...)
		if err != nil || len(applied) != 0 {
			t.Fatalf("re-migrate: applied %v, err %v", applied, err)
		}
	})
}

func TestOpenRejectsUnknownScheme(t *testing.T) {
	if _, err := sqldb.Open(context.Background(), "mysql://x", t.TempDir(), sqldb.Options{}); err == nil {
		t.Fatal("want an error for an unsupported URL scheme")
	}
}
