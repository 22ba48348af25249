package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestAttributesAreFormattedOnlyForRecordsThatAreLogged(t *testing.T) {
	var out bytes.Buffer
	base := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo})
	logger := slog.New(lazyAttrs{base: base})

	logger.With("query", "INSERT ...").Debug("statement")
	logger.With("conn", "127.0.0.1:1").WithGroup("g").With("k", "v").Info("connection started")

	got := out.String()
	if strings.Contains(got, "INSERT") {
		t.Errorf("a debug record was written at info level: %q", got)
	}
	if !strings.Contains(got, "conn=127.0.0.1:1") || !strings.Contains(got, "g.k=v") {
		t.Errorf("the info record lost its attributes or group: %q", got)
	}
}
