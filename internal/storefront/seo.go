package storefront

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/catalog"
)

// productLD is schema.org Product structured data (JSON-LD) with one Offer
// per variant. Structs, not maps, keep the output's key order stable.
type productLD struct {
	Context     string    `json:"@context"`
	Type        string    `json:"@type"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	URL         string    `json:"url"`
	Image       []string  `json:"image,omitempty"`
	SKU         string    `json:"sku,omitempty"`
	Offers      []offerLD `json:"offers"`
}

type offerLD struct {
	Type          string `json:"@type"`
	Name          string `json:"name,omitempty"`
	SKU           string `json:"sku"`
	Price         string `json:"price"`
	PriceCurrency string `json:"priceCurrency"`
	Availability  string `json:"availability"`
	ItemCondition string `json:"itemCondition"`
	URL           string `json:"url"`
}

func (s *Storefront) productLD(p catalog.Product, path string) productLD {
	ld := productLD{Context: "https://schema.org", Type: "Product", Name: p.Title, Description: clip(p.Description, 5000), URL: s.opts.BaseURL + path}
	for _, img := range p.Images {
		ld.Image = append(ld.Image, s.absolute(img.URL))
	}
	if len(p.Variants) == 1 {
		ld.SKU = p.Variants[0].SKU
	}
	ld.Offers = []offerLD{}
	for _, v := range p.Variants {
		o := offerLD{Type: "Offer", SKU: v.SKU, Price: v.Price.Decimal(), PriceCurrency: v.Price.Currency,
			Availability: "https://schema.org/OutOfStock", ItemCondition: "https://schema.org/NewCondition", URL: ld.URL}
		if len(p.Variants) > 1 {
			o.Name, o.URL = v.Title, ld.URL+"?variant="+v.ID
		}
		switch {
		case v.Available > 0:
			o.Availability = "https://schema.org/InStock"
		case v.Backorder:
			o.Availability = "https://schema.org/BackOrder"
		}
		ld.Offers = append(ld.Offers, o)
	}
	return ld
}

func (s *Storefront) absolute(u string) string {
	if strings.HasPrefix(u, "/") {
		return s.opts.BaseURL + u
	}
	return u
}

// sitemapMaxURLs is the sitemap protocol's limit per file.
const sitemapMaxURLs = 50000

type sitemapURL struct {
	Loc     string `xml:"loc"`
	LastMod string `xml:"lastmod,omitempty"`
}

type urlset struct {
	XMLName xml.Name     `xml:"http://www.sitemaps.org/schemas/sitemap/0.9 urlset"`
	URLs    []sitemapURL `xml:"url"`
}

// Sitemap serves GET /sitemap.xml: the home page, every category and every
// active product, with absolute URLs.
func (s *Storefront) Sitemap() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		cats, err := s.cat.Categories(ctx)
		if err != nil {
			return err
		}
		set := urlset{URLs: []sitemapURL{{Loc: s.opts.BaseURL + "/"}}}
		for _, c := range cats {
			set.URLs = append(set.URLs, sitemapURL{Loc: s.opts.BaseURL + "/c/" + c.Slug})
		}
		lq := catalog.ListQuery{Limit: 100, Sort: catalog.SortNewest}
		for len(set.URLs) < sitemapMaxURLs {
			page, err := s.cat.ListProducts(ctx, lq)
			if err != nil {
				return err
			}
			for _, p := range page.Items {
				set.URLs = append(set.URLs, sitemapURL{Loc: s.opts.BaseURL + "/p/" + p.Slug, LastMod: p.UpdatedAt.UTC().Format(time.DateOnly)})
			}
			if page.NextCursor == nil {
				break
			}
			lq.Cursor = *page.NextCursor
		}
		set.URLs = set.URLs[:min(len(set.URLs), sitemapMaxURLs)]
		var buf bytes.Buffer
		buf.WriteString(xml.Header)
		enc := xml.NewEncoder(&buf)
		enc.Indent("", " ")
		if err := enc.Encode(set); err != nil {
			return err
		}
		buf.WriteByte('\n')
		h := w.Header()
		h.Set("Content-Type", "application/xml; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("Content-Length", strconv.Itoa(buf.Len()))
		w.Write(buf.Bytes())
		return nil
	})
}

// Robots serves GET /robots.txt: everything public may be crawled except
// carts, accounts, search results and the API; the sitemap is named.
func (s *Storefront) Robots() http.Handler {
	body := "User-agent: *\nDisallow: /cart\nDisallow: /checkout\nDisallow: /account\nDisallow: /search\nDisallow: /api/\nDisallow: /admin\n\nSitemap: " + s.opts.BaseURL + "/sitemap.xml\n"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=86400")
		w.Write([]byte(body))
	})
}
