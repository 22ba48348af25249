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
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite directory URI (must end with '/')")
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn, error")
	flag.Parse()

	// The server allocates for every document it reads or writes, and with Go's default GC
	// target (GOGC=100) on a heap of a few dozen MB it spends about a tenth of its CPU
	// collecting under the pipeline's load; a target of 400 trades some memory for that.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		slog.Error("invalid -log-level", "error", err)
		os.Exit(2)
	}
	logger := slog.New(lazyAttrs{base: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})})

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
		SQLiteURL: withSynchronousNormal(u),
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

// withSynchronousNormal returns the SQLite URL with synchronous=NORMAL unless it sets
// synchronous itself.
//
// Why: with SQLite's default (FULL) every commit waits for an fsync of the write-ahead log, and
// SQLite commits one writer at a time, so on a busy disk the whole server manages a few hundred
// single-document writes a second whatever the CPU. In WAL mode, NORMAL syncs at checkpoints
// instead: a commit survives the server being killed, and only a crash of the machine itself
// may lose the last ones, never corrupting the file. That is the durability of MongoDB's own
// default, whose acknowledged writes reach the journal on disk every 100 ms.
func withSynchronousNormal(u *url.URL) string {
	query := u.Query()
	for _, pragma := range query["_pragma"] {
		if strings.HasPrefix(pragma, "synchronous") {
			return u.String()
		}
	}
	query.Add("_pragma", "synchronous(normal)")
	withPragma := *u
	withPragma.RawQuery = query.Encode()
	return withPragma.String()
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
