package stun

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/stun/v3"

	"github.com/mediaport/mediaport/internal/testutil"
)

// aioicePython returns the Python that has aioice (aiortc's ICE agent),
// or skips (fails under MEDIAPORT_REQUIRE_PEERS=1).
func aioicePython(t *testing.T) string {
	t.Helper()
	py := testutil.Peer(t, "/usr/bin/python3")
	if out, err := exec.Command(py, "-c", "import aioice").CombinedOutput(); err != nil {
		if testutil.RequirePeers() {
			t.Fatalf("aioice not importable and MEDIAPORT_REQUIRE_PEERS=1: %v %s", err, out)
		}
		t.Skipf("aioice not importable: %v %s", err, out)
	}
	return py
}

// TestICELiteAgainstAioice: aioice, the full ICE agent aiortc runs, checks
// and nominates against ICELite on a real socket. Started controlled (as
// the lite agent is), it gets 487 to its ICE-CONTROLLED checks, switches
// to controlling and nominates; started controlling, it gets no 487. Its
// consent checks (every 4–6 s) keep the pair's consent; once it has gone,
// consent expires (ConsentTimeout 8 s here, on the system clock: the test
// waits for it, it does not time it).
func TestICELiteAgainstAioice(t *testing.T) {
	py := aioicePython(t)
	for _, tc := range []struct {
		name        string
		controlling bool
		stay        time.Duration
	}{
		{"starts controlled: 487, switches", false, 7 * time.Second},
		{"starts controlling", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.stay > 0 && testing.Short() {
				t.Skip("consent checks take seconds")
			}
			tr, err := ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			var conflicts atomic.Int32
			lite, err := NewICELite(ICELiteConfig{LocalUfrag: "srvu", LocalPassword: litePass, ConsentTimeout: 8 * time.Second,
				OnSendMsg: func(s *Session, tok any, pkt []byte, dst netip.AddrPort) error {
					if isErrorCode(pkt, 487) {
						conflicts.Add(1)
					}
					return tr.Send(s, tok, pkt, dst)
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer lite.Close()
			tr.Serve(lite.Session())

			ctx, cancel := context.WithTimeout(context.Background(), 2*testutil.Patience)
			defer cancel()
			ctl := "0"
			if tc.controlling {
				ctl = "1"
			}
			cmd := exec.CommandContext(ctx, py, "testdata/aioice_peer.py", fmt.Sprint(tr.LocalAddr().Port()), "srvu", litePass, ctl,
				fmt.Sprint(tc.stay.Seconds()))
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := bufio.NewScanner(out)
			next := func() string {
				if !lines.Scan() {
					cmd.Wait()
					t.Fatalf("aioice: %v\n%s", lines.Err(), stderr.String())
				}
				return lines.Text()
			}
			local, err := netip.ParseAddrPort(strings.TrimPrefix(next(), "local "))
			if err != nil {
				t.Fatal(err)
			}
			if got := next(); got != "nominated controlling=True" {
				t.Fatalf("aioice: %q", got)
			}
			sel, ok, _ := lite.Selected()
			if st, _ := lite.Status(); st != ICENominated || !ok || sel.Remote != local || !sel.Nominated {
				t.Fatalf("status %v, selected %+v, want %v nominated", st, sel, local)
			}
			if n := conflicts.Load(); (n > 0) == tc.controlling {
				t.Fatalf("%d 487 answers", n)
			}
			if tc.stay == 0 {
				cmd.Wait()
				return
			}
			first := sel.Checks
			testutil.Eventually(t, testutil.Patience, func() bool {
				p, _, _ := lite.Selected()
				return p.Checks > first
			}, "no consent check from aioice")
			if st, _ := lite.Status(); st != ICENominated {
				t.Fatalf("during consent checks: %v", st)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("aioice: %v\n%s", err, stderr.String())
			}
			testutil.Eventually(t, testutil.Patience, func() bool {
				st, _ := lite.Status()
				return st == ICEConsentExpired
			}, "consent did not expire after aioice left")
			if lite.HasConsent(local) {
				t.Fatal("consent after expiry")
			}
		})
	}
}

// isErrorCode reports whether pkt is an error response with code.
func isErrorCode(pkt []byte, code int) bool {
	m := &stun.Message{Raw: append([]byte(nil), pkt...)}
	if m.Decode() != nil || m.Type.Class != stun.ClassErrorResponse {
		return false
	}
	var ec stun.ErrorCodeAttribute
	return ec.GetFrom(m) == nil && int(ec.Code) == code && binary.BigEndian.Uint32(pkt[4:8]) == MagicCookie
}
