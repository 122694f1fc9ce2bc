package demo

import (
	"fmt"
	"html"
	"strings"
	"unicode/utf8"
)

// Pictograms are drawn in a 200x200 box. {c} is the product's colour, {d} a
// translucent highlight drawn over it, {s} a neutral grey for straps, steam
// and soles.
func pictogram(name string) string {
	switch name {
	case "tee":
		return `<path d="M72 38 L44 50 L20 80 L44 100 L58 88 L58 168 L142 168 L142 88 L156 100 L180 80 L156 50 L128 38 C120 56 80 56 72 38 Z" fill="{c}"/>` +
			`<path d="M76 40 C86 52 114 52 124 40" fill="none" stroke="{d}" stroke-width="5"/>`
	case "hoodie":
		return `<path d="M70 52 C70 22 130 22 130 52 L158 62 L178 150 L156 156 L142 104 L142 172 L58 172 L58 104 L44 156 L22 150 L42 62 Z" fill="{c}"/>` +
			`<path d="M84 54 C84 34 116 34 116 54 L110 68 L90 68 Z" fill="{d}"/>` +
			`<rect x="76" y="122" width="48" height="26" rx="8" fill="{d}"/>` +
			`<path d="M94 68 L92 96 M106 68 L108 96" stroke="{s}" stroke-width="3" stroke-linecap="round"/>`
	case "jacket":
		return `<path d="M68 36 L100 50 L132 36 L160 52 L178 150 L156 156 L144 104 L144 172 L56 172 L56 104 L44 156 L22 150 L40 52 Z" fill="{c}"/>` +
			`<path d="M68 36 L100 50 L86 82 Z M132 36 L100 50 L114 82 Z" fill="{d}"/>` +
			`<rect x="98" y="50" width="4" height="122" fill="{s}"/>` +
			`<rect x="66" y="118" width="22" height="6" rx="3" fill="{d}"/><rect x="112" y="118" width="22" height="6" rx="3" fill="{d}"/>`
	case "sneaker":
		return `<path d="M24 132 L30 88 C44 92 58 90 70 80 L86 96 C112 112 150 110 168 118 C180 124 182 132 180 140 L24 140 Z" fill="{c}"/>` +
			`<rect x="20" y="138" width="164" height="16" rx="8" fill="{s}"/>` +
			`<path d="M76 100 L90 92 M86 108 L100 100 M96 116 L110 108" stroke="{d}" stroke-width="5" stroke-linecap="round"/>`
	case "boot":
		return `<path d="M62 34 L114 34 L114 108 C140 110 166 118 172 136 L172 150 L62 150 Z" fill="{c}"/>` +
			`<rect x="58" y="148" width="118" height="16" rx="6" fill="{s}"/>` +
			`<rect x="62" y="34" width="52" height="12" fill="{d}"/>` +
			`<path d="M114 60 L100 60 M114 76 L100 76 M114 92 L100 92" stroke="{d}" stroke-width="5" stroke-linecap="round"/>`
	case "pan":
		return `<circle cx="82" cy="108" r="58" fill="{c}"/><circle cx="82" cy="108" r="42" fill="{d}"/>` +
			`<rect x="134" y="100" width="60" height="16" rx="8" fill="{c}"/>`
	case "mug":
		return `<path d="M134 78 C172 78 172 140 130 140" fill="none" stroke="{c}" stroke-width="14"/>` +
			`<path d="M46 58 L136 58 L130 160 C130 166 126 170 120 170 L62 170 C56 170 52 166 52 160 Z" fill="{c}"/>` +
			`<path d="M72 42 C62 30 82 24 72 10 M94 42 C84 30 104 24 94 10 M116 42 C106 30 126 24 116 10" stroke="{s}" stroke-width="5" fill="none" stroke-linecap="round"/>` +
			`<rect x="60" y="70" width="62" height="10" rx="5" fill="{d}"/>`
	case "cushion":
		return `<path d="M34 56 C60 46 140 46 166 56 C176 80 176 124 166 148 C140 158 60 158 34 148 C24 124 24 80 34 56 Z" fill="{c}"/>` +
			`<path d="M50 70 L150 134 M150 70 L50 134" stroke="{d}" stroke-width="4" stroke-dasharray="8 8"/>` +
			`<circle cx="100" cy="102" r="8" fill="{d}"/>`
	case "book":
		return `<rect x="48" y="26" width="108" height="150" rx="6" fill="{c}"/>` +
			`<rect x="48" y="26" width="18" height="150" fill="{d}"/>` +
			`<rect x="82" y="58" width="58" height="8" rx="4" fill="{d}"/><rect x="82" y="76" width="42" height="6" rx="3" fill="{d}"/>` +
			`<rect x="54" y="170" width="102" height="10" rx="3" fill="#f8fafc"/>`
	case "phone":
		return `<rect x="58" y="20" width="84" height="162" rx="18" fill="{c}"/>` +
			`<rect x="68" y="30" width="32" height="38" rx="9" fill="{d}"/>` +
			`<circle cx="78" cy="41" r="5" fill="{s}"/><circle cx="90" cy="57" r="5" fill="{s}"/>` +
			`<circle cx="100" cy="124" r="14" fill="none" stroke="{d}" stroke-width="4"/>`
	case "charger":
		return `<path d="M100 136 C100 172 150 160 162 186" stroke="{s}" stroke-width="8" fill="none" stroke-linecap="round"/>` +
			`<rect x="80" y="16" width="10" height="26" rx="2" fill="{s}"/><rect x="110" y="16" width="10" height="26" rx="2" fill="{s}"/>` +
			`<rect x="62" y="40" width="76" height="98" rx="16" fill="{c}"/>` +
			`<path d="M106 56 L84 94 L100 94 L94 122 L118 82 L102 82 Z" fill="{d}"/>`
	case "headphones":
		return `<path d="M40 122 C40 36 160 36 160 122" fill="none" stroke="{c}" stroke-width="16" stroke-linecap="round"/>` +
			`<rect x="24" y="106" width="42" height="68" rx="18" fill="{c}"/><rect x="134" y="106" width="42" height="68" rx="18" fill="{c}"/>` +
			`<rect x="36" y="120" width="18" height="40" rx="9" fill="{d}"/><rect x="146" y="120" width="18" height="40" rx="9" fill="{d}"/>`
	case "tent":
		return `<rect x="10" y="164" width="180" height="10" rx="5" fill="{s}"/>` +
			`<path d="M100 28 L182 166 L18 166 Z" fill="{c}"/>` +
			`<path d="M100 72 L132 166 L68 166 Z" fill="{d}"/>` +
			`<path d="M100 28 L100 14" stroke="{s}" stroke-width="5" stroke-linecap="round"/>`
	case "lantern":
		return `<path d="M80 30 C80 8 120 8 120 30" fill="none" stroke="{s}" stroke-width="6"/>` +
			`<path d="M78 30 L122 30 L136 58 L64 58 Z" fill="{c}"/>` +
			`<rect x="70" y="58" width="60" height="86" rx="8" fill="#fde68a"/>` +
			`<circle cx="100" cy="100" r="16" fill="#f59e0b"/>` +
			`<rect x="64" y="142" width="72" height="24" rx="8" fill="{c}"/>`
	case "backpack":
		return `<path d="M76 42 C76 14 124 14 124 42" fill="none" stroke="{s}" stroke-width="8"/>` +
			`<rect x="50" y="38" width="100" height="140" rx="30" fill="{c}"/>` +
			`<path d="M50 80 C50 54 150 54 150 80 L150 98 L50 98 Z" fill="{d}"/>` +
			`<rect x="70" y="118" width="60" height="42" rx="10" fill="{d}"/>`
	case "sock":
		return `<path d="M70 24 L122 24 L122 112 L152 138 C168 154 152 182 128 170 L76 128 C68 120 70 114 70 104 Z" fill="{c}"/>` +
			`<rect x="70" y="24" width="52" height="22" fill="{d}"/>` +
			`<path d="M134 144 C146 150 150 160 144 168" stroke="{d}" stroke-width="6" fill="none" stroke-linecap="round"/>`
	case "bottle":
		return `<path d="M96 40 L96 22 L130 22 L130 30 L104 30 L104 40 Z" fill="{s}"/>` +
			`<rect x="84" y="38" width="32" height="28" rx="4" fill="{s}"/>` +
			`<rect x="64" y="64" width="72" height="118" rx="16" fill="{c}"/>` +
			`<rect x="76" y="100" width="48" height="48" rx="6" fill="{d}"/>`
	case "soap":
		return `<circle cx="62" cy="56" r="14" fill="none" stroke="{s}" stroke-width="4"/><circle cx="98" cy="40" r="9" fill="none" stroke="{s}" stroke-width="4"/>` +
			`<circle cx="134" cy="58" r="11" fill="none" stroke="{s}" stroke-width="4"/>` +
			`<rect x="30" y="86" width="140" height="76" rx="30" fill="{c}"/>` +
			`<ellipse cx="100" cy="114" rx="42" ry="14" fill="{d}"/>`
	case "perfume":
		return `<rect x="78" y="24" width="44" height="22" rx="6" fill="{s}"/>` +
			`<rect x="88" y="44" width="24" height="28" fill="{s}"/>` +
			`<rect x="50" y="70" width="100" height="110" rx="20" fill="{c}"/>` +
			`<rect x="70" y="104" width="60" height="42" rx="4" fill="{d}"/>`
	case "dice":
		return `<rect x="36" y="36" width="128" height="128" rx="26" fill="{c}"/>` +
			`<circle cx="70" cy="70" r="11" fill="#f8fafc"/><circle cx="130" cy="70" r="11" fill="#f8fafc"/><circle cx="100" cy="100" r="11" fill="#f8fafc"/>` +
			`<circle cx="70" cy="130" r="11" fill="#f8fafc"/><circle cx="130" cy="130" r="11" fill="#f8fafc"/>`
	case "puzzle":
		return `<path d="M40 60 L80 60 C72 36 108 36 100 60 L140 60 L140 100 C164 92 164 128 140 120 L140 160 L100 160 C108 136 72 136 80 160 L40 160 Z" fill="{c}"/>` +
			`<circle cx="76" cy="100" r="10" fill="{d}"/>`
	case "bear":
		return `<circle cx="60" cy="56" r="22" fill="{c}"/><circle cx="140" cy="56" r="22" fill="{c}"/>` +
			`<circle cx="60" cy="56" r="10" fill="{d}"/><circle cx="140" cy="56" r="10" fill="{d}"/>` +
			`<circle cx="100" cy="104" r="60" fill="{c}"/>` +
			`<ellipse cx="100" cy="124" rx="26" ry="20" fill="{d}"/>` +
			`<circle cx="78" cy="94" r="7" fill="#1f2937"/><circle cx="122" cy="94" r="7" fill="#1f2937"/><ellipse cx="100" cy="116" rx="8" ry="6" fill="#1f2937"/>`
	case "coffee":
		return `<rect x="54" y="30" width="92" height="16" rx="3" fill="{s}"/>` +
			`<path d="M56 44 L144 44 L158 178 L42 178 Z" fill="{c}"/>` +
			`<ellipse cx="100" cy="114" rx="24" ry="32" fill="{d}"/>` +
			`<path d="M100 84 C86 104 114 124 100 144" stroke="{c}" stroke-width="5" fill="none"/>`
	case "teacup":
		return `<path d="M96 68 C70 48 84 20 122 18 C128 48 116 68 96 68 Z" fill="#65a30d"/>` +
			`<path d="M146 98 C178 98 176 136 140 132" fill="none" stroke="{c}" stroke-width="10"/>` +
			`<path d="M36 84 L152 84 C152 132 130 162 94 162 C58 162 36 132 36 84 Z" fill="{c}"/>` +
			`<rect x="24" y="164" width="140" height="10" rx="5" fill="{s}"/>` +
			`<path d="M52 96 L136 96" stroke="{d}" stroke-width="6" stroke-linecap="round"/>`
	case "kettle":
		return `<path d="M150 124 C172 112 180 82 192 60" stroke="{c}" stroke-width="10" fill="none" stroke-linecap="round"/>` +
			`<path d="M66 68 C66 30 134 30 134 68" fill="none" stroke="{s}" stroke-width="8"/>` +
			`<path d="M52 92 C52 62 148 62 148 92 L160 172 L40 172 Z" fill="{c}"/>` +
			`<rect x="88" y="54" width="24" height="12" rx="4" fill="{s}"/>` +
			`<path d="M60 150 L140 150" stroke="{d}" stroke-width="6" stroke-linecap="round"/>`
	}
	return `<circle cx="100" cy="100" r="70" fill="{c}"/>`
}

