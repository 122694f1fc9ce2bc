// Package blob stores files (product images, uploads) by key. Disk is the
// embedded default: files under <data dir>/media, served at /media/<key>.
// An S3-compatible store can later offer the same methods.
//
// Keys are slash-separated paths of lower-case letters, digits, '.', '_' and
// '-', such as "demo/tee-3f2a9c1b4d5e6f70.svg". A key's extension decides its
// content type, from a short allowlist (images, PDF, plain text, CSV, JSON):
// nothing that a browser would run as a page of this origin (no HTML, no
// JavaScript) can be stored.
package blob

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
)

// MaxKey is the longest key accepted.
const MaxKey = 512

// ContentType returns the content type of key, from its extension; "" when
// the extension is not one a blob may have. The table is fixed here, not read
// from the system's mime files, so a blob is served the same way everywhere.
func ContentType(key string) string {
	switch path.Ext(key) {
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".webp":
		return "image/webp"
	case ".avif":
		return "image/avif"
	case ".gif":
		return "image/gif"
	case ".pdf":
		return "application/pdf"
	case ".txt":
		return "text/plain; charset=utf-8"
	case ".csv":
		return "text/csv; charset=utf-8"
	case ".json":
		return "application/json"
	}
	return ""
}

// ContentKey returns a content-addressed key, "<dir>/<name>-<hash>.<ext>",
// where hash is the first 16 hex digits of data's SHA-256. Such a key always
// names the same bytes, so it is served as immutable. name should already be
// a slug.
func ContentKey(dir, name string, data []byte, ext string) string {
	sum := sha256.Sum256(data)
	return path.Join(dir, name+"-"+hex.EncodeToString(sum[:8])+"."+strings.TrimPrefix(ext, "."))
}

// Immutable reports whether key looks content-addressed: its file name,
// before the extension, is or ends in ('-' and) 16 or more lower-case hex digits.
func Immutable(key string) bool {
	base := path.Base(key)
	stem := strings.TrimSuffix(base, path.Ext(base))
	i := strings.LastIndexByte(stem, '-')
	h := stem[i+1:]
	if len(h) < 16 {
		return false
	}
	for j := 0; j < len(h); j++ {
		if !(h[j] >= '0' && h[j] <= '9' || h[j] >= 'a' && h[j] <= 'f') {
			return false
		}
	}
	return true
}

// ValidateKey returns an Invalid error (field "key") unless key is 1-512
// characters of [a-z0-9/._-], relative, without empty, "." or ".." segments
// nor segments starting with '.', and ends in an allowed extension.
func ValidateKey(key string) error {
	bad := func(msg string) error { return apperr.Field("key", msg) }
	if key == "" || len(key) > MaxKey {
		return bad(fmt.Sprintf("must be 1-%d characters", MaxKey))
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '/' || c == '.' || c == '_' || c == '-') {
			return bad("may contain only a-z, 0-9, '/', '.', '_' and '-'")
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg[0] == '.' {
			// Covers absolute keys, "//", trailing '/', "." and "..", and
			// hidden names (the store's own temporary files start with '.').
			return bad("must be a relative path whose parts are not empty and do not start with '.'")
		}
	}
	if ContentType(key) == "" {
		return bad("must end in one of .svg .png .jpg .jpeg .webp .avif .gif .pdf .txt .csv .json")
	}
	return nil
}

// Info describes a stored blob.
type Info struct {
	Size        int64
	ModTime     time.Time
	ContentType string
}

// Disk stores blobs as files below a root folder. Writes are atomic: a
// reader sees the old file or the new one, never a part. Every file access
// goes through os.Root, so even a symbolic link cannot lead outside the root.
type Disk struct {
	dir    string
	prefix string
}

// NewDisk returns a store rooted at dir, whose blobs are served under
// /media/. The folder is created by the first Put.
func NewDisk(dir string) *Disk {
	return &Disk{dir: dir, prefix: "/media/"}
}

// Dir returns the folder the blobs are in.
func (d *Disk) Dir() string { return d.dir }

// URL returns the path the blob is served at: "/media/<key>".
func (d *Disk) URL(key string) string { return d.prefix + key }

func (d *Disk) open() (*os.Root, error) {
	r, err := os.OpenRoot(d.dir)
	if err != nil {
		return nil, fmt.Errorf("open media folder: %w", err)
	}
	return r, nil
}

// Put stores r's bytes under key, replacing any blob there. contentType may be
// empty; otherwise it must be the type of the key's extension (ignoring
// parameters such as charset). Invalid keys or types are Invalid errors.
func (d *Disk) Put(ctx context.Context, key string, r io.Reader, contentType string) (err error) {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if contentType != "" {
		got, _, perr := mime.ParseMediaType(contentType)
		want, _, _ := mime.ParseMediaType(ContentType(key))
		if perr != nil || got != want {
			return apperr.Field("content_type", fmt.Sprintf("must be %s for a %s file", want, path.Ext(key)))
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return fmt.Errorf("create media folder: %w", err)
	}
	root, err := d.open()
	if err != nil {
		return err
	}
	defer root.Close()
	dir := path.Dir(key)
	if dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := path.Join(dir, ".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			root.Remove(tmp)
		}
	}()
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := root.Rename(tmp, key); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// ctxReader stops a copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Open returns the blob's content and its Info; the caller closes it.
// NotFound when there is no blob under key (or the key is not a valid one).
func (d *Disk) Open(ctx context.Context, key string) (io.ReadSeekCloser, Info, error) {
	if ValidateKey(key) != nil {
		return nil, Info{}, apperr.NotFoundf("no file %q", key)
	}
	if err := ctx.Err(); err != nil {
		return nil, Info{}, err
	}
	root, err := os.OpenRoot(d.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Info{}, apperr.NotFoundf("no file %q", key)
	}
	if err != nil {
		return nil, Info{}, fmt.Errorf("open media folder: %w", err)
	}
	defer root.Close() // files opened through a Root outlive it
	f, err := root.Open(key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Info{}, apperr.NotFoundf("no file %q", key)
	}
	if err != nil {
		return nil, Info{}, fmt.Errorf("open %s: %w", key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Info{}, fmt.Errorf("open %s: %w", key, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, Info{}, apperr.NotFoundf("no file %q", key)
	}
	return f, Info{Size: st.Size(), ModTime: st.ModTime().UTC(), ContentType: ContentType(key)}, nil
}

// Stat returns the blob's Info; NotFound when there is none.
func (d *Disk) Stat(ctx context.Context, key string) (Info, error) {
	f, info, err := d.Open(ctx, key)
	if err != nil {
		return Info{}, err
	}
	f.Close()
	return info, nil
}

// Delete removes the blob; deleting a missing blob is not an error.
func (d *Disk) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	root, err := os.OpenRoot(d.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open media folder: %w", err)
	}
	defer root.Close()
	if err := root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}
