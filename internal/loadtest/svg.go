package loadtest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
)

// Charts are hand-written SVG: a few rectangles, lines and texts, no
// dependencies, readable in a browser and on GitHub.

const (
	colourText  = "#111827"
	colourMuted = "#4b5563"
	colourGrid  = "#e5e7eb"
	colourGoal  = "#dc2626"
)

// svgDoc accumulates SVG elements.
type svgDoc struct{ b bytes.Buffer }

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (d *svgDoc) f(format string, args ...any) { fmt.Fprintf(&d.b, format, args...) }

func (d *svgDoc) text(x, y float64, anchor, fill string, size int, weight, s string) {
	w := ""
	if weight != "" {
		w = fmt.Sprintf(` font-weight="%s"`, weight)
	}
	d.f(`<text x="%.1f" y="%.1f" text-anchor="%s" fill="%s" font-size="%d"%s>%s</text>`+"\n", x, y, anchor, fill, size, w, esc(s))
}

func (d *svgDoc) line(x1, y1, x2, y2 float64, stroke string, dashed bool) {
	dash := ""
	if dashed {
		dash = ` stroke-dasharray="4 3"`
	}
	d.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"%s/>`+"\n", x1, y1, x2, y2, stroke, dash)
}

func (d *svgDoc) write(w io.Writer, width, height float64, title string) error {
	_, err := fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" font-family="system-ui, sans-serif" font-size="12">
<title>%s</title>
<rect width="%.0f" height="%.0f" fill="#ffffff"/>
%s</svg>
`, width, height, width, height, esc(title), width, height, d.b.Bytes())
	return err
}

// axis chooses gridlines for values up to v: a step of 1, 2 or 5 times a
// power of ten giving at most n intervals, and the top (a multiple of the
// step at or above v).
func axis(v float64, n int) (top, step float64) {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1, 1 / float64(n)
	}
	raw := v / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * p
	for _, m := range []float64{1, 2, 5} {
		if raw <= m*p*(1+1e-9) {
			step = m * p
			break
		}
	}
	return math.Ceil(v/step*(1-1e-9)) * step, step
}

// thousands formats n with commas: 12345 -> "12,345".
func thousands(n float64) string {
	s := fmt.Sprintf("%.0f", math.Round(n))
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// axisLabel formats a gridline value: without decimals from 10 up.
func axisLabel(v float64) string {
	if v >= 10 || v == math.Trunc(v) {
		return thousands(v)
	}
	return fmt.Sprintf("%.1f", v)
}

// series names and colours, the same in every chart.
type legendItem struct{ name, colour string }

// bar is one bar of a group; goal, when positive, is drawn as a dashed
// mark across it.
type bar struct {
	series legendItem
	value  float64
	text   string // shown above the bar
	tip    string // tooltip
	goal   float64
}

type barGroup struct {
	label string
	sub   string // a second line under the label
	bars  []bar
}

// barPanel is one chart of grouped vertical bars on a linear axis from 0.
type barPanel struct {
	title  string
	unit   string  // axis caption, e.g. "% of the ceiling"
	max    float64 // axis top; 0: from the values and goals
	groups []barGroup
}

const (
	barW      = 30.0
	groupGap  = 26.0
	minGroupW = 104.0
	plotTop   = 56.0
	plotH     = 250.0
	axisLeftW = 56.0
)

func (p barPanel) groupW() float64 {
	n := 0
	for _, g := range p.groups {
		n = max(n, len(g.bars))
	}
	return max(float64(n)*barW+groupGap, minGroupW)
}

func (p barPanel) width() float64 {
	return max(axisLeftW+float64(len(p.groups))*p.groupW()+20, 6*float64(len(p.unit))+40, 8.5*float64(len(p.title))+30)
}

func (p barPanel) draw(d *svgDoc, x0 float64) {
	top := p.max
	if top <= 0 {
		for _, g := range p.groups {
			for _, b := range g.bars {
				top = max(top, b.value, b.goal)
			}
		}
		top *= 1.08
	}
	top, step := axis(top, 5)
	y := func(v float64) float64 { return plotTop + plotH - min(v/top, 1.04)*plotH }
	d.text(x0+10, 24, "start", colourText, 14, "600", p.title)
	d.text(x0+10, 42, "start", colourMuted, 11, "", p.unit)
	right := x0 + p.width() - 20
	for i := 0; float64(i)*step <= top*(1+1e-9); i++ {
		v := float64(i) * step
		d.line(x0+axisLeftW, y(v), right, y(v), colourGrid, false)
		d.text(x0+axisLeftW-6, y(v)+4, "end", colourMuted, 11, "", axisLabel(v))
	}
	gw := p.groupW()
	for gi, g := range p.groups {
		gx := x0 + axisLeftW + float64(gi)*gw + (gw-float64(len(g.bars))*barW)/2
		for bi, b := range g.bars {
			bx := gx + float64(bi)*barW
			h := plotTop + plotH - y(b.value)
			d.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`+"\n",
				bx+1, y(b.value), barW-2, h, b.series.colour, esc(b.tip))
			d.text(bx+barW/2, y(b.value)-4, "middle", colourText, 10, "", b.text)
			if b.goal > 0 {
				d.line(bx-1, y(b.goal), bx+barW+1, y(b.goal), colourGoal, true)
			}
		}
		d.text(gx+float64(len(g.bars))*barW/2, plotTop+plotH+16, "middle", "#374151", 11, "", g.label)
		if g.sub != "" {
			d.text(gx+float64(len(g.bars))*barW/2, plotTop+plotH+30, "middle", colourMuted, 10, "", g.sub)
		}
	}
}

