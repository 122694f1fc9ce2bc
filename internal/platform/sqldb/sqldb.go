// Package sqldb is Mercato's adapter for relational databases: SQLite (pure
// Go, modernc.org/sqlite) for the embedded mode and PostgreSQL (pgx) for the
// scale-out mode. Module stores write one SQL text with '?' placeholders; this
// package rebinds it for PostgreSQL, runs transactions and applies each
// module's embedded migrations.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names the SQL engine behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Querier is what both *DB and *Tx offer; stores take it so that the same
// code runs inside or outside a transaction.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	Dialect() Dialect
}

// DB is a database handle with a write pool and a read pool. On SQLite the
// write pool has exactly one connection (SQLite allows one writer) and reads
// use a separate pool, which WAL mode lets run beside the writer. On
// PostgreSQL the read pool is the primary or, when configured, a replica.
type DB struct {
	dialect Dialect
	w       *sql.DB
	r       *sql.DB
}

// Options tune Open.
type Options struct {
	// ReplicaURL, for PostgreSQL, sends ReadContext queries to a read replica.
	ReplicaURL string
	// MaxConns caps the PostgreSQL pool (default 20).
	MaxConns int
}

// Open connects to the database named by rawURL. An empty URL means SQLite in
// dataDir/mercato.db; "sqlite:PATH" or "file:PATH" names another SQLite file;
// "postgres://..." or "postgresql://..." means PostgreSQL.
func Open(ctx context.Context, rawURL, dataDir string, opt Options) (*DB, error) {
	switch {
	case rawURL == "":
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		return openSQLite(ctx, filepath.Join(dataDir, "mercato.db"))
	case strings.HasPrefix(rawURL, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite:"), "//"))
	case strings.HasPrefix(rawURL, "file:"):
		return openSQLite(ctx, strings.TrimPrefix(rawURL, "file:"))
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		return openPostgres(ctx, rawURL, opt)
	}
	return nil, fmt.Errorf("database URL: unsupported scheme (want empty for SQLite, sqlite:PATH or postgres://...)")
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r.SetMaxOpenConns(max(4, runtime.NumCPU()*2))
	r.SetMaxIdleConns(max(4, runtime.NumCPU()*2))
	db := &DB{dialect: SQLite, w: w, r: r}
	if err := w.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return db, nil
}

func openPostgres(ctx context.Context, rawURL string, opt Options) (*DB, error) {
	maxConns := opt.MaxConns
	if maxConns <= 0 {
		maxConns = 20
	}
	w, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	w.SetMaxOpenConns(maxConns)
	w.SetMaxIdleConns(maxConns)
	w.SetConnMaxLifetime(30 * time.Minute)
	db := &DB{dialect: Postgres, w: w, r: w}
	if opt.ReplicaURL != "" {
		r, err := sql.Open("pgx", opt.ReplicaURL)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("open postgres replica: %w", err)
		}
		r.SetMaxOpenConns(maxConns)
		r.SetMaxIdleConns(maxConns)
		db.r = r
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := w.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return db, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// Dialect reports the engine.
func (db *DB) Dialect() Dialect { return db.dialect }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.w.PingContext(ctx) }

// ExecContext runs a statement on the write pool.
func (db *DB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return db.w.ExecContext(ctx, db.rebind(q), args...)
}

// QueryContext runs a query on the write pool (read-your-writes).
func (db *DB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return db.w.QueryContext(ctx, db.rebind(q), args...)
}

// QueryRowContext runs a one-row query on the write pool.
func (db *DB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return db.w.QueryRowContext(ctx, db.rebind(q), args...)
}

// Reader returns a Querier on the read pool: for queries that may lag a
// replica by a moment (catalog pages, listings), never for read-modify-write.
func (db *DB) Reader() Querier { return reader{db} }

type reader struct{ db *DB }

func (r reader) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return nil, errors.New("sqldb: write on the read pool")
}
func (r reader) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return r.db.r.QueryContext(ctx, r.db.rebind(q), args...)
}
func (r reader) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return r.db.r.QueryRowContext(ctx, r.db.rebind(q), args...)
}
func (r reader) Dialect() Dialect { return r.db.dialect }

// Tx is a transaction; it implements Querier.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
	before  []func() error
	after   []func()
}

func (tx *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return tx.tx.ExecContext(ctx, rebind(tx.dialect, q), args...)
}
func (tx *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return tx.tx.QueryContext(ctx, rebind(tx.dialect, q), args...)
}
func (tx *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return tx.tx.QueryRowContext(ctx, rebind(tx.dialect, q), args...)
}
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// AfterCommit registers f to run once the transaction has committed (for
// example, to wake the outbox relay). It never runs on rollback.
func (tx *Tx) AfterCommit(f func()) { tx.after = append(tx.after, f) }

// BeforeCommit registers f to run in the transaction after the InTx
// function has returned nil, just before COMMIT, in registration order; an
// error rolls the transaction back and is returned by InTx. The outbox uses
// it to number its events after every read and lock of the transaction.
func (tx *Tx) BeforeCommit(f func() error) { tx.before = append(tx.before, f) }

// InTx runs fn in a transaction on the write pool, committing when fn returns
// nil and rolling back otherwise. A service method that may join its
// caller's transaction uses Within instead.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{tx: sqlTx, dialect: db.dialect}
	err = fn(tx)
	for i := 0; err == nil && i < len(tx.before); i++ {
		err = tx.before[i]()
	}
	if err != nil {
		if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, f := range tx.after {
		f()
	}
	return nil
}

func (db *DB) rebind(q string) string { return rebind(db.dialect, q) }

// rebind turns '?' placeholders into $1, $2, ... for PostgreSQL, leaving
// question marks inside quoted strings alone.
func rebind(d Dialect, q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	inQuote := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			inQuote = !inQuote
			b.WriteByte(c)
		case c == '?' && !inQuote:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// IsUniqueViolation reports whether err is a unique or primary-key constraint
// violation on either engine.
func IsUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// Placeholders returns "?, ?, ?" with n marks, for IN lists.
func Placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}
