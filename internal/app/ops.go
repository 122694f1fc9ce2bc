package app

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/web"
)

var errNoRoute = apperr.NotFoundf("no such API route")

//go:embed openapi.json
var openAPIDoc []byte

func handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(openAPIDoc)
	return nil
}

func handleHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	web.JSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *App) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Cache-Control", "no-store")
	if err := a.DB.Ping(ctx); err != nil {
		a.Log.WarnContext(ctx, "readiness: database unreachable", "err", err)
		web.JSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "unreachable"})
		return nil
	}
	web.JSON(w, http.StatusOK, map[string]string{"status": "ok", "database": string(a.DB.Dialect())})
	return nil
}
