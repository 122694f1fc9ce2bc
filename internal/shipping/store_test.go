package shipping

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/sqldb"
	"github.com/mercato-shop/mercato/internal/platform/sqldb/sqldbtest"
)

// The zone table's SQL on both engines, on an empty database (the store
// never creates the defaults; the service does).

var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

func testZones() []Zone {
	return []Zone{
		{ID: "z-home", Name: "Home", Countries: []string{"DE"}, CreatedAt: t0, UpdatedAt: t0, Rates: []Rate{
			{ID: "r-std", Name: "Standard", Price: eur(490), FreeOver: eurp(5000), MinDays: 2, MaxDays: 4},
			{ID: "r-exp", Name: "Express", Price: eur(990), MinDays: 1, MaxDays: 2},
		}},
		{ID: "z-eu", Name: "EU", Countries: []string{"FR", "AT", "IT"}, CreatedAt: t0.Add(time.Second), UpdatedAt: t0.Add(time.Second), Rates: []Rate{
			{ID: "r-eu", Name: "EU Standard", Price: eur(990), FreeOver: eurp(10000), MinDays: 3, MaxDays: 7},
		}},
		{ID: "z-none", Name: "No delivery", Countries: []string{"KP"}, CreatedAt: t0.Add(2 * time.Second), UpdatedAt: t0.Add(2 * time.Second), Rates: []Rate{}},
		{ID: "z-world", Name: "World", Countries: []string{"*"}, CreatedAt: t0.Add(3 * time.Second), UpdatedAt: t0.Add(3 * time.Second), Rates: []Rate{
			{ID: "r-int", Name: "International", Price: eur(1990), MinDays: 5, MaxDays: 14},
		}},
	}
}

