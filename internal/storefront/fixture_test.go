package storefront_test

// A small realistic catalog for the storefront tests: nested categories,
// attributes, sized and coloured variants, low, zero and backordered stock.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/money"
)

type category struct{ slug, name, parent string }

var categories = []category{
	{"clothing", "Clothing", ""},
	{"t-shirts", "T-shirts", "clothing"},
	{"hoodies", "Hoodies & sweatshirts", "clothing"},
	{"socks", "Socks", "clothing"},
	{"home", "Home", ""},
	{"mugs", "Mugs & cups", "home"},
	{"prints", "Prints & posters", "home"},
	{"textiles", "Textiles", "home"},
	{"accessories", "Accessories", ""},
	{"bags", "Bags", "accessories"},
	{"hats", "Caps & hats", "accessories"},
	{"stationery", "Stationery", ""},
}

type product struct {
	title, cat string
	price      int64
	attrs      string // key=value;key=value
	axis       string // option name of the variants, e.g. "Size"
	options    string // comma-separated option values; empty: one variant
	stock      string // comma-separated per variant; "b" = none on hand, backorder allowed
	featured   bool
	blurb      string
}

var products = []product{
	{"Organic cotton crew tee", "t-shirts", 2400, "color=White;material=Organic cotton;fit=Regular", "Size", "S,M,L,XL", "12,3,0,20", true, "A soft, midweight everyday tee knitted from GOTS-certified organic cotton."},
	{"Heavyweight pocket tee", "t-shirts", 3200, "color=Black;material=Cotton;fit=Relaxed", "Size", "S,M,L,XL", "8,14,9,4", false, "Dense 240 g jersey that keeps its shape, with a chest pocket."},
	{"Linen blend tee", "t-shirts", 3900, "color=Sand;material=Linen;fit=Regular", "Size", "S,M,L,XL", "5,7,7,2", false, "Cool and breathable for the warmest days."},
	{"Striped Breton tee", "t-shirts", 3500, "color=Navy;material=Cotton;fit=Regular", "Size", "S,M,L,XL", "10,10,10,10", true, "The classic sailor stripe in a sturdy cotton jersey."},
	{"Merino wool tee", "t-shirts", 5900, "color=Charcoal;material=Merino wool;fit=Slim", "Size", "S,M,L,XL", "6,0,3,8", false, "Fine merino that regulates temperature and resists odour."},
	{"Mountain graphic tee", "t-shirts", 2900, "color=Forest;material=Organic cotton;fit=Regular", "Size", "S,M,L,XL", "9,12,15,6", false, "Screen-printed by hand with water-based inks."},
	{"Long-sleeve waffle tee", "t-shirts", 3800, "color=Oat;material=Cotton;fit=Relaxed", "Size", "S,M,L,XL", "4,6,6,3", false, "A textured waffle knit for layering."},
	{"Kids' rainbow tee", "t-shirts", 1900, "color=White;material=Organic cotton;fit=Regular", "Size", "4 years,6 years,8 years", "11,7,5", false, "Bright, soft and made to be played in."},
	{"Classic zip hoodie", "hoodies", 6500, "color=Grey;material=Cotton blend;fit=Regular", "Size", "S,M,L,XL", "7,12,9,5", true, "Brushed-back fleece, a metal zip and deep pockets."},
	{"Recycled fleece pullover", "hoodies", 7200, "color=Forest;material=Recycled polyester;fit=Relaxed", "Size", "S,M,L,XL", "3,5,0,2", false, "Warm, light fleece spun from recycled bottles."},
	{"Organic crewneck sweatshirt", "hoodies", 5400, "color=Navy;material=Organic cotton;fit=Regular", "Size", "S,M,L,XL", "10,10,8,6", false, "Loopback cotton that softens with every wash."},
	{"Oversized hoodie", "hoodies", 6900, "color=Black;material=Cotton blend;fit=Oversized", "Size", "S,M,L,XL", "6,6,6,6", false, "Dropped shoulders and a roomy hood."},
	{"Everyday socks, 3-pack", "socks", 1500, "color=Mixed;material=Cotton", "Size", "36–40,41–46", "30,25", false, "Combed cotton socks with a reinforced heel and toe."},
	{"Wool hiking socks", "socks", 1900, "color=Grey;material=Merino wool", "Size", "36–40,41–46", "12,0", false, "Cushioned merino socks for long days on the trail."},
	{"Ankle socks, 5-pack", "socks", 1800, "color=White;material=Cotton", "Size", "36–40,41–46", "20,20", false, "Low-cut socks that stay put."},
	{"Stoneware mug", "mugs", 1800, "material=Stoneware", "Colour", "Sand,Slate,Moss", "15,4,0", true, "Thrown and glazed in a small pottery; holds 350 ml."},
	{"Enamel camping mug", "mugs", 1500, "material=Enamel", "Colour", "Blue,White", "22,18", false, "Light and tough enough for the campfire."},
	{"Double-walled glass cup", "mugs", 2200, "material=Glass", "", "", "14", false, "Keeps coffee hot and hands cool; 250 ml."},
	{"Espresso cups, set of 2", "mugs", 2400, "material=Porcelain", "", "", "3", false, "Fine white porcelain with a thick, heat-keeping base."},
	{"Lisbon city map print", "prints", 2500, "material=Matte paper;style=Map", "Size", "A3,A2,A1", "10,6,2", true, "A detailed street map printed on heavy matte paper."},
	{"Fern botanical print", "prints", 2500, "material=Matte paper;style=Botanical", "Size", "A3,A2,A1", "8,4,0", false, "After a 19th-century plate, reproduced in fine detail."},
	{"Abstract shapes print", "prints", 2200, "material=Matte paper;style=Abstract", "Size", "A3,A2", "9,5", false, "Warm colours and soft shapes for a calm wall."},
	{"Night sky poster", "prints", 2900, "material=Glossy paper;style=Astronomy", "Size", "A3,A2,A1", "6,6,3", false, "The northern sky with the brightest stars named."},
	{"Linen tea towel", "textiles", 1200, "material=Linen", "Colour", "Natural,Rust,Sage", "25,12,9", false, "Absorbent, quick to dry and softer with age."},
	{"Waffle bath towel", "textiles", 3400, "material=Cotton", "Colour", "White,Stone", "10,7", false, "Light waffle weave that dries fast."},
	{"Wool throw blanket", "textiles", 8900, "material=Wool", "", "", "4", true, "Woven from lambswool in a traditional mill; 130 × 180 cm."},
	{"Canvas tote bag", "bags", 2200, "material=Canvas", "Colour", "Natural,Black", "40,35", true, "Heavy 16 oz canvas with an inside pocket."},
	{"Roll-top backpack", "bags", 11900, "material=Recycled polyester", "Colour", "Black,Olive", "5,2", false, "Weatherproof, with a padded 16-inch laptop sleeve."},
	{"Leather card holder", "bags", 3900, "material=Leather", "Colour", "Tan,Black", "12,12", false, "Vegetable-tanned leather, hand-stitched."},
	{"Weekender duffel", "bags", 13900, "material=Canvas", "", "", "3", false, "Waxed canvas and leather handles; fits a long weekend."},
	{"Six-panel cap", "hats", 2900, "material=Cotton", "Colour", "Navy,Beige", "14,9", false, "Washed cotton twill with an adjustable strap."},
	{"Merino beanie", "hats", 3400, "material=Merino wool", "Colour", "Charcoal,Mustard", "8,0", false, "Rib-knit merino, warm without the itch."},
	{"Bucket hat", "hats", 3200, "material=Cotton", "", "", "7", false, "Sun protection that packs flat."},
	{"Dot-grid notebook A5", "stationery", 1600, "material=Paper", "Colour", "Black,Terracotta,Sage", "30,12,8", true, "192 numbered pages of 100 g paper that fountain pens love."},
	{"Brass pen", "stationery", 4500, "material=Brass", "", "", "9", false, "Machined from solid brass; takes standard refills."},
	{"Weekly planner 2027", "stationery", 2400, "material=Paper", "", "", "0", false, "A week on two pages, with space for notes."},
	{"Sticker pack", "stationery", 600, "material=Vinyl", "", "", "50", false, "Ten weatherproof vinyl stickers."},
	{"Linen-bound sketchbook", "stationery", 2800, "material=Paper", "", "", "b", false, "Lay-flat binding and 150 g drawing paper."},
	{"Mechanical pencil", "stationery", 1900, "material=Aluminium", "", "", "16", false, "A 0.5 mm pencil with a knurled grip."},
	{"Oak desk organiser", "stationery", 4900, "material=Oak", "", "", "5", false, "Solid oak with slots for pens, cards and a phone."},
}

