package demo

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// topCategory is a top-level category and its sub-categories, in shop order.
type topCategory struct {
	name string
	subs []string
	// gradients are the picture backgrounds used for its products.
	gradients [][2]string
}

func categoryTree() []topCategory {
	return []topCategory{
		{"Apparel", []string{"T-shirts", "Hoodies & sweatshirts", "Jackets"}, [][2]string{{"#fde68a", "#f59e0b"}, {"#fed7aa", "#ea580c"}}},
		{"Shoes", []string{"Sneakers", "Boots"}, [][2]string{{"#e2e8f0", "#64748b"}, {"#c7d2fe", "#4f46e5"}}},
		{"Home & kitchen", []string{"Cookware", "Tableware", "Home textiles"}, [][2]string{{"#fecaca", "#ef4444"}, {"#fed7aa", "#c2410c"}}},
		{"Books", []string{"Fiction", "Cookbooks", "Non-fiction"}, [][2]string{{"#ddd6fe", "#7c3aed"}, {"#c7d2fe", "#4338ca"}}},
		{"Electronics accessories", []string{"Phone cases", "Chargers & cables", "Headphones"}, [][2]string{{"#bfdbfe", "#2563eb"}, {"#a5f3fc", "#0891b2"}}},
		{"Outdoor", []string{"Camping", "Hiking"}, [][2]string{{"#bbf7d0", "#16a34a"}, {"#d9f99d", "#4d7c0f"}}},
		{"Beauty", []string{"Skincare", "Bath & body", "Fragrance"}, [][2]string{{"#fbcfe8", "#db2777"}, {"#fecdd3", "#e11d48"}}},
		{"Toys & games", []string{"Board games", "Puzzles", "Toys"}, [][2]string{{"#99f6e4", "#0d9488"}, {"#fde68a", "#d97706"}}},
		{"Coffee & tea", []string{"Coffee", "Tea", "Brewing gear"}, [][2]string{{"#fed7aa", "#9a3412"}, {"#e7e5e4", "#78716c"}}},
	}
}

// colourHex maps the colour names offered as options to the hex colour that
// paints them in the pictures.
func colourHex() map[string]string {
	return map[string]string{
		"Black": "#1f2937", "White": "#f8fafc", "Heather grey": "#9ca3af", "Charcoal": "#374151", "Navy": "#1e3a8a",
		"Olive": "#556b2f", "Rust": "#b7410e", "Sky blue": "#7dd3fc", "Sand": "#e7d3a8", "Forest green": "#166534",
		"Burgundy": "#7f1d1d", "Mustard": "#d4a017", "Cream": "#fef3c7", "Brown": "#7c4a2d", "Tan": "#d2a679",
		"Red": "#dc2626", "Blue": "#2563eb", "Sage": "#9caf88", "Terracotta": "#c2603e", "Slate": "#64748b",
		"Blush": "#f4b6c2", "Lavender": "#b4a7d6", "Ochre": "#cc7722", "Teal": "#0f766e", "Graphite": "#3f3f46",
		"Clear": "#e0f2fe", "Orange": "#f97316", "Yellow": "#facc15", "Green": "#16a34a", "Pink": "#ec4899",
		"Copper": "#b87333", "Stainless": "#cbd5e1", "Matte black": "#27272a", "Natural": "#e8dcc4",
	}
}

// axis is a variant option such as size: a product offers a run of
// consecutive values. pct is each value's price in percent of the base
// price (nil: all 100).
type axis struct {
	name     string
	values   []string
	pct      []int64
	min, max int
}

