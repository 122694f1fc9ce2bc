package sqldb_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

type thing struct {
	ID string
	N  int64
}

func scanThing(s sqldb.Scanner) (thing, error) {
	var t thing
	err := s.Scan(&t.ID, &t.N)
	return t, err
}

func TestAllAndWithin(t *testing.T) {
	sqldbtest.ForEach(t, testMigrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		insert := func(tx *sqldb.Tx, id string, n int64) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO things (id, n, flag, at) VALUES (?, ?, false, ?)`, id, n, now)
			return err
		}

		empty, err := sqldb.All(ctx, db, "list things", scanThing, `SELECT id, n FROM things ORDER BY id`)
		if err != nil || empty == nil || len(empty) != 0 {
			t.Fatalf("no rows: %v, %v; want an empty non-nil slice", empty, err)
		}

		// Within without a transaction commits on its own.
		if err := db.Within(ctx, nil, func(tx *sqldb.Tx) error { return insert(tx, "a", 1) }); err != nil {
			t.Fatal(err)
		}
		// Within with the caller's transaction rolls back with it.
		boom := errors.New("boom")
		err = db.InTx(ctx, func(tx *sqldb.Tx) error {
			if err := db.Within(ctx, tx, func(tx *sqldb.Tx) error { return insert(tx, "b", 2) }); err != nil {
				return err
			}
			// The caller's reads see the joined work before commit.
			got, err := sqldb.All(ctx, db.Querier(tx), "list things", scanThing, `SELECT id, n FROM things ORDER BY id`)
			if err != nil || len(got) != 2 {
				t.Errorf("inside the transaction: %v, %v; want 2 rows", got, err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want boom", err)
		}
		got, err := sqldb.All(ctx, db.Reader(), "list things", scanThing, `SELECT id, n FROM things WHERE n >= ? ORDER BY id`, 1)
		if err != nil || len(got) != 1 || got[0] != (thing{"a", 1}) {
			t.Fatalf("after rollback: %v, %v; want [{a 1}]", got, err)
		}

		// A scan error is reported with what was being done.
		_, err = sqldb.All(ctx, db, "list things", func(s sqldb.Scanner) (thing, error) {
			var t thing
			return t, s.Scan(&t.ID) // one column too few
		}, `SELECT id, n FROM things`)
		if err == nil || !contains(err.Error(), "list things") {
			t.Fatalf("scan error = %v, want one naming 'list things'", err)
		}
		_, err = sqldb.All(ctx, db, "list things", scanThing, `SELECT nope FROM things`)
		if err == nil || !contains(err.Error(), "list things") {
			t.Fatalf("query error = %v, want one naming 'list things'", err)
		}
	})
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
