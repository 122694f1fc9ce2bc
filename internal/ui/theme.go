package ui

import (
	"fmt"
	"math"
	"strconv"
)

// DefaultAccent is the accent colour when the shop sets none.
const DefaultAccent = "#0f766e"

// Theme is what a merchant can change about the look without touching CSS.
type Theme struct {
	Accent string // #rrggbb; empty means DefaultAccent
}

// ValidColor reports whether s is a #rrggbb colour.
func ValidColor(s string) bool {
	_, err := parseColor(s)
	return err == nil
}

type rgb struct{ r, g, b float64 } // 0..255

func parseColor(s string) (rgb, error) {
	if len(s) != 7 || s[0] != '#' {
		return rgb{}, fmt.Errorf("colour %q: want #rrggbb", s)
	}
	n, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return rgb{}, fmt.Errorf("colour %q: want #rrggbb", s)
	}
	return rgb{float64(n >> 16 & 0xff), float64(n >> 8 & 0xff), float64(n & 0xff)}, nil
}

func (c rgb) hex() string {
	clamp := func(v float64) int { return int(math.Max(0, math.Min(255, math.Round(v)))) }
	return fmt.Sprintf("#%02x%02x%02x", clamp(c.r), clamp(c.g), clamp(c.b))
}

// luminance is the WCAG relative luminance.
func (c rgb) luminance() float64 {
	lin := func(v float64) float64 {
		v /= 255
		if v <= 0.03928 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.r) + 0.7152*lin(c.g) + 0.0722*lin(c.b)
}

// contrast is the WCAG contrast ratio of two colours (1..21).
func contrast(a, b rgb) float64 {
	la, lb := a.luminance(), b.luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// mix returns c moved toward o by t (0..1).
func (c rgb) mix(o rgb, t float64) rgb {
	return rgb{c.r + (o.r-c.r)*t, c.g + (o.g-c.g)*t, c.b + (o.b-c.b)*t}
}

var (
	white = rgb{255, 255, 255}
	ink   = rgb{17, 24, 39} // the body text colour in app.css
)

// themeCSS derives the accent custom properties from one colour, keeping
// every pairing at WCAG AA contrast (4.5:1): the text on accent buttons is
// white or near-black, whichever reads better, and accent-coloured text is
// darkened until it passes on white and on the soft accent tint.
func themeCSS(t Theme) ([]byte, error) {
	accent := t.Accent
	if accent == "" {
		accent = DefaultAccent
	}
	c, err := parseColor(accent)
	if err != nil {
		return nil, err
	}
	onAccent := white
	if contrast(c, white) < contrast(c, ink) {
		onAccent = ink
	}
	// Mid-tones (luminance near 0.2) reach 4.5:1 with neither; darken the
	// button colour until white text passes.
	for i := 0; i < 30 && contrast(c, onAccent) < 4.5; i++ {
		c, onAccent = c.mix(rgb{}, 0.05), white
	}
	soft := c.mix(white, 0.9)
	text := c // must read on white and on the soft tint (current nav item)
	for i := 0; i < 30 && contrast(text, soft) < 4.5; i++ {
		text = text.mix(rgb{}, 0.08)
	}
	hover := c.mix(rgb{}, 0.15)
	if onAccent == ink {
		hover = c.mix(white, 0.2)
	}
	css := fmt.Sprintf(":root{--accent:%s;--accent-ink:%s;--accent-text:%s;--accent-hover:%s;--accent-soft:%s}\n",
		c.hex(), onAccent.hex(), text.hex(), hover.hex(), soft.hex())
	return []byte(css), nil
}

// iconSVG is the favicon: a shopping bag in the accent colour.
func iconSVG(t Theme) []byte {
	accent := t.Accent
	if accent == "" {
		accent = DefaultAccent
	}
	return []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="` + accent +
		`"/><path d="M9 12h14l-1 13H10z" fill="#fff"/><path d="M12.5 12v-1.5a3.5 3.5 0 0 1 7 0V12" fill="none" stroke="#fff" stroke-width="2"/></svg>` + "\n")
}