// newStore is a store holding testZones.
func newStore(t *testing.T, db *sqldb.DB) store {
	t.Helper()
	s := store{db: db}
	err := db.InTx(context.Background(), func(tx *sqldb.Tx) error {
		for _, z := range testZones() {
			if err := s.insertZone(context.Background(), tx, z); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sameZone(a, b Zone) bool {
	if a.ID != b.ID || a.Name != b.Name || !a.CreatedAt.Equal(b.CreatedAt) || !a.UpdatedAt.Equal(b.UpdatedAt) ||
		!slices.Equal(a.Countries, b.Countries) || len(a.Rates) != len(b.Rates) {
		return false
	}
	for i := range a.Rates {
		x, y := a.Rates[i], b.Rates[i]
		if x.ID != y.ID || x.Name != y.Name || x.Price != y.Price || !equalMoney(x.FreeOver, y.FreeOver) || x.MinDays != y.MinDays || x.MaxDays != y.MaxDays {
			return false
		}
	}
	return true
}

func TestStoreZones(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if zs, err := (store{db: db}).zones(ctx, db, ""); err != nil || zs == nil || len(zs) != 0 {
			t.Fatalf("zones of an empty table: %#v %v", zs, err)
		}
		s := newStore(t, db)
		want := testZones()
		slices.Sort(want[1].Countries) // read back sorted
		zs, err := s.zones(ctx, db, "")
		if err != nil || len(zs) != len(want) {
			t.Fatalf("zones: %d %v", len(zs), err)
		}
		for i := range want {
			if !sameZone(zs[i], want[i]) {
				t.Errorf("zone %d = %+v, want %+v", i, zs[i], want[i])
			}
			if zs[i].CreatedAt.Location() != time.UTC {
				t.Errorf("zone %d created_at in %v", i, zs[i].CreatedAt.Location())
			}
		}
		one, err := s.zones(ctx, db, "z-eu")
		if err != nil || len(one) != 1 || !sameZone(one[0], want[1]) {
			t.Fatalf("zones(z-eu) = %+v %v", one, err)
		}
		if none, err := s.zones(ctx, db, "no-such-zone"); err != nil || len(none) != 0 {
			t.Fatalf("zones of an unknown id = %+v %v", none, err)
		}

		// Names (any case) and countries are each one zone's.
		for _, z := range []Zone{
			{ID: "z-2", Name: "home", Countries: []string{"CH"}, CreatedAt: t0, UpdatedAt: t0},
			{ID: "z-3", Name: "Alps", Countries: []string{"CH", "AT"}, CreatedAt: t0, UpdatedAt: t0},
		} {
			err := db.InTx(ctx, func(tx *sqldb.Tx) error { return s.insertZone(ctx, tx, z) })
			wantErr(t, err, apperr.Conflict, "")
		}
		if zs, _ := s.zones(ctx, db, ""); len(zs) != len(want) {
			t.Fatalf("refused inserts left %d zones", len(zs))
		}
	})
}

func TestStoreTableRates(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		type row struct {
			country, zone, rate string
			freeOver            int64 // -1: never free
		}
		rows := func(code string) []row {
			t.Helper()
			trs, err := s.tableRates(ctx, code)
			if err != nil {
				t.Fatal(err)
			}
			out := []row{}
			for _, tr := range trs {
				r := row{tr.country, tr.zone, "", -1}
				if tr.rate != nil {
					r.rate = tr.rate.Name
					if tr.rate.FreeOver != nil {
						r.freeOver = tr.rate.FreeOver.Amount
					}
				}
				out = append(out, r)
			}
			return out
		}
		world := row{"*", "World", "International", -1}
		for _, tt := range []struct {
			code string
			want []row
		}{
			// The own zone's rates in staff's order, then the "*" zone's.
			{"DE", []row{world, {"DE", "Home", "Standard", 5000}, {"DE", "Home", "Express", -1}}},
			{"AT", []row{world, {"AT", "EU", "EU Standard", 10000}}},
			// A zone without rates still answers, without a rate.
			{"KP", []row{world, {"KP", "No delivery", "", -1}}},
			{"US", []row{world}},
		} {
			if got := rows(tt.code); !slices.Equal(got, tt.want) {
				t.Errorf("tableRates(%s) = %v, want %v", tt.code, got, tt.want)
			}
		}
		trs, err := s.tableRates(ctx, "DE")
		if err != nil || trs[1].zoneID != "z-home" || trs[1].rate.ID != "r-std" || trs[1].rate.Price != eur(490) || trs[1].rate.MinDays != 2 || trs[1].rate.MaxDays != 4 {
			t.Fatalf("DE standard: %+v %v", trs[1], err)
		}

		// Without the "*" zone, a country in no zone has no rows.
		if ok, err := s.deleteZone(ctx, "z-world"); err != nil || !ok {
			t.Fatalf("delete World: %v %v", ok, err)
		}
		if got := rows("US"); len(got) != 0 {
			t.Fatalf("US without World: %v", got)
		}
		if ok, err := s.deleteZone(ctx, "z-world"); err != nil || ok {
			t.Fatalf("delete World again: %v %v", ok, err)
		}
		if got := rows("DE"); len(got) != 2 {
			t.Fatalf("DE without World: %v", got)
		}
	})
}

