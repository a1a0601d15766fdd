package admin

import (
	"embed"
	"io/fs"
	"net/http"
)

// uiFiles is the web view: one page, its script and style, no external assets. It reads
// /config_dump, /certs and /metrics (so its numbers are the metrics' own) and posts to
// /explain.
//
//go:embed ui
var uiFiles embed.FS

// ui registers /ui (the page) and /ui/ (its assets).
func (s *Server) ui(mux *http.ServeMux) {
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil { // cannot happen: the directory is embedded
		panic(err)
	}
	files := http.StripPrefix("/ui/", http.FileServerFS(sub))
	mux.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, sub, "index.html")
	})
	mux.Handle("GET /ui/", files)
}
