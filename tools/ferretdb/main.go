// Command ferretdb runs a local MongoDB-wire-compatible server for development
// and CI: FerretDB v1 embedded, storing data in SQLite files. It lets the
// project run without mongod or Docker (see scripts/provision.sh).
//
// Why our own main: FerretDB's cmd/ferretdb panics when built with
// `go install` (it needs generated build/version files), while the embeddable
// github.com/FerretDB/FerretDB/ferretdb package builds cleanly from the module
// proxy. The FerretDB version is pinned in go.mod.
//
// Build: `scripts/provision.sh install` (or `go build -o ../../.local/bin/ferretdb .`).
package main

import (
	"context"
	"flag"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite directory URI (must end with '/')")
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn, error")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		slog.Error("invalid -log-level", "error", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	u, err := url.Parse(*sqliteURL)
	if err != nil || u.Scheme != "file" {
		logger.Error("-sqlite-url must be a file: URI", "url", *sqliteURL)
		os.Exit(2)
	}
	dir := u.Path
	if dir == "" {
		dir = u.Opaque
	}
	// FerretDB requires the SQLite directory to exist; create it for convenience.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		logger.Error("cannot create SQLite directory", "dir", dir, "error", err)
		os.Exit(1)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: *sqliteURL,
	})
	if err != nil {
		logger.Error("cannot create FerretDB", "error", err)
		os.Exit(1)
	}

	// Stop gracefully (closing listener, connections and SQLite) on Ctrl-C / kill.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	go keepIDIndexes(ctx, dir, time.Second, logger)

	logger.Info("starting FerretDB", "version", ferretVersion(), "listen", *listen, "sqlite", *sqliteURL)
	if err := f.Run(ctx); err != nil {
		logger.Error("FerretDB stopped with error", "error", err)
		os.Exit(1)
	}
	logger.Info("FerretDB stopped")
}

// ferretVersion reports the FerretDB module version compiled in (from go.mod),
// since the embedded package itself reports "unknown".
func ferretVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/FerretDB/FerretDB" {
				return d.Version
			}
		}
	}
	return "unknown"
}
