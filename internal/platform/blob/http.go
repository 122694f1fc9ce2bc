package blob

import (
	"context"
	"io"
	"net/http"

	"github.com/mercato-shop/mercato/internal/platform/web"
)

// Opener is what HandleGet needs of a store.
type Opener interface {
	// Open returns the blob's content; NotFound when there is none.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, Info, error)
}

// HandleGet serves GET (and HEAD) /media/{key...}: the blob with its content
// type, Last-Modified, conditional requests and ranges (http.ServeContent).
// Content-addressed keys (see Immutable) are cached for a year as immutable,
// others for an hour. A missing blob or a bad key is a 404 problem.
//
// Blobs may one day be uploaded by staff, so they are served with a CSP
// sandbox: an SVG opened directly cannot run script or reach this origin.
func HandleGet(store Opener) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		key := r.PathValue("key")
		f, info, err := store.Open(r.Context(), key)
		if err != nil {
			return err
		}
		defer f.Close()
		h := w.Header()
		h.Set("Content-Type", info.ContentType)
		h.Set("Content-Security-Policy", "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox")
		if Immutable(key) {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "public, max-age=3600")
		}
		http.ServeContent(w, r, "", info.ModTime, f)
		return nil
	}
}
