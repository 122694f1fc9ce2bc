package admin

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"strings"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/catalog"
	"github.com/mercato-shop/mercato/internal/platform/blob"
)

// Upload limits: the file size, and the picture's size in pixels (checked
// from the header before decoding, so a small file cannot expand into a
// huge bitmap).
const (
	MaxUpload   = 10 << 20
	maxPixels   = 40_000_000
	maxSide     = 12_000
	largeSide   = 1600 // the product picture
	thumbSide   = 400  // the admin list's thumbnail
	thumbDir    = "products/thumbs"
	productsDir = "products"
	jpegQuality = 85
)

// storeUpload checks an uploaded picture by its content (JPEG, PNG or
// WebP, whatever its name or declared type says), scales it to at most
// largeSide and thumbSide pixels, re-encodes both (which also drops any
// metadata) and stores them content-addressed in the blob store. It returns
// the product image (the large one; ThumbURL finds the thumbnail).
// Unusable files are Invalid on "image".
func (a *Admin) storeUpload(ctx context.Context, fh *multipart.FileHeader, name, alt string) (catalog.Image, error) {
	if fh.Size > MaxUpload {
		return catalog.Image{}, apperr.Field("image", fmt.Sprintf("must be at most %d MB", MaxUpload>>20))
	}
	f, err := fh.Open()
	if err != nil {
		return catalog.Image{}, fmt.Errorf("open upload: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxUpload+1))
	if err != nil {
		return catalog.Image{}, fmt.Errorf("read upload: %w", err)
	}
	if len(data) > MaxUpload {
		return catalog.Image{}, apperr.Field("image", fmt.Sprintf("must be at most %d MB", MaxUpload>>20))
	}
	src, err := decodePicture(data)
	if err != nil {
		return catalog.Image{}, err
	}
	slug := catalog.Slugify(name)
	if slug == "" {
		slug = "image"
	}
	if len(slug) > 60 {
		slug = strings.Trim(slug[:60], "-")
	}
	large, ext, err := encode(scale(src, largeSide))
	if err != nil {
		return catalog.Image{}, err
	}
	thumb, _, err := encode(scale(src, thumbSide))
	if err != nil {
		return catalog.Image{}, err
	}
	key := blob.ContentKey(productsDir, slug, large, ext)
	if err := a.svc.Blobs.Put(ctx, key, bytes.NewReader(large), ""); err != nil {
		return catalog.Image{}, fmt.Errorf("store image: %w", err)
	}
	if err := a.svc.Blobs.Put(ctx, thumbKey(key), bytes.NewReader(thumb), ""); err != nil {
		return catalog.Image{}, fmt.Errorf("store thumbnail: %w", err)
	}
	if alt == "" {
		alt = strings.TrimSpace(name)
	}
	return catalog.Image{URL: a.svc.Blobs.URL(key), Alt: alt}, nil
}

func thumbKey(key string) string {
	return thumbDir + "/" + strings.TrimPrefix(key, productsDir+"/")
}

// ThumbURL returns the thumbnail of an uploaded product image, or the
// image's own URL for others (demo pictures, external URLs).
func ThumbURL(u string) string {
	const prefix = "/media/" + productsDir + "/"
	if rest, ok := strings.CutPrefix(u, prefix); ok && !strings.Contains(rest, "/") {
		return "/media/" + thumbKey(productsDir+"/"+rest)
	}
	return u
}

func decodePicture(data []byte) (image.Image, error) {
	bad := apperr.Field("image", "must be a JPEG, PNG or WebP picture")
	var (
		cfg    image.Config
		decode func(io.Reader) (image.Image, error)
		err    error
	)
	switch http.DetectContentType(data) {
	case "image/jpeg":
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
		decode = jpeg.Decode
	case "image/png":
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
		decode = png.Decode
	case "image/webp":
		cfg, err = webp.DecodeConfig(bytes.NewReader(data))
		decode = webp.Decode
	default:
		return nil, bad
	}
	if err != nil {
		return nil, bad
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxSide || cfg.Height > maxSide || cfg.Width*cfg.Height > maxPixels {
		return nil, apperr.Field("image", fmt.Sprintf("must be at most %d×%d pixels and %d megapixels", maxSide, maxSide, maxPixels/1_000_000))
	}
	img, err := decode(bytes.NewReader(data))
	if err != nil {
		return nil, bad
	}
	return img, nil
}

// scale fits img into side×side, keeping its proportions; smaller pictures
// are kept as they are.
func scale(img image.Image, side int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= side && h <= side {
		return img
	}
	if w >= h {
		w, h = side, max(1, h*side/w)
	} else {
		w, h = max(1, w*side/h), side
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	return dst
}

// encode writes an opaque picture as JPEG and one with transparency as PNG.
func encode(img image.Image) ([]byte, string, error) {
	var buf bytes.Buffer
	if o, ok := img.(interface{ Opaque() bool }); ok && !o.Opaque() {
		if err := png.Encode(&buf, img); err != nil {
			return nil, "", fmt.Errorf("encode png: %w", err)
		}
		return buf.Bytes(), "png", nil
	}
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: jpegQuality}); err != nil {
		return nil, "", fmt.Errorf("encode jpeg: %w", err)
	}
	return buf.Bytes(), "jpg", nil
}
