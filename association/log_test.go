package association_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
)

// recorder is a slog.Handler that keeps the records at or above level.
type recorder struct {
	level slog.Level
	mu    sync.Mutex
	recs  []slog.Record
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler           { return r }
func (r *recorder) WithGroup(string) slog.Handler                { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.recs = append(r.recs, rec.Clone())
	r.mu.Unlock()
	return nil
}

// pionRecords returns the levels of the records attributed to pion/dtls.
func (r *recorder) pionRecords() []slog.Level {
	r.mu.Lock()
	defer r.mu.Unlock()
	var levels []slog.Level
	for _, rec := range r.recs {
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "scope" && a.Value.String() == "pion/dtls" {
				levels = append(levels, rec.Level)
				if rec.Message == "" {
					levels = append(levels, slog.LevelError+1) // an empty message: fails the check below
				}
			}
			return true
		})
	}
	return levels
}

// pion/dtls's logs go to the module's logger, below Info, and only when
// the logger takes them.
func TestPionLogsToModuleLogger(t *testing.T) {
	for _, tc := range []struct {
		level slog.Level
		want  bool
	}{{slog.LevelDebug - 4, true}, {slog.LevelInfo, false}} {
		rec := &recorder{level: tc.level}
		mod, err := mediaport.OpenModule(mediaport.Options{Logger: slog.New(rec)})
		if err != nil {
			t.Fatal(err)
		}
		addECDSA(t, mod, 1, mediaport.ECDSA{Certificate: newCert(t).TLS})
		a, s := newSide(t, mod), newSide(t, mod)
		s.bind(t, a.port, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}})
		a.bind(t, s.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}})
		waitEstablished(t, a, s)
		a.sendTo(t, s, "hello")
		mod.Close()
		levels := rec.pionRecords()
		if got := len(levels) > 0; got != tc.want {
			t.Errorf("logger at %v: %d pion/dtls records, want some: %v", tc.level, len(levels), tc.want)
		}
		for _, l := range levels {
			if l >= slog.LevelInfo {
				t.Errorf("a pion/dtls record at %v (pion logs only Trace and Debug), or with no message", l)
			}
		}
	}
}