// seedFixture creates the fixture's categories and products in currency.
// Products are dated an hour apart so "newest" has a stable order.
func seedFixture(ctx context.Context, c *catalog.Service, currency string) error {
	ids := map[string]string{}
	for i, cat := range categories {
		in := catalog.CategoryInput{Slug: cat.slug, Name: cat.name, Position: i}
		if cat.parent != "" {
			parent := ids[cat.parent]
			in.ParentID = &parent
		}
		created, err := c.CreateCategory(ctx, in)
		if err != nil {
			return fmt.Errorf("create category %s: %w", cat.slug, err)
		}
		ids[cat.slug] = created.ID
	}
	start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for i, p := range products {
		in := catalog.ProductInput{
			Title: p.title, Status: catalog.StatusActive, Featured: p.featured,
			Description: p.blurb + "\n\nDesigned to last and easy to care for. Free returns within 30 days.",
			Attributes:  map[string]string{}, CategoryIDs: []string{ids[p.cat]},
			CreatedAt: start.Add(-time.Duration(i) * time.Hour),
		}
		for _, kv := range strings.Split(p.attrs, ";") {
			k, v, _ := strings.Cut(kv, "=")
			in.Attributes[k] = v
		}
		opts, stock := []string{""}, strings.Split(p.stock, ",")
		if p.options != "" {
			opts = strings.Split(p.options, ",")
		}
		sku := fmt.Sprintf("FX-%02d", i+1)
		for j, o := range opts {
			v := catalog.VariantInput{SKU: sku, Price: money.Money{Amount: p.price, Currency: currency}}
			if o != "" {
				v.SKU = fmt.Sprintf("%s-%d", sku, j+1)
				v.Options = map[string]string{p.axis: o}
				if p.axis == "Size" && len(opts) > 2 && j == len(opts)-1 && p.cat == "prints" {
					v.Price.Amount = p.price * 2 // the biggest print costs more
				} else if p.axis == "Size" && p.cat == "prints" && j == 1 {
					v.Price.Amount = p.price * 3 / 2
				}
			}
			var onHand int64
			backorder := false
			if s := stock[min(j, len(stock)-1)]; s == "b" {
				backorder = true
			} else {
				fmt.Sscan(s, &onHand)
			}
			v.Stock, v.Backorder = &onHand, &backorder
			in.Variants = append(in.Variants, v)
		}
		if _, err := c.CreateProduct(ctx, in, "fixture"); err != nil {
			return fmt.Errorf("create product %q: %w", p.title, err)
		}
	}
	return nil
}
