package main

// Why this file exists: FerretDB 1.24's SQL layer gives every statement its query and
// arguments (whole documents) as attributes, with logger.With(...), then logs it at debug
// level. slog's handlers format attributes as soon as With is called, whatever the level, so
// the server formats every document it writes into log text nobody sees: about a tenth of its
// CPU under the pipeline's load. lazyAttrs defers that work to a record actually being logged.

import (
	"context"
	"log/slog"
	"slices"
)

// lazyAttrs is a slog.Handler that applies WithAttrs and WithGroup to its base handler only
// when a record is handled.
type lazyAttrs struct {
	base    slog.Handler
	pending []func(slog.Handler) slog.Handler
}

func (h lazyAttrs) Enabled(ctx context.Context, level slog.Level) bool {
	return h.base.Enabled(ctx, level)
}

func (h lazyAttrs) Handle(ctx context.Context, record slog.Record) error {
	handler := h.base
	for _, apply := range h.pending {
		handler = apply(handler)
	}
	return handler.Handle(ctx, record)
}

func (h lazyAttrs) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.then(func(handler slog.Handler) slog.Handler { return handler.WithAttrs(attrs) })
}

func (h lazyAttrs) WithGroup(name string) slog.Handler {
	return h.then(func(handler slog.Handler) slog.Handler { return handler.WithGroup(name) })
}

func (h lazyAttrs) then(apply func(slog.Handler) slog.Handler) slog.Handler {
	return lazyAttrs{base: h.base, pending: append(slices.Clip(h.pending), apply)}
}
