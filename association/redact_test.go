package association

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/mediaport/mediaport"
)

// TestSRTPKeysRedacted: SRTPKeys logged through slog's JSON handler, or
// printed with fmt, show the profile and never a key or salt.
func TestSRTPKeysRedacted(t *testing.T) {
	k := SRTPKeys{Profile: SRTP_AES128_CM_HMAC_SHA1_80,
		LocalKey: bytes.Repeat([]byte{0xa1}, 16), LocalSalt: bytes.Repeat([]byte{0xb2}, 14),
		RemoteKey: bytes.Repeat([]byte{0xc3}, 16), RemoteSalt: bytes.Repeat([]byte{0xd4}, 14)}
	k.Material = bytes.Join([][]byte{k.LocalKey, k.RemoteKey, k.LocalSalt, k.RemoteSalt}, nil)
	for _, v := range []any{k, &k} {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("keys", "k", v)
		out := buf.String() + fmt.Sprintf(" %v %+v", v, v)
		for _, secret := range [][]byte{k.LocalKey, k.LocalSalt, k.RemoteKey, k.RemoteSalt} {
			if strings.Contains(out, hex.EncodeToString(secret)) || strings.Contains(out, base64.StdEncoding.EncodeToString(secret)) ||
				strings.Contains(out, fmt.Sprint(secret)) {
				t.Errorf("%T shows a key: %s", v, out)
			}
		}
		if !strings.Contains(buf.String(), mediaport.Redacted) || !strings.Contains(buf.String(), k.Profile.String()) {
			t.Errorf("%T logged as %s", v, buf.String())
		}
	}
}
