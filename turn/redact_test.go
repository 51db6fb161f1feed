package turn_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/turn"
)

// TestConfigRedacted: a turn.Config and a turn.Request logged through
// slog's JSON handler, or printed with fmt, never show their password.
func TestConfigRedacted(t *testing.T) {
	const pw = "turn-password-0123456789"
	cfg := turn.Config{Server: netip.MustParseAddrPort("127.0.0.1:3478"), Username: "alice", Password: pw}
	req := turn.Request{Username: []byte("alice"), Password: []byte(pw)}
	for _, v := range []any{cfg, &cfg, req, &req} {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "v", v)
		out := buf.String()
		if strings.Contains(out, pw) || !strings.Contains(out, "alice") || !strings.Contains(out, mediaport.Redacted) {
			t.Errorf("%T logged as %s", v, out)
		}
		if s := fmt.Sprintf("%v %+v", v, v); strings.Contains(s, pw) {
			t.Errorf("%T printed as %s", v, s)
		}
	}
}