// picture is the input of one product picture.
type picture struct {
	icon     string
	fill     string    // the product's colour
	gradient [2]string // light and dark background
	title    string
	brand    string
}

// svg renders a square 800x800 picture: a diagonal gradient, a soft disc, the
// category's pictogram in the product's colour, and the brand and title.
func (p picture) svg() []byte {
	icon := strings.NewReplacer("{c}", p.fill, "{d}", "rgba(255,255,255,0.5)", "{s}", "#475569").Replace(pictogram(p.icon))
	title := p.title
	if utf8.RuneCountInString(title) > 30 {
		title = string([]rune(title)[:29]) + "…"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="800" height="800" viewBox="0 0 800 800" role="img" aria-label="%s">`, html.EscapeString(p.title))
	fmt.Fprintf(&b, `<defs><linearGradient id="bg" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="%s"/><stop offset="1" stop-color="%s"/></linearGradient></defs>`, p.gradient[0], p.gradient[1])
	b.WriteString(`<rect width="800" height="800" fill="url(#bg)"/>`)
	b.WriteString(`<circle cx="400" cy="350" r="270" fill="#ffffff" fill-opacity="0.35"/>`)
	b.WriteString(`<circle cx="660" cy="120" r="70" fill="#ffffff" fill-opacity="0.12"/>`)
	fmt.Fprintf(&b, `<g transform="translate(190 140) scale(2.1)" stroke="#0f172a" stroke-opacity="0.22" stroke-width="2.5" stroke-linejoin="round">%s</g>`, icon)
	b.WriteString(`<rect y="650" width="800" height="150" fill="#0f172a" fill-opacity="0.28"/>`)
	fmt.Fprintf(&b, `<text x="400" y="700" text-anchor="middle" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="24" letter-spacing="5" fill="#ffffff" fill-opacity="0.85">%s</text>`, html.EscapeString(strings.ToUpper(p.brand)))
	fmt.Fprintf(&b, `<text x="400" y="752" text-anchor="middle" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="40" font-weight="700" fill="#ffffff">%s</text>`, html.EscapeString(title))
	b.WriteString(`</svg>`)
	return []byte(b.String())
}
