package loadtest

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// svgElement is an element of a chart, with the attributes the tests read.
type svgElement struct {
	name  string
	attrs map[string]string
	text  string // character data, for <text> and <title>
}

// parseSVG checks that the chart is well-formed XML with an <svg> root
// and returns its elements in document order.
func parseSVG(t *testing.T, b []byte) []svgElement {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	var out []svgElement
	var stack []int
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the chart is not well-formed XML: %v\n%s", err, b)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := svgElement{name: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			if len(out) == 0 && (e.name != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg") {
				t.Fatalf("root element %v, want svg in the SVG namespace", tok.Name)
			}
			out = append(out, e)
			stack = append(stack, len(out)-1)
		case xml.CharData:
			if len(stack) > 0 {
				out[stack[len(stack)-1]].text += string(tok)
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	return out
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("attribute %q: %v", s, err)
	}
	return v
}

func TestBarChart(t *testing.T) {
	s1, s2 := legendItem{"SQLite", "#0f766e"}, legendItem{"Postgre<SQL> & co", "#b45309"}
	panel := barPanel{title: "Reads <share>", unit: "%", groups: []barGroup{
		{label: "list & more", sub: "ceiling 20,000/s", bars: []bar{{series: s1, value: 20, text: "20%", tip: "tip <a>", goal: 50}, {series: s2, value: 10, text: "10%"}}},
		{label: "home", bars: []bar{{series: s1, value: 40, text: "40%"}}},
	}}
	var buf bytes.Buffer
	if err := writeBars(&buf, "Title & <more>", "a note", []legendItem{s1, s2}, panel); err != nil {
		t.Fatal(err)
	}
	els := parseSVG(t, buf.Bytes())
	heights := map[string]float64{}
	var texts []string
	goals := 0
	for _, e := range els {
		switch e.name {
		case "rect":
			if e.attrs["fill"] != "#ffffff" && e.attrs["height"] != "12" {
				heights[e.attrs["fill"]+"/"+e.attrs["x"]] = num(t, e.attrs["height"])
			}
		case "text", "title":
			texts = append(texts, e.text)
		case "line":
			if e.attrs["stroke"] == colourGoal && e.attrs["stroke-dasharray"] != "" {
				goals++
			}
		}
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{"Title & <more>", "Reads <share>", "list & more", "ceiling 20,000/s", "Postgre<SQL> & co", "tip <a>", "20%", "a note", "goal (issue 9)"} {
		if !strings.Contains(all, want) {
			t.Errorf("the chart does not say %q (texts: %s)", want, all)
		}
	}
	if len(heights) != 3 {
		t.Fatalf("%d bars, want 3: %v", len(heights), heights)
	}
	// Bars are proportional to their values on an axis from 0.
	var hs []float64
	for _, h := range heights {
		hs = append(hs, h)
	}
	lo, hi := math.Min(hs[0], math.Min(hs[1], hs[2])), math.Max(hs[0], math.Max(hs[1], hs[2]))
	if math.Abs(hi/lo-4) > 0.05 {
		t.Errorf("bar heights %v: the 40 bar should be 4 times the 10 bar", hs)
	}
	if goals != 2 { // one on the bar, one in the legend
		t.Errorf("%d goal marks, want 2", goals)
	}
}

func TestLineChart(t *testing.T) {
	rss := series{legendItem: legendItem{"RSS", "#0f766e"}, points: []point{{0, 40}, {5, 50}, {10, 51}, {15, 50}}}
	var buf bytes.Buffer
	err := writeLines(&buf, "Soak <test>", "note & more",
		linePanel{title: "Memory", unit: "MB", series: []series{rss}, marks: []float64{5, 10}, levels: []level{{5, 10, 50}}},
		linePanel{title: "Goroutines", unit: "count", series: []series{{legendItem: legendItem{"goroutines", "#b45309"}, points: []point{{0, 10}, {15, 12}}}}})
	if err != nil {
		t.Fatal(err)
	}
	els := parseSVG(t, buf.Bytes())
	var lines int
	var texts []string
	for _, e := range els {
		switch e.name {
		case "polyline":
			lines++
			if e.attrs["stroke"] == "#0f766e" {
				if n := len(strings.Fields(e.attrs["points"])); n != 4 {
					t.Errorf("the RSS line has %d points, want 4", n)
				}
			}
		case "text", "title":
			texts = append(texts, e.text)
		}
	}
	if lines != 2 {
		t.Errorf("%d lines, want 2", lines)
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{"Soak <test>", "Memory", "Goroutines", "RSS", "note & more", "0 s", "16 s"} {
		if !strings.Contains(all, want) {
			t.Errorf("the chart does not say %q (texts: %s)", want, all)
		}
	}
}

func TestReport(t *testing.T) {
	res := func(ok int64, lat ...int) Result {
		return Result{OK: ok, Elapsed: time.Second, Latencies: durations(lat...), EventsBehind: -1}
	}
	list, flowMany := routes[0], routes[6]
	ceilSum := summarize([]Result{res(20000, 1, 2, 3)})
	shopSum := summarize([]Result{res(1000, 10, 20, 30), res(900, 11), res(1100, 9)})
	flowRes := res(250, 60)
	flowRes.EventsBehind = 1234
	flowRes.Errors, flowRes.Status5xx, flowRes.FirstErr = 3, 3, "POST /api/v1/carts/{id}/checkout: 500 boom"
	flowSum := summarize([]Result{flowRes})
	rows := []row{
		{route: list, server: "ceiling", sum: ceilSum, share: -1, bytes: 33000, ceiling: 20000},
		{route: list, server: "sqlite", sum: shopSum, share: 0.05, bytes: 33000, ceiling: 20000},
		{route: flowMany, server: "postgres", sum: flowSum, share: -1},
	}
	var buf bytes.Buffer
	writeTable(&buf, rows)
	out := buf.String()
	for _, want := range []string{
		"| GET /api/v1/products?limit=20 (32.2 KB) | ceiling | **20,000** | 2.0 ms | 3.0 ms | 0 (0) | 100% |",
		"|  | sqlite | **1,000** [900–1,100] | 20.0 ms | 30.0 ms | 0 (0) | 5.0% |",
		"| shopper flow, many SKUs (checkouts) | postgres | **250** | 60.0 ms | 60.0 ms | 3 (3) | — |",
		"first error: POST /api/v1/carts/{id}/checkout: 500 boom",
		"postgres many: 1,234",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}

	buf.Reset()
	if err := writeRunSVG(&buf, rows, "note"); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, e := range parseSVG(t, buf.Bytes()) {
		if e.name == "text" || e.name == "title" {
			texts = append(texts, e.text)
		}
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{"5.0%", "ceiling 20,000/s", "250", "checkouts per second", "goal 800"} {
		if !strings.Contains(all, want) {
			t.Errorf("the chart does not say %q (texts: %s)", want, all)
		}
	}
}

func TestShareOfPairsEachRoundWithItsCeiling(t *testing.T) {
	rate := func(rs ...int64) []Result {
		var out []Result
		for _, r := range rs {
			out = append(out, Result{OK: r, Elapsed: time.Second})
		}
		return out
	}
	// Round 2 was busy for both; round 3's ceiling was slowed by something
	// else. Paired: 5%, 5%, 15%, median 5%. The medians of each alone
	// would compare different minutes: 1000/10000 = 10%.
	if got := shareOf(rate(1000, 250, 1500), rate(20000, 5000, 10000)); math.Abs(got-0.05) > 1e-12 {
		t.Errorf("shareOf = %v, want 0.05", got)
	}
	if got := shareOf(rate(100, 200, 300), rate(1000, 0, 1000)); math.Abs(got-0.2) > 1e-12 {
		t.Errorf("a round without a ceiling rate is left out: %v, want median(0.1, 0.3) = 0.2", got)
	}
	if got := shareOf(rate(100), nil); got != -1 {
		t.Errorf("no ceiling: %v, want -1", got)
	}
}

func TestSelectRoutes(t *testing.T) {
	if rs, err := selectRoutes(""); err != nil || len(rs) != len(routes) {
		t.Errorf("no selection: %d routes, %v", len(rs), err)
	}
	rs, err := selectRoutes("home,flow-hot")
	if err != nil || len(rs) != 2 || rs[0].key != "home" || rs[1].flow != "hot" {
		t.Errorf("home,flow-hot: %v, %v", rs, err)
	}
	if _, err := selectRoutes("home,nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("an unknown route: err = %v", err)
	}
	tg := targets{productIDs: []string{"a", "b"}, productSlugs: []string{"x"}, categorySlugs: []string{"c"}}
	got := map[string]string{}
	for _, r := range routes {
		if r.flow == "" {
			got[r.key] = strings.Join(r.paths(tg), ",")
		}
	}
	want := map[string]string{"list": "/api/v1/products?limit=20", "detail": "/api/v1/products/a,/api/v1/products/b",
		"categories": "/api/v1/categories", "home": "/", "product": "/p/x", "category": "/c/c"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("route %s asks for %q, want %q", k, got[k], v)
		}
	}
}