func TestStoreUpdateZone(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		update := func(id string, fn func(*Zone) error) error {
			return db.InTx(ctx, func(tx *sqldb.Tx) error { return s.updateZone(ctx, tx, id, fn) })
		}
		read := func(id string) Zone {
			t.Helper()
			zs, err := s.zones(ctx, db, id)
			if err != nil || len(zs) != 1 {
				t.Fatalf("read zone %s: %v %v", id, zs, err)
			}
			return zs[0]
		}

		// Drop Express, keep Standard (new price, never free, now second), add
		// Pickup first; new name and countries.
		before := read("z-home")
		later := t0.Add(time.Hour)
		err := update("z-home", func(z *Zone) error {
			if !sameZone(*z, before) {
				t.Fatalf("fn got %+v, want %+v", *z, before)
			}
			std := z.Rates[0]
			std.Price, std.FreeOver = eur(590), nil
			z.Name, z.Countries, z.UpdatedAt = "Domestic", []string{"DE", "LI"}, later
			z.Rates = []Rate{{ID: "r-pickup", Name: "Pickup", Price: eur(0)}, std}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := Zone{ID: "z-home", Name: "Domestic", Countries: []string{"DE", "LI"}, CreatedAt: t0, UpdatedAt: later, Rates: []Rate{
			{ID: "r-pickup", Name: "Pickup", Price: eur(0)},
			{ID: "r-std", Name: "Standard", Price: eur(590), MinDays: 2, MaxDays: 4},
		}}
		if got := read("z-home"); !sameZone(got, want) {
			t.Fatalf("after update %+v, want %+v", got, want)
		}
		if trs, _ := s.tableRates(ctx, "LI"); len(trs) != 3 || trs[1].rate.ID != "r-pickup" || trs[2].rate.ID != "r-std" {
			t.Fatalf("rates to LI: %+v", trs)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM shipping_rates WHERE id = ?`, "r-exp").Scan(&n); err != nil || n != 0 {
			t.Fatalf("dropped rate still stored: %d %v", n, err)
		}

		// An error from fn writes nothing.
		boom := errors.New("refused")
		err = update("z-home", func(z *Zone) error {
			z.Name, z.Countries, z.Rates = "Changed", []string{"PL"}, nil
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("update: %v", err)
		}
		if got := read("z-home"); !sameZone(got, want) {
			t.Fatalf("after a refused update %+v", got)
		}
		// Unknown zone: NotFound, fn not called.
		err = update("no-such-zone", func(*Zone) error { t.Fatal("fn called for an unknown zone"); return nil })
		wantErr(t, err, apperr.NotFound, "")
		// Another zone's name or country: the unique indexes answer Conflict.
		for _, fn := range []func(*Zone) error{
			func(z *Zone) error { z.Name = "WORLD"; return nil },
			func(z *Zone) error { z.Countries = append(z.Countries, "FR"); return nil },
		} {
			wantErr(t, update("z-home", fn), apperr.Conflict, "")
		}
		if got := read("z-home"); !sameZone(got, want) {
			t.Fatalf("after refused updates %+v", got)
		}
	})
}

func TestStoreTaken(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		for _, tt := range []struct {
			name, id, zoneName string
			countries          []string
			nameTaken          bool
			taken              map[string]string
		}{
			{"free", "new", "Nordics", []string{"NO", "SE"}, false, map[string]string{}},
			{"name in another case", "new", "eu", nil, true, map[string]string{}},
			{"countries of other zones", "new", "Nordics", []string{"NO", "FR", "*", "DE"}, false, map[string]string{"FR": "EU", "*": "World", "DE": "Home"}},
			{"the zone's own name and countries", "z-eu", "EU", []string{"FR", "AT", "DE"}, false, map[string]string{"DE": "Home"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				nameTaken, taken, err := s.taken(ctx, db, tt.id, tt.zoneName, tt.countries)
				if err != nil || nameTaken != tt.nameTaken || len(taken) != len(tt.taken) {
					t.Fatalf("taken = %v %v %v, want %v %v", nameTaken, taken, err, tt.nameTaken, tt.taken)
				}
				for c, z := range tt.taken {
					if taken[c] != z {
						t.Fatalf("taken = %v, want %v", taken, tt.taken)
					}
				}
			})
		}
	})
}

func TestStoreSettings(t *testing.T) {
	sqldbtest.ForEach(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := store{db: db}
		if v, ok, err := s.setting(ctx, db, seededKey); err != nil || ok || v != "" {
			t.Fatalf("unset setting: %q %v %v", v, ok, err)
		}
		if err := db.InTx(ctx, func(tx *sqldb.Tx) error { return s.addSetting(ctx, tx, seededKey, "2026-05-04T10:00:00Z") }); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := s.setting(ctx, db, seededKey); err != nil || !ok || v != "2026-05-04T10:00:00Z" {
			t.Fatalf("setting: %q %v %v", v, ok, err)
		}
		// Set once: a second instance learns it came second.
		err := db.InTx(ctx, func(tx *sqldb.Tx) error { return s.addSetting(ctx, tx, seededKey, "later") })
		if !sqldb.IsUniqueViolation(err) {
			t.Fatalf("second addSetting: %v, want a unique violation", err)
		}
	})
}