// kind is a family of similar products (tees, coffee beans) and the word
// lists their titles, descriptions and variants are drawn from.
type kind struct {
	top, leaf  string
	code       string // SKU prefix
	icon       string
	count      int
	nouns      []string
	adjs       []string
	brands     []string
	materials  []string // attribute "material"; none when empty
	colours    []string // offered colours; none when empty
	maxColours int
	tints      []string // picture colours for products without colour options
	axes       []axis
	price      [2]int64 // base price range in cents of a two-decimal currency
	intro      []string // first sentence; placeholders {title} {brand} {material} {noun}
	features   []string // further sentences
	// title, when set, invents the title instead of "{adj} {noun}".
	title func(r *rand.Rand) string
	// attrs adds kind-specific attributes.
	attrs func(r *rand.Rand, title string) map[string]string
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func apparelSizes() axis {
	return axis{name: "Size", values: []string{"XS", "S", "M", "L", "XL", "XXL"}, min: 3, max: 6}
}

func shoeSizes() axis {
	return axis{name: "Size", values: []string{"EU 37", "EU 38", "EU 39", "EU 40", "EU 41", "EU 42", "EU 43", "EU 44", "EU 45", "EU 46"}, min: 4, max: 8}
}

func kinds() []kind {
	return []kind{
		// Apparel.
		{
			top: "Apparel", leaf: "T-shirts", code: "TEE", icon: "tee", count: 16,
			nouns:     []string{"Crew Tee", "V-Neck Tee", "Pocket Tee", "Long-Sleeve Tee", "Raglan Tee", "Henley", "Boxy Tee"},
			adjs:      []string{"Everyday", "Heavyweight", "Slub", "Vintage Wash", "Relaxed", "Essential", "Garment-Dyed", "Classic", "Lightweight", "Weekend"},
			brands:    []string{"Northbound", "Fieldhouse", "Common Thread", "Alder & Co."},
			materials: []string{"100% organic cotton", "Cotton-modal blend", "Recycled cotton", "Pima cotton", "Hemp-cotton blend"},
			colours:   []string{"Black", "White", "Heather grey", "Navy", "Olive", "Rust", "Sky blue", "Sand"}, maxColours: 3,
			axes:  []axis{apparelSizes()},
			price: [2]int64{1900, 3900},
			intro: []string{
				"The {title} from {brand} is cut from {material} with a fit that works on its own or under a shirt.",
				"A wardrobe staple done properly: the {title} is made of {material} and finished by {brand} in Portugal.",
				"{brand}'s {title} pairs soft {material} with a clean, modern cut.",
			},
			features: []string{
				"Pre-shrunk and garment-washed, it feels broken-in from the first wear.",
				"Double-stitched hems keep their shape wash after wash.",
				"A taped neckline stops the collar from stretching out.",
				"Side seams are placed slightly forward so the tee hangs straight.",
				"Machine wash at 30°C and hang to dry.",
				"The fabric is OEKO-TEX certified and dyed without harsh chemicals.",
			},
			attrs: func(r *rand.Rand, _ string) map[string]string {
				return map[string]string{"fit": pick(r, []string{"Regular", "Relaxed", "Slim"})}
			},
		},
		{
			top: "Apparel", leaf: "Hoodies & sweatshirts", code: "HOOD", icon: "hoodie", count: 12,
			nouns:     []string{"Pullover Hoodie", "Zip Hoodie", "Crewneck Sweatshirt", "Half-Zip Fleece"},
			adjs:      []string{"Midweight", "Oversized", "Heritage", "Cloud", "Trail", "Weekend", "Everyday", "Varsity"},
			brands:    []string{"Northbound", "Fieldhouse", "Kettle Peak"},
			materials: []string{"Brushed cotton fleece", "French terry cotton", "Recycled polyester fleece", "Organic cotton loopback"},
			colours:   []string{"Black", "Heather grey", "Navy", "Forest green", "Burgundy", "Mustard", "Cream"}, maxColours: 3,
			axes:  []axis{apparelSizes()},
			price: [2]int64{4900, 8900},
			intro: []string{
				"The {title} is made from heavy {material} that keeps you warm without bulk.",
				"Built for cold mornings, {brand}'s {title} is knitted from {material}.",
			},
			features: []string{
				"Ribbed cuffs and hem hold their shape and keep the draughts out.",
				"The kangaroo pocket is lined for cold hands.",
				"A double-layer hood with flat drawcords sits neatly when down.",
				"Dropped shoulders give it a relaxed, easy fit.",
				"Wash inside out to keep the surface soft.",
			},
		},
		{
			top: "Apparel", leaf: "Jackets", code: "JKT", icon: "jacket", count: 8,
			nouns:     []string{"Rain Shell", "Chore Jacket", "Quilted Vest", "Puffer Jacket", "Field Jacket", "Anorak"},
			adjs:      []string{"Packable", "Insulated", "Lightweight", "Storm", "Workwear", "City", "Coastal"},
			brands:    []string{"Kettle Peak", "Fieldhouse", "Harbour Works"},
			materials: []string{"Recycled nylon", "Waxed cotton canvas", "Cotton twill", "Ripstop polyester"},
			colours:   []string{"Black", "Navy", "Olive", "Tan", "Rust", "Slate"}, maxColours: 2,
			axes:  []axis{apparelSizes()},
			price: [2]int64{7900, 19900},
			intro: []string{
				"The {title} is {brand}'s answer to changeable weather, made of {material}.",
				"Made of {material}, the {title} is the jacket you reach for from March to November.",
			},
			features: []string{
				"Taped seams and a storm flap keep the rain out.",
				"Two hand pockets and an inside zip pocket hold the essentials.",
				"It packs into its own chest pocket.",
				"An adjustable hem and cuffs seal in warmth.",
				"Reinforced elbows take years of wear.",
				"Every piece is covered by our lifetime repair service.",
			},
		},
		// Shoes.
		{
			top: "Shoes", leaf: "Sneakers", code: "SNK", icon: "sneaker", count: 12,
			nouns:     []string{"Court Sneaker", "Runner", "Low-Top", "Trail Runner", "Slip-On", "High-Top"},
			adjs:      []string{"Classic", "Everyday", "Lightweight", "Retro", "Cloud", "Street", "Minimal"},
			brands:    []string{"Strider", "Paloma", "Northbound"},
			materials: []string{"Canvas", "Full-grain leather", "Recycled knit", "Suede"},
			colours:   []string{"White", "Black", "Navy", "Sand", "Red", "Sage"}, maxColours: 2,
			axes:  []axis{shoeSizes()},
			price: [2]int64{5900, 13900},
			intro: []string{
				"The {title} by {brand} has a {material} upper on a cushioned rubber sole.",
				"Light and comfortable from the first step, the {title} is made of {material}.",
			},
			features: []string{
				"A removable cork footbed moulds to your foot.",
				"The vulcanised sole is stitched, not just glued, so it can be resoled.",
				"Padded collars and tongues stop rubbing on long days.",
				"Fits true to size; go half a size down if between sizes.",
				"Laces are made from recycled bottles.",
			},
		},
		{
			top: "Shoes", leaf: "Boots", code: "BOOT", icon: "boot", count: 8,
			nouns:     []string{"Chelsea Boot", "Hiking Boot", "Lace-Up Boot", "Chukka Boot", "Work Boot"},
			adjs:      []string{"Heritage", "All-Weather", "Rugged", "Classic", "Waterproof", "Urban"},
			brands:    []string{"Strider", "Harbour Works", "Kettle Peak"},
			materials: []string{"Oiled leather", "Suede", "Waxed nubuck", "Full-grain leather"},
			colours:   []string{"Brown", "Black", "Tan", "Burgundy"}, maxColours: 2,
			axes:  []axis{shoeSizes()},
			price: [2]int64{9900, 21900},
			intro: []string{
				"Goodyear-welted and built to last, the {title} is made from {material}.",
				"{brand}'s {title} combines {material} with a grippy lugged sole.",
			},
			features: []string{
				"A waterproof membrane keeps feet dry in wet weather.",
				"The leather softens and takes on a patina with wear.",
				"Steel shanks give support on uneven ground.",
				"Resoleable: send them back to us when the sole wears out.",
				"Pull tabs front and back make them easy to put on.",
			},
		},
		// Home & kitchen.
		{
			top: "Home & kitchen", leaf: "Cookware", code: "COOK", icon: "pan", count: 10,
			nouns:     []string{"Skillet", "Dutch Oven", "Saucepan", "Wok", "Sauté Pan", "Stockpot", "Griddle"},
			adjs:      []string{"Pro", "Heritage", "Everyday", "Chef's", "Classic", "Signature", "Deep"},
			brands:    []string{"Forge & Hearth", "Maison Lune", "Ironbark"},
			materials: []string{"Cast iron", "Carbon steel", "Stainless steel", "Enamelled cast iron"},
			colours:   []string{"Matte black", "Stainless", "Red", "Sage", "Cream", "Navy"}, maxColours: 1,
			axes:  []axis{{name: "Size", values: []string{"20 cm", "24 cm", "28 cm", "32 cm"}, pct: []int64{100, 120, 145, 175}, min: 1, max: 3}},
			price: [2]int64{2900, 14900},
			intro: []string{
				"The {title} from {brand} is {material} built to go from hob to oven to table.",
				"Heavy, even-heating {material}: the {title} is the pan you will hand down.",
			},
			features: []string{
				"Works on gas, electric, ceramic and induction hobs.",
				"Oven-safe to 260°C, lid included.",
				"Comes pre-seasoned and gets better with every use.",
				"The riveted handle stays cool on the hob.",
				"Dishwasher safe, although a hand wash keeps it looking new.",
			},
		},
		{
			top: "Home & kitchen", leaf: "Tableware", code: "TBL", icon: "mug", count: 12,
			nouns:     []string{"Mug", "Dinner Plates", "Pasta Bowls", "Tumblers", "Serving Platter", "Espresso Cups", "Side Plates"},
			adjs:      []string{"Speckled", "Hand-Glazed", "Ribbed", "Reactive Glaze", "Classic", "Matte", "Rustic"},
			brands:    []string{"Maison Lune", "Kiln & Co.", "Tidewater"},
			materials: []string{"Stoneware", "Porcelain", "Recycled glass", "Earthenware"},
			colours:   []string{"White", "Sage", "Terracotta", "Slate", "Cream", "Blush", "Blue"}, maxColours: 3,
			axes:  []axis{{name: "Pack", values: []string{"Single", "Set of 2", "Set of 4"}, pct: []int64{100, 185, 340}, min: 1, max: 3}},
			price: [2]int64{1200, 4900},
			intro: []string{
				"{title} by {brand}: {material}, thrown and glazed by hand.",
				"From a small family pottery, {title} in {material} with a soft satin glaze.",
			},
			features: []string{
				"Every piece is slightly different: the glaze pools and breaks its own way.",
				"Dishwasher and microwave safe.",
				"Stacks neatly to save cupboard space.",
				"Chip-resistant rims stand up to everyday use.",
				"Lead and cadmium free.",
			},
		},
		{
			top: "Home & kitchen", leaf: "Home textiles", code: "TXT", icon: "cushion", count: 10,
			nouns:     []string{"Throw", "Cushion Cover", "Bath Towel", "Table Runner", "Tea Towels", "Duvet Cover"},
			adjs:      []string{"Waffle", "Stonewashed", "Herringbone", "Striped", "Classic", "Gauze", "Everyday"},
			brands:    []string{"Tidewater", "Maison Lune", "Loomhouse"},
			materials: []string{"Linen from European flax", "Organic cotton", "Merino wool", "Cotton-linen blend"},
			colours:   []string{"Natural", "Sage", "Terracotta", "Slate", "Mustard", "Blush", "White"}, maxColours: 3,
			price: [2]int64{1900, 8900},
			intro: []string{
				"Soft from the first use, the {title} by {brand} is woven from {material}.",
				"The {title} is {material}, stonewashed for a lived-in look.",
			},
			features: []string{
				"It gets softer with every wash.",
				"Woven in a family mill that has run since 1921.",
				"Machine washable at 40°C.",
				"Dyed with low-impact, skin-friendly dyes.",
				"Finished with hand-tied tassels.",
			},
		},
		// Books.
		{
			top: "Books", leaf: "Fiction", code: "BKF", icon: "book", count: 14,
			brands: []string{"Lantern House", "Kestrel Books", "Ink & Quill"},
			tints:  []string{"#7c2d12", "#1e3a8a", "#14532d", "#581c87", "#0f766e", "#9f1239", "#334155"},
			axes:   []axis{bookFormats()},
			price:  [2]int64{999, 1999},
			title:  fictionTitle,
			intro: []string{
				"{title} is a novel about memory, family and the places that shape us.",
				"Moving and funny by turns, {title} follows three generations of one family over a single summer.",
				"A slow-burning mystery set on a remote coast, {title} is impossible to put down.",
			},
			features: []string{
				"A word-of-mouth favourite with book clubs.",
				"Shortlisted for a major debut prize.",
				"Published by {brand}.",
				"Includes a reading group guide.",
				"Now in paperback, with a new afterword by the author.",
			},
			attrs: bookAttrs,
		},
		{
			top: "Books", leaf: "Cookbooks", code: "BKC", icon: "book", count: 10,
			brands: []string{"Lantern House", "Saltbox Press"},
			tints:  []string{"#b45309", "#15803d", "#b91c1c", "#0e7490", "#a16207"},
			axes:   []axis{{name: "Format", values: []string{"Hardcover"}, min: 1, max: 1}},
			price:  [2]int64{2200, 3500},
			title:  cookbookTitle,
			intro: []string{
				"{title} gathers more than 100 recipes for everyday cooking, each tested in a home kitchen.",
				"From quick weeknight dinners to long Sunday lunches, {title} makes cooking feel easy.",
			},
			features: []string{
				"Every recipe is photographed.",
				"Ingredients are listed in metric and imperial.",
				"A chapter of pantry staples and sauces anchors the book.",
				"Lay-flat binding stays open on the counter.",
			},
			attrs: bookAttrs,
		},
		{
			top: "Books", leaf: "Non-fiction", code: "BKN", icon: "book", count: 10,
			brands: []string{"Kestrel Books", "Ink & Quill", "Meridian"},
			tints:  []string{"#1f2937", "#312e81", "#065f46", "#92400e", "#831843"},
			axes:   []axis{bookFormats()},
			price:  [2]int64{1299, 2499},
			title:  nonFictionTitle,
			intro: []string{
				"In {title}, an award-winning writer takes an everyday subject and finds the world inside it.",
				"{title} is a curious, generous and deeply researched book.",
			},
			features: []string{
				"With maps, notes and an index.",
				"A bestseller in its first year.",
				"Full of stories you will want to tell at dinner.",
				"Published by {brand}.",
			},
			attrs: bookAttrs,
		},
		// Electronics accessories.
		{
			top: "Electronics accessories", leaf: "Phone cases", code: "CASE", icon: "phone", count: 10,
			nouns:     []string{"Phone Case", "Folio Case", "Wallet Case", "Rugged Case", "MagSafe Case", "Slim Case"},
			adjs:      []string{"Everyday", "Ultra-Thin", "Shockproof", "Eco", "Grip", "Classic"},
			brands:    []string{"Voltline", "Carry", "Nimbus"},
			materials: []string{"Liquid silicone", "Recycled TPU", "Vegetable-tanned leather", "Plant-based bioplastic"},
			colours:   []string{"Black", "Clear", "Navy", "Sage", "Blush", "Red", "Lavender"}, maxColours: 3,
			axes:  []axis{{name: "Model", values: []string{"iPhone 15", "iPhone 15 Pro", "iPhone 16", "iPhone 16 Pro", "Galaxy S24", "Pixel 9"}, min: 2, max: 4}},
			price: [2]int64{1490, 3990},
			intro: []string{
				"The {title} wraps your phone in {material} without adding bulk.",
				"{brand}'s {title} is made of {material} and drop-tested from two metres.",
			},
			features: []string{
				"Raised edges protect the screen and the camera lenses.",
				"Works with wireless charging.",
				"Tactile buttons stay easy to press.",
				"A microfibre lining stops scratches.",
				"100% compostable packaging.",
			},
		},
		{
			top: "Electronics accessories", leaf: "Chargers & cables", code: "CBL", icon: "charger", count: 8,
			nouns:   []string{"USB-C to USB-C Cable", "USB-C to Lightning Cable", "Braided USB-C Cable", "USB-A to USB-C Cable"},
			adjs:    []string{"Braided", "Fast-Charge", "Durable", "Flat", "100W"},
			brands:  []string{"Voltline", "Nimbus"},
			colours: []string{"Black", "White", "Graphite", "Sky blue"}, maxColours: 2,
			axes:  []axis{{name: "Length", values: []string{"0.5 m", "1 m", "2 m", "3 m"}, pct: []int64{90, 100, 130, 160}, min: 2, max: 3}},
			price: [2]int64{990, 2490},
			intro: []string{
				"The {title} charges and syncs at full speed and survives being bent 30,000 times.",
				"A cable that lasts: the {title} from {brand} has reinforced ends and a braided jacket.",
			},
			features: []string{
				"Supports USB Power Delivery up to 100 W.",
				"Data transfer up to 480 Mbit/s.",
				"A silicone tie keeps it tidy in your bag.",
				"Two-year warranty.",
			},
		},
		{
			top: "Electronics accessories", leaf: "Chargers & cables", code: "CHG", icon: "charger", count: 8,
			nouns:   []string{"GaN Charger", "Wireless Charging Pad", "Power Bank", "Car Charger", "Charging Stand", "Travel Adapter"},
			adjs:    []string{"65W", "Compact", "Dual-Port", "Fast", "Slim", "30W"},
			brands:  []string{"Voltline", "Nimbus", "Carry"},
			colours: []string{"Black", "White", "Graphite"}, maxColours: 2,
			price: [2]int64{1990, 5990},
			intro: []string{
				"The {title} from {brand} keeps your phone, tablet and earbuds topped up.",
				"Compact and efficient, the {title} replaces a drawer full of old chargers.",
			},
			features: []string{
				"Intelligent power sharing splits output between devices.",
				"Over-voltage, over-current and temperature protection built in.",
				"Certified to EU safety standards.",
				"The housing is made with 50% recycled plastic.",
				"Two-year warranty.",
			},
		},
		{
			top: "Electronics accessories", leaf: "Headphones", code: "AUD", icon: "headphones", count: 8,
			nouns:   []string{"Wireless Earbuds", "Over-Ear Headphones", "Sport Earbuds", "Studio Headphones", "On-Ear Headphones"},
			adjs:    []string{"Noise-Cancelling", "Open", "Everyday", "Pro", "Lightweight", "Studio"},
			brands:  []string{"Sonora", "Nimbus"},
			colours: []string{"Black", "White", "Navy", "Sand", "Sage"}, maxColours: 3,
			price: [2]int64{2990, 24900},
			intro: []string{
				"The {title} from {brand} deliver clear, balanced sound and up to 30 hours of battery life.",
				"Tuned by sound engineers, the {title} sound as good on the train as in the studio.",
			},
			features: []string{
				"Active noise cancelling with a transparency mode.",
				"Bluetooth 5.3 with multipoint pairing.",
				"Ten minutes of charging gives three hours of listening.",
				"Replaceable ear cushions and battery.",
				"Comes with a recycled-fabric carrying case.",
			},
		},
		// Outdoor.
		{
			top: "Outdoor", leaf: "Camping", code: "CMP", icon: "tent", count: 8,
			nouns:     []string{"Backpacking Tent", "Sleeping Bag", "Sleeping Pad", "Camp Hammock", "Tarp Shelter"},
			adjs:      []string{"Ultralight", "Three-Season", "Trekker", "Basecamp", "Compact", "Alpine"},
			brands:    []string{"Kettle Peak", "Wildfell", "Summit & Vale"},
			materials: []string{"Ripstop nylon", "Recycled polyester", "Silnylon", "Responsibly sourced down"},
			colours:   []string{"Forest green", "Orange", "Slate", "Ochre"}, maxColours: 2,
			axes:  []axis{{name: "Size", values: []string{"Regular", "Long", "Wide"}, pct: []int64{100, 112, 120}, min: 1, max: 2}},
			price: [2]int64{5900, 32900},
			intro: []string{
				"The {title} from {brand} is made of {material} and built for nights far from the car park.",
				"Light, tough and packable, the {title} is ready for a long weekend in the hills.",
			},
			features: []string{
				"Packs small and weighs little.",
				"Every seam is taped and checked by hand.",
				"PFC-free water repellent finish.",
				"Comes with a stuff sack and repair kit.",
				"Tested for a season in the Scottish Highlands.",
			},
		},
		{
			top: "Outdoor", leaf: "Camping", code: "CKT", icon: "lantern", count: 10,
			nouns:   []string{"Camp Lantern", "Headlamp", "Camp Stove", "Insulated Bottle", "Enamel Mug", "Camp Chair"},
			adjs:    []string{"Basecamp", "Rugged", "Ultralight", "Classic", "Trail", "Expedition"},
			brands:  []string{"Wildfell", "Kettle Peak", "Summit & Vale"},
			colours: []string{"Forest green", "Orange", "Black", "Sand", "Sky blue"}, maxColours: 3,
			price: [2]int64{1490, 8900},
			intro: []string{
				"The {title} from {brand} earns its place in the pack on every trip.",
				"Simple, tough and reliable, the {title} is camp kit you will not have to think about.",
			},
			features: []string{
				"Built to survive years of being thrown in the car boot.",
				"Light enough for backpacking, tough enough for family camping.",
				"Tested on trips from the Alps to the Lake District.",
				"Backed by a five-year warranty.",
				"Spare parts are available for every component.",
			},
		},
		{
			top: "Outdoor", leaf: "Hiking", code: "PACK", icon: "backpack", count: 8,
			nouns:     []string{"Daypack", "Hiking Backpack", "Hip Pack", "Roll-Top Pack"},
			adjs:      []string{"Trail", "Everyday", "Alpine", "Waterproof", "Lightweight", "Fastpack"},
			brands:    []string{"Wildfell", "Summit & Vale", "Carry"},
			materials: []string{"Recycled nylon", "Waxed canvas", "Ripstop polyester"},
			colours:   []string{"Black", "Forest green", "Rust", "Navy", "Ochre"}, maxColours: 3,
			axes:  []axis{{name: "Volume", values: []string{"18 L", "24 L", "30 L", "40 L"}, pct: []int64{100, 115, 130, 150}, min: 1, max: 3}},
			price: [2]int64{3900, 14900},
			intro: []string{
				"The {title} from {brand} carries a day's kit comfortably, in {material}.",
				"Made of {material}, the {title} moves from trail to commute without missing a beat.",
			},
			features: []string{
				"A ventilated back panel keeps you cool on the climbs.",
				"Side pockets fit a one-litre bottle.",
				"Hydration sleeve and hose port.",
				"Padded, adjustable hip belt.",
				"Reflective details for dusk.",
			},
		},
		{
			top: "Outdoor", leaf: "Hiking", code: "HKA", icon: "sock", count: 8,
			nouns:     []string{"Hiking Socks", "Sun Hat", "Liner Gloves", "Neck Gaiter", "Beanie"},
			adjs:      []string{"Merino", "Lightweight", "Cushioned", "Packable", "Trail", "Expedition"},
			brands:    []string{"Wildfell", "Northbound"},
			materials: []string{"Merino wool", "Recycled polyester", "Organic cotton"},
			colours:   []string{"Charcoal", "Olive", "Rust", "Navy", "Ochre"}, maxColours: 2,
			axes:  []axis{{name: "Size", values: []string{"S", "M", "L", "XL"}, min: 2, max: 4}},
			price: [2]int64{1490, 5900},
			intro: []string{
				"The {title} from {brand} is made of {material} for long days on the trail.",
				"Small things make long walks better: the {title} is one of them.",
			},
			features: []string{
				"Naturally odour-resistant.",
				"Reinforced where it wears fastest.",
				"Quick-drying and light.",
				"Guaranteed for life: if it wears through, we replace it.",
			},
		},
		// Beauty.
		{
			top: "Beauty", leaf: "Skincare", code: "SKN", icon: "bottle", count: 12,
			nouns:  []string{"Face Cream", "Vitamin C Serum", "Gentle Cleanser", "SPF 50 Sunscreen", "Hyaluronic Serum", "Night Balm", "Lip Balm"},
			adjs:   []string{"Hydrating", "Daily", "Calming", "Brightening", "Barrier-Repair", "Lightweight", "Rich"},
			brands: []string{"Bloom & Co.", "Verdant", "Aurelia"},
			tints:  []string{"#fef3c7", "#fce7f3", "#ecfccb", "#e0f2fe", "#f5f5f4"},
			axes:   []axis{{name: "Size", values: []string{"15 ml", "30 ml", "50 ml", "100 ml"}, pct: []int64{60, 100, 150, 240}, min: 1, max: 2}},
			price:  [2]int64{890, 4900},
			intro: []string{
				"The {title} from {brand} is a short-ingredient formula that suits sensitive skin.",
				"{brand}'s {title} absorbs quickly and leaves skin soft, never sticky.",
			},
			features: []string{
				"Fragrance-free and dermatologist tested.",
				"Vegan and never tested on animals.",
				"In a recyclable glass bottle with an airless pump.",
				"Apply morning and evening to clean skin.",
				"Made in small batches in France.",
			},
			attrs: func(r *rand.Rand, _ string) map[string]string {
				return map[string]string{"skin_type": pick(r, []string{"All", "Dry", "Oily", "Sensitive", "Combination"})}
			},
		},
		{
			top: "Beauty", leaf: "Bath & body", code: "BTH", icon: "soap", count: 10,
			nouns:  []string{"Hand Wash", "Body Lotion", "Bath Salts", "Shampoo Bar", "Body Oil", "Soap Bar", "Hand Cream"},
			adjs:   []string{"Nourishing", "Botanical", "Cold-Process", "Mineral", "Everyday", "Restoring"},
			brands: []string{"Bloom & Co.", "Verdant", "Saltmarsh"},
			tints:  []string{"#d9f99d", "#fde68a", "#bae6fd", "#fbcfe8", "#e9d5ff"},
			axes:   []axis{{name: "Scent", values: []string{"Lavender", "Cedar & Sage", "Citrus", "Rose Geranium", "Sea Salt", "Unscented"}, min: 2, max: 4}},
			price:  [2]int64{690, 2900},
			intro: []string{
				"The {title} from {brand} is made with cold-pressed plant oils and essential oils.",
				"{brand}'s {title} turns the daily routine into a small ritual.",
			},
			features: []string{
				"Free from sulphates, parabens and palm oil.",
				"Refill pouches available.",
				"Made by hand in small batches.",
				"Gentle enough for the whole family.",
			},
		},
		{
			top: "Beauty", leaf: "Fragrance", code: "FRG", icon: "perfume", count: 6,
			brands: []string{"Aurelia", "Maison Lune"},
			tints:  []string{"#fcd34d", "#f9a8d4", "#a7f3d0", "#c4b5fd", "#fdba74"},
			axes:   []axis{{name: "Size", values: []string{"30 ml", "50 ml", "100 ml"}, pct: []int64{100, 150, 230}, min: 2, max: 3}},
			price:  [2]int64{3900, 7900},
			title: func(r *rand.Rand) string {
				return pick(r, []string{"Fig Leaf", "Salt & Amber", "Night Jasmine", "Cedar Smoke", "Orange Blossom", "Vetiver Rain", "White Tea", "Black Pepper & Rose", "Sea Fennel"}) +
					" " + pick(r, []string{"Eau de Parfum", "Eau de Toilette"})
			},
			intro: []string{
				"{title} opens bright and settles into a warm, skin-close base.",
				"A modern, gender-free scent, {title} is made in Grasse by {brand}.",
			},
			features: []string{
				"Lasts six to eight hours on skin.",
				"Made with natural and safe synthetic materials.",
				"The bottle is refillable.",
				"Discovery samples are available on request.",
			},
			attrs: func(r *rand.Rand, _ string) map[string]string {
				return map[string]string{"scent_family": pick(r, []string{"Woody", "Floral", "Citrus", "Fresh", "Amber"})}
			},
		},
		// Toys & games.
		{
			top: "Toys & games", leaf: "Board games", code: "GAME", icon: "dice", count: 10,
			brands: []string{"Meeple Works", "Lantern Games", "Tinderbox"},
			tints:  []string{"#ef4444", "#f59e0b", "#10b981", "#3b82f6", "#8b5cf6", "#ec4899"},
			price:  [2]int64{1990, 5990},
			title: func(r *rand.Rand) string {
				return pick(r, []string{"Harbour", "Tile", "Lantern", "Sky", "Emerald", "Railway", "Garden", "Moon", "Clockwork", "Spice", "Glacier", "Orchard"}) +
					" " + pick(r, []string{"Kingdoms", "Lights", "Traders", "Builders", "Quest", "Heist", "Voyage", "Duel", "Expedition", "Festival", "Tycoon"})
			},
			intro: []string{
				"{title} is a family game of clever choices and friendly rivalry.",
				"Quick to learn and hard to master, {title} is a new favourite for game night.",
			},
			features: []string{
				"Beautifully illustrated, with wooden pieces.",
				"A solo mode is included.",
				"Rules fit on two pages.",
				"Winner of a family game award.",
				"Plastic-free packaging.",
			},
			attrs: func(r *rand.Rand, _ string) map[string]string {
				return map[string]string{
					"players":  pick(r, []string{"1-4", "2-4", "2-5", "2-6", "3-8"}),
					"age":      pick(r, []string{"6+", "8+", "10+", "12+", "14+"}),
					"playtime": pick(r, []string{"20 min", "30 min", "45 min", "60 min", "90 min"}),
				}
			},
		},
		{
			top: "Toys & games", leaf: "Puzzles", code: "PZL", icon: "puzzle", count: 8,
			brands: []string{"Tinderbox", "Meeple Works"},
			tints:  []string{"#0ea5e9", "#22c55e", "#f97316", "#a855f7", "#e11d48"},
			axes:   []axis{{name: "Pieces", values: []string{"500", "1000", "1500"}, pct: []int64{100, 130, 160}, min: 1, max: 2}},
			price:  [2]int64{1490, 2990},
			title: func(r *rand.Rand) string {
				return pick(r, []string{"Alpine Lake", "Night Market", "Botanical Garden", "Harbour at Dusk", "Map of the Stars", "Coral Reef", "The Old Library", "Vintage Postcards", "Mushroom Forest", "Bookshop Cats"}) + " Jigsaw Puzzle"
			},
			intro: []string{
				"{title}: a detailed, colourful illustration printed on thick, recycled board.",
				"Settle in with {title}, commissioned from an independent illustrator.",
			},
			features: []string{
				"Every piece is a unique shape, with no loose dust.",
				"Comes with a poster of the finished picture.",
				"Printed with vegetable inks.",
				"Fits together snugly and lifts in sections.",
			},
		},
		{
			top: "Toys & games", leaf: "Toys", code: "TOY", icon: "bear", count: 10,
			nouns:   []string{"Plush Fox", "Plush Bear", "Stacking Rainbow", "Building Blocks", "Pull-Along Duck", "Marble Run", "Wooden Train Set", "Shape Sorter"},
			adjs:    []string{"Classic", "Little", "Cosy", "Deluxe", "Wooden", "Organic"},
			brands:  []string{"Tinderbox", "Little Acorn", "Pebble & Pine"},
			colours: []string{"Ochre", "Sage", "Blush", "Sky blue", "Terracotta"}, maxColours: 2,
			price: [2]int64{1490, 6900},
			intro: []string{
				"The {title} from {brand} is designed with early-years teachers and built to be handed down.",
				"Made to be played with for years, the {title} is a gift that outlasts the wrapping paper.",
			},
			features: []string{
				"Meets EN 71 toy safety standards.",
				"Encourages open-ended, imaginative play.",
				"Made from FSC-certified wood, organic cotton and water-based paints.",
				"Comes in a gift-ready box.",
			},
			attrs: func(r *rand.Rand, _ string) map[string]string {
				return map[string]string{"age": pick(r, []string{"0+", "12 months+", "18 months+", "3+", "5+"})}
			},
		},
		// Coffee & tea.
		{
			top: "Coffee & tea", leaf: "Coffee", code: "COF", icon: "coffee", count: 14,
			brands: []string{"Ember Roasters", "Little Owl Coffee", "Saltbox Roastery"},
			tints:  []string{"#b08968", "#7f5539", "#ddb892", "#9c6644"},
			axes: []axis{
				{name: "Weight", values: []string{"250 g", "500 g", "1 kg"}, pct: []int64{100, 185, 340}, min: 1, max: 3},
				{name: "Grind", values: []string{"Whole bean", "Filter", "Espresso", "Cafetière"}, min: 1, max: 4},
			},
			price: [2]int64{890, 1690},
			title: coffeeTitle,
			intro: []string{
				"{title} is roasted in small batches by {brand} to bring out its sweetness.",
				"A cup to look forward to: {title} is sourced directly from the farm.",
			},
			features: []string{
				"We roast every Monday and Thursday and ship within 48 hours.",
				"Great as filter or espresso.",
				"Packed in a compostable, resealable bag with a one-way valve.",
				"We pay growers well above the Fairtrade minimum.",
			},
			attrs: func(r *rand.Rand, title string) map[string]string {
				origin := "Blend"
				for _, c := range []string{"Ethiopia", "Kenya", "Colombia", "Brazil", "Guatemala", "Costa Rica", "Rwanda", "Peru", "Honduras", "El Salvador", "Burundi"} {
					if strings.HasPrefix(title, c) {
						origin = c
					}
				}
				if strings.HasPrefix(title, "Sumatra") {
					origin = "Indonesia"
				}
				return map[string]string{
					"origin":  origin,
					"roast":   pick(r, []string{"Light", "Medium", "Medium-dark", "Dark"}),
					"process": pick(r, []string{"Washed", "Natural", "Honey"}),
					"notes":   pick(r, []string{"Chocolate, hazelnut", "Blueberry, jasmine", "Red apple, caramel", "Peach, black tea", "Cherry, cocoa", "Brown sugar, orange"}),
				}
			},
		},
		{
			top: "Coffee & tea", leaf: "Tea", code: "TEA", icon: "teacup", count: 12,
			brands: []string{"Two Leaves", "Kettle & Steep"},
			tints:  []string{"#65a30d", "#a16207", "#15803d", "#be123c", "#92400e"},
			axes:   []axis{{name: "Weight", values: []string{"50 g", "100 g", "250 g"}, pct: []int64{100, 180, 400}, min: 1, max: 3}},
			price:  [2]int64{590, 1490},
			title: func(r *rand.Rand) string {
				return pick(r, teas())[0] + pick(r, []string{"", " Loose Leaf", " Tea"})
			},
			intro: []string{
				"{title} is a whole-leaf tea from a single estate, packed by {brand}.",
				"Fragrant and smooth, {title} is a cup for any hour of the day.",
			},
			features: []string{
				"Brew at 85-95°C for three minutes.",
				"Organic and hand-picked.",
				"Packed in a recyclable tin.",
				"Each 50 g makes about 25 cups.",
			},
			attrs: func(r *rand.Rand, title string) map[string]string {
				for _, t := range teas() {
					if strings.HasPrefix(title, t[0]) {
						return map[string]string{"tea_type": t[1]}
					}
				}
				return nil
			},
		},
		{
			top: "Coffee & tea", leaf: "Brewing gear", code: "BRW", icon: "kettle", count: 10,
			nouns:     []string{"Pour-Over Dripper", "Gooseneck Kettle", "Hand Grinder", "French Press", "Glass Teapot", "Milk Frother", "Cold Brew Jar", "Coffee Scale"},
			adjs:      []string{"Classic", "Compact", "Barista", "Precision", "Everyday", "Studio"},
			brands:    []string{"Ember Roasters", "Forge & Hearth", "Kettle & Steep"},
			materials: []string{"Borosilicate glass", "Stainless steel", "Ceramic", "Copper"},
			colours:   []string{"Matte black", "White", "Copper", "Stainless", "Sage"}, maxColours: 2,
			price: [2]int64{1990, 12900},
			intro: []string{
				"The {title} from {brand} makes a better cup at home, in {material}.",
				"Precise and good-looking, the {title} is made of {material}.",
			},
			features: []string{
				"Dishwasher safe parts.",
				"A brew guide is printed inside the box.",
				"Backed by a three-year warranty.",
				"Spare parts are available for every component.",
			},
		},
	}
}

func bookFormats() axis {
	return axis{name: "Format", values: []string{"Paperback", "Hardcover"}, pct: []int64{100, 170}, min: 1, max: 2}
}

func author(r *rand.Rand) string {
	first := []string{"Ada", "Marta", "Tomas", "Ines", "Hugo", "Lena", "Samir", "Clara", "Jonah", "Nadia", "Oskar", "Priya", "Felix", "Yuki", "Rosa", "Elias"}
	last := []string{"Lindqvist", "Moreau", "Okafor", "Castellano", "Brennan", "Haddad", "Novak", "Ferreira", "Whitlock", "Sato", "Adeyemi", "Varga", "Holm", "Marlowe"}
	return pick(r, first) + " " + pick(r, last)
}

func bookAttrs(r *rand.Rand, _ string) map[string]string {
	return map[string]string{
		"author":   author(r),
		"pages":    fmt.Sprint(160 + 8*r.IntN(60)),
		"language": pick(r, []string{"English", "English", "English", "French", "German"}),
	}
}

func fictionTitle(r *rand.Rand) string {
	adj := []string{"Silent", "Salt", "Paper", "Winter", "Last", "Hidden", "Glass", "Crimson", "Quiet", "Drowned", "Northern", "Borrowed", "Lantern"}
	noun := []string{"Orchard", "Harbour", "Lighthouse", "Cartographer", "Garden", "Archive", "Summer", "Tide", "Clockmaker", "Island", "Letters", "River", "Beekeeper"}
	place := []string{"Lisbon", "the Fens", "Marrakesh", "Kyoto", "Trieste", "the North", "Valparaíso", "the Marsh"}
	switch r.IntN(4) {
	case 0:
		return "The " + pick(r, adj) + " " + pick(r, noun)
	case 1:
		return "The " + pick(r, noun) + " of " + pick(r, place)
	case 2:
		return "A " + pick(r, adj) + " " + pick(r, noun)
	}
	n := pick(r, noun)
	if !strings.HasSuffix(n, "s") {
		n += "s"
	}
	return n + " of " + pick(r, place)
}

func cookbookTitle(r *rand.Rand) string {
	cuisine := []string{"Italian", "Levantine", "Japanese", "Nordic", "Mexican", "Persian", "Basque", "Korean", "Vegetable", "Sri Lankan"}
	switch r.IntN(4) {
	case 0:
		return "Simple " + pick(r, cuisine) + " Cooking"
	case 1:
		return "The " + pick(r, cuisine) + " Table"
	case 2:
		return "Weeknight " + pick(r, cuisine)
	}
	return "The " + pick(r, cuisine) + " Pantry"
}

func nonFictionTitle(r *rand.Rand) string {
	thing := []string{"Salt", "Maps", "Bread", "Sleep", "Cities", "Time", "Colour", "Silence", "Trees", "Rivers", "Bees", "Clouds"}
	gerund := []string{"Walking", "Noticing", "Repair", "Slow Travel", "Listening", "Mending", "Gardening", "Getting Lost"}
	switch r.IntN(3) {
	case 0:
		return "A Short History of " + pick(r, thing)
	case 1:
		return "The Art of " + pick(r, gerund)
	}
	return "What " + pick(r, thing) + " Know"
}

func coffeeTitle(r *rand.Rand) string {
	origins := []string{"Ethiopia Yirgacheffe", "Ethiopia Guji", "Kenya Nyeri", "Colombia Huila", "Colombia Nariño", "Brazil Cerrado",
		"Guatemala Antigua", "Costa Rica Tarrazú", "Rwanda Nyamasheke", "Peru Cajamarca", "Honduras Santa Bárbara", "Sumatra Gayo",
		"El Salvador Santa Ana", "House Espresso Blend", "Breakfast Blend", "Swiss Water Decaf", "Burundi Kayanza"}
	return pick(r, origins)
}

// teas are tea names with their kind.
func teas() [][2]string {
	return [][2]string{
		{"Darjeeling First Flush", "Black"}, {"Assam Breakfast", "Black"}, {"Earl Grey Cream", "Black"}, {"Japanese Sencha", "Green"},
		{"Jasmine Pearls", "Green"}, {"Chamomile Blossom", "Herbal"}, {"Rooibos Vanilla", "Herbal"}, {"Moroccan Mint", "Green"},
		{"Milk Oolong", "Oolong"}, {"Lapsang Souchong", "Black"}, {"Chai Masala", "Black"}, {"Genmaicha", "Green"},
		{"Ceylon Orange Pekoe", "Black"}, {"Hibiscus Berry", "Herbal"}, {"Silver Needle", "White"}, {"Gunpowder Green", "Green"},
	}
}
