package main

import (
	"log/slog"
	"testing"
)

func TestRun(t *testing.T) {
	if err := run(slog.New(slog.DiscardHandler), 100); err != nil {
		t.Fatal(err)
	}
}