// writeBars writes panels side by side with one legend under them.
func writeBars(w io.Writer, title, note string, legend []legendItem, panels ...barPanel) error {
	var d svgDoc
	x, width := 0.0, 0.0
	for _, p := range panels {
		p.draw(&d, x)
		x += p.width()
		width = x
	}
	ly := plotTop + plotH + 56
	lx := 20.0
	for _, l := range legend {
		d.f(`<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/>`+"\n", lx, ly-10, l.colour)
		d.text(lx+17, ly, "start", "#374151", 12, "", l.name)
		lx += 30 + 7*float64(len(l.name))
	}
	d.line(lx, ly-4, lx+24, ly-4, colourGoal, true)
	d.text(lx+30, ly, "start", "#374151", 12, "", "goal (issue 9)")
	width = max(width, 640)
	y := ly + 22
	for _, l := range wrap(note, int(width/6.2)) {
		d.text(20, y, "start", colourMuted, 11, "", l)
		y += 15
	}
	return d.write(w, width, y+8, title)
}

// point is one sample of a time series: x in seconds.
type point struct{ x, y float64 }

type series struct {
	legendItem
	points []point
}

// linePanel is one chart of time series sharing the x axis (seconds).
type linePanel struct {
	title  string
	unit   string
	series []series
	// marks are x positions drawn as dashed vertical lines (the thirds of
	// the level-off rule), with their labels.
	marks []float64
	// levels are horizontal dashed segments [x1, x2] at y (the medians
	// the rule compares).
	levels []level
}

type level struct{ x1, x2, y float64 }

const (
	lineW   = 760.0
	lineH   = 170.0
	lineGap = 70.0
)

// writeLines writes the panels one above the other.
func writeLines(w io.Writer, title, note string, panels ...linePanel) error {
	var d svgDoc
	xmax := 1.0
	for _, p := range panels {
		for _, s := range p.series {
			for _, pt := range s.points {
				xmax = max(xmax, pt.x)
			}
		}
	}
	const left = 70.0
	xmax, xstep := axis(xmax*(1-1e-3), 8) // a last sample a moment after a round time does not add a step
	x := func(v float64) float64 { return left + v/xmax*(lineW-left-20) }
	top := 30.0
	for _, p := range panels {
		ymax := 0.0
		for _, s := range p.series {
			for _, pt := range s.points {
				ymax = max(ymax, pt.y)
			}
		}
		ymax, ystep := axis(ymax*1.1, 4)
		y := func(v float64) float64 { return top + 34 + lineH - v/ymax*lineH }
		d.text(20, top+8, "start", colourText, 14, "600", p.title)
		d.text(20, top+24, "start", colourMuted, 11, "", p.unit)
		for i := 0; float64(i)*ystep <= ymax*(1+1e-9); i++ {
			v := float64(i) * ystep
			d.line(left, y(v), lineW-20, y(v), colourGrid, false)
			d.text(left-6, y(v)+4, "end", colourMuted, 11, "", axisLabel(v))
		}
		for _, m := range p.marks {
			d.line(x(m), y(0), x(m), y(ymax), "#9ca3af", true)
		}
		for _, l := range p.levels {
			d.line(x(l.x1), y(l.y), x(l.x2), y(l.y), colourGoal, true)
		}
		lx := lineW - 20.0
		for i := len(p.series) - 1; i >= 0; i-- {
			s := p.series[i]
			var pts strings.Builder
			for _, pt := range s.points {
				fmt.Fprintf(&pts, "%.1f,%.1f ", x(pt.x), y(pt.y))
			}
			d.f(`<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.colour, strings.TrimSpace(pts.String()))
			lx -= 36 + 7*float64(len(s.name))
			d.line(lx, top+4, lx+16, top+4, s.colour, false)
			d.text(lx+20, top+8, "start", "#374151", 12, "", s.name)
		}
		top += 34 + lineH + lineGap
	}
	// x axis labels under the last panel
	axisY := top - lineGap + 16
	for i := 0; float64(i)*xstep <= xmax*(1+1e-9); i++ {
		v := float64(i) * xstep
		d.text(x(v), axisY, "middle", colourMuted, 11, "", fmt.Sprintf("%s s", axisLabel(v)))
	}
	y := axisY + 26
	for _, l := range wrap(note, 122) {
		d.text(20, y, "start", colourMuted, 11, "", l)
		y += 15
	}
	return d.write(w, lineW, y+8, title)
}

// wrap breaks s into lines of at most width characters at spaces (a
// longer word gets a line of its own).
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case len(line)+1+len(w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
