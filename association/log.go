package association

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// levelTrace is the slog level of pion's Trace logs, below Debug.
const levelTrace = slog.LevelDebug - 4

// pionLog hands pion/dtls's logs (it writes Trace and Debug only) to the
// module's logger, attributed to "pion/dtls". It is both the LoggerFactory
// an association gives pion and the logger it makes: one word, which an
// interface holds without allocating, where pion's default logger costs
// every Conn half a kilobyte and writes to stderr.
type pionLog struct{ l *slog.Logger }

func (p pionLog) NewLogger(string) logging.LeveledLogger { return p }

func (p pionLog) log(level slog.Level, msg string) {
	p.l.Log(context.Background(), level, msg, "scope", "pion/dtls")
}

func (p pionLog) logf(level slog.Level, format string, args []any) {
	if p.l.Enabled(context.Background(), level) {
		p.log(level, fmt.Sprintf(format, args...))
	}
}

func (p pionLog) Trace(msg string)                  { p.log(levelTrace, msg) }
func (p pionLog) Tracef(format string, args ...any) { p.logf(levelTrace, format, args) }
func (p pionLog) Debug(msg string)                  { p.log(slog.LevelDebug, msg) }
func (p pionLog) Debugf(format string, args ...any) { p.logf(slog.LevelDebug, format, args) }
func (p pionLog) Info(msg string)                   { p.log(slog.LevelInfo, msg) }
func (p pionLog) Infof(format string, args ...any)  { p.logf(slog.LevelInfo, format, args) }
func (p pionLog) Warn(msg string)                   { p.log(slog.LevelWarn, msg) }
func (p pionLog) Warnf(format string, args ...any)  { p.logf(slog.LevelWarn, format, args) }
func (p pionLog) Error(msg string)                  { p.log(slog.LevelError, msg) }
func (p pionLog) Errorf(format string, args ...any) { p.logf(slog.LevelError, format, args) }
