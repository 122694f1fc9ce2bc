package sqldb

import (
	"context"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migrations is one module's embedded migration folder. Files are named
// NNN_description.sql and run in order; a file NNN_description.postgres.sql
// or NNN_description.sqlite.sql replaces the portable one on that engine.
// A released migration is never edited: add a new one.
type Migrations struct {
	Module string
	FS     fs.FS
}

type migration struct {
	version int
	name    string
	sql     string
}

func (m Migrations) load(d Dialect) ([]migration, error) {
	entries, err := fs.ReadDir(m.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations of %s: %w", m.Module, err)
	}
	byVersion := map[int]migration{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		base := strings.TrimSuffix(name, ".sql")
		specific := false
		if ext := path.Ext(base); ext == ".postgres" || ext == ".sqlite" {
			if ext != "."+string(d) {
				continue
			}
			base = strings.TrimSuffix(base, ext)
			specific = true
		}
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s/%s: name must start with a positive number and '_'", m.Module, name)
		}
		if prev, dup := byVersion[v]; dup && !specific {
			if prev.name != base {
				return nil, fmt.Errorf("migration %s: version %d used twice", m.Module, v)
			}
			continue
		}
		body, err := fs.ReadFile(m.FS, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s/%s: %w", m.Module, name, err)
		}
		byVersion[v] = migration{version: v, name: base, sql: string(body)}
	}
	out := make([]migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// Migrate applies every pending migration of the given modules, each in its
// own transaction. On PostgreSQL an advisory lock keeps instances that start
// together from migrating twice. It returns the names of what it applied.
func (db *DB) Migrate(ctx context.Context, sets ...Migrations) ([]string, error) {
	var applied []string
	err := db.WithLock(ctx, "mercato-migrate", func() error {
		var err error
		applied, err = db.migrate(ctx, sets)
		return err
	})
	return applied, err
}

// WithLock runs fn while holding the lock called name: on PostgreSQL a
// session advisory lock, so that instances sharing the database run fn one
// at a time (starting together, they would otherwise both migrate, or both
// seed); on SQLite, whose file one process serves, fn just runs.
func (db *DB) WithLock(ctx context.Context, name string, fn func() error) error {
	if db.dialect != Postgres {
		return fn()
	}
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	defer conn.Close()
	h := fnv.New32a()
	h.Write([]byte(name))
	key := int64(h.Sum32())
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key)
	return fn()
}

func (db *DB) migrate(ctx context.Context, sets []Migrations) ([]string, error) {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		module TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,
		applied_at TIMESTAMP NOT NULL, PRIMARY KEY (module, version))`); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	var applied []string
	for _, set := range sets {
		ms, err := set.load(db.dialect)
		if err != nil {
			return applied, err
		}
		done := map[int]bool{}
		rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations WHERE module = ?`, set.Module)
		if err != nil {
			return applied, fmt.Errorf("migrate %s: %w", set.Module, err)
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return applied, fmt.Errorf("migrate %s: %w", set.Module, err)
			}
			done[v] = true
		}
		rows.Close()
		for _, m := range ms {
			if done[m.version] {
				continue
			}
			err := db.InTx(ctx, func(tx *Tx) error {
				if _, err := tx.ExecContext(ctx, m.sql); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (module, version, name, applied_at) VALUES (?, ?, ?, ?)`,
					set.Module, m.version, m.name, time.Now().UTC())
				return err
			})
			if err != nil {
				return applied, fmt.Errorf("migrate %s %s: %w", set.Module, m.name, err)
			}
			applied = append(applied, set.Module+"/"+m.name)
		}
	}
	return applied, nil
}

// Embedded returns the migrations in folder dir of an embedded file system
// (modules embed "migrations/*.sql" and call Embedded(name, fs, "migrations")).
func Embedded(module string, fsys fs.FS, dir string) Migrations {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(fmt.Sprintf("sqldb: migrations of %s: %v", module, err)) // fixed at compile time
	}
	return Migrations{Module: module, FS: sub}
}
