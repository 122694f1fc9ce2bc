package loadtest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHarnessAgainstTheRealShop runs the harness (on a small generated
// catalog) and the soak (on the demo catalog), for a moment each, against
// the real binary on SQLite: every route answers without an error, the
// table and both charts are written. (The figures
// of such short runs mean nothing; `make loadtest` and `make soak` are
// the measurements.)
func TestHarnessAgainstTheRealShop(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the shop: not with -short")
	}
	dir := t.TempDir()
	bin, err := buildShop(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	getenv := func(string) string { return "" }

	t.Run("routes", func(t *testing.T) {
		var out, log bytes.Buffer
		svg := filepath.Join(dir, "loadtest.svg")
		err := Main(context.Background(), []string{"-bin", bin, "-engines", "sqlite", "-products", "40", "-variants", "2", "-duration", "300ms", "-warmup", "0", "-rounds", "1",
			"-conns", "4", "-shoppers", "2", "-svg", svg}, getenv, &out, &log)
		if err != nil {
			t.Fatalf("%v\n%s\n%s", err, out.String(), log.String())
		}
		if !strings.Contains(log.String(), "40 products, 2 variants each") || !strings.Contains(out.String(), "a generated catalog of 40 products × 2 variants") {
			t.Errorf("no generated catalog:\n%s\n%s", log.String(), out.String())
		}
		for _, r := range routes {
			if !strings.Contains(out.String(), "| "+r.name) {
				t.Errorf("the table has no row for %s:\n%s", r.name, out.String())
			}
		}
		if strings.Contains(out.String(), "first error") {
			t.Errorf("errors against the real shop:\n%s\n%s", out.String(), log.String())
		}
		b, err := os.ReadFile(svg)
		if err != nil {
			t.Fatal(err)
		}
		parseSVG(t, b)
	})

	t.Run("soak", func(t *testing.T) {
		var out, log bytes.Buffer
		svg := filepath.Join(dir, "soak.svg")
		err := Main(context.Background(), []string{"soak", "-bin", bin, "-duration", "1500ms", "-sample", "250ms", "-readers", "2", "-shoppers", "1",
			"-max-growth", "10", "-svg", svg}, getenv, &out, &log)
		if err != nil {
			t.Fatalf("%v\n%s\n%s", err, out.String(), log.String())
		}
		for _, want := range []string{"RSS: median", "goroutines: median", "levelled off", "checkouts:"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("the soak's report lacks %q:\n%s", want, out.String())
			}
		}
		b, err := os.ReadFile(svg)
		if err != nil {
			t.Fatal(err)
		}
		parseSVG(t, b)
	})

	t.Run("bad flags", func(t *testing.T) {
		for _, args := range [][]string{{"-engines", "mysql"}, {"-routes", "nope"}, {"soak", "-engine", "oracle"}, {"soak", "-duration", "1s", "-sample", "1s"}, {"-variants", "0"}, {"extra"}} {
			var out, log bytes.Buffer
			if err := Main(context.Background(), args, getenv, &out, &log); err == nil {
				t.Errorf("Main(%q): no error", args)
			}
		}
	})
}
