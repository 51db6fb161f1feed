package vmprx_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	pionstun "github.com/pion/stun/v3"

	"github.com/mediaport/mediaport"

	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/internal/udp"
	"github.com/mediaport/mediaport/stun"
)

// TestICEGatesDTLS: with an ICE-lite agent attached, the port hands DTLS
// on only from an address that has passed an authenticated check: a
// record from an unchecked address is dropped and counted
// (DTLSUnchecked), one from the same address after a check arrives, one
// from another address is still dropped; once the agent is closed nothing
// passes, and detaching it lifts the gate. Both read modes (the caller's
// direct read is gated too).
func TestICEGatesDTLS(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			v, rtp, rx := newMode(t, mediaport.Options{}, m.callerReads)
			lite, err := stun.NewICELite(stun.ICELiteConfig{LocalUfrag: "srvu", LocalPassword: "server-password-0123456789", OnSendMsg: v.SendSTUN})
			if err != nil {
				t.Fatal(err)
			}
			defer lite.Close()
			if err := v.AttachSTUN(lite.Session()); err != nil {
				t.Fatal(err)
			}
			c, other := sender(t, lo4), sender(t, lo4)
			buf := make([]byte, 65536) // holds any datagram: the direct read may take it
			// poll reads the port the way the mode needs and reports
			// what the DTLS[rx] got.
			poll := func() (string, netip.AddrPort, bool) {
				// The DTLS[rx] first: with CallerReads it reads the port
				// into buf directly when the datagram is its own.
				n, src, err := rx.GetPacket(buf)
				if errors.Is(err, dtlsrx.ErrNoPacket) {
					v.Status()
					n, src, err = rx.GetPacket(buf)
				}
				if err != nil {
					if !errors.Is(err, dtlsrx.ErrNoPacket) {
						t.Fatalf("GetPacket: %v", err)
					}
					return "", src, false
				}
				return string(buf[:n]), src, true
			}
			unchecked := func(want uint64) {
				t.Helper()
				testutil.Eventually(t, testutil.Patience, func() bool {
					if got, _, ok := poll(); ok {
						t.Fatalf("DTLS %x delivered from an address without consent", got)
					}
					st, _ := v.Stats()
					return st.DTLSUnchecked == want
				}, "DTLSUnchecked != %d", want)
			}
			delivered := func(from *udp.Conn, tag string) {
				t.Helper()
				testutil.Eventually(t, testutil.Patience, func() bool {
					got, src, ok := poll()
					if ok && (got != string(dtlsRecord(tag)) || src != from.LocalAddr()) {
						t.Fatalf("delivered %x from %v, want record %s from %v", got, src, tag, from.LocalAddr())
					}
					return ok
				}, "record %s not delivered", tag)
			}

			c.WriteTo(dtlsRecord("r1"), rtp)
			unchecked(1)

			// An authenticated check from c, answered from the port.
			req := pionstun.MustBuild(pionstun.TransactionID, pionstun.BindingRequest, pionstun.NewUsername("srvu:cliu"),
				pionstun.NewShortTermIntegrity("server-password-0123456789"), pionstun.Fingerprint)
			c.WriteTo(req.Raw, rtp)
			testutil.Eventually(t, testutil.Patience, func() bool {
				poll()
				c.UDPConn().SetReadDeadline(time.Now().Add(5 * time.Millisecond))
				n, _, err := c.UDPConn().ReadFromUDPAddrPort(buf)
				if err != nil {
					return false
				}
				res := &pionstun.Message{Raw: buf[:n]}
				if res.Decode() != nil || res.Type != pionstun.BindingSuccess {
					t.Fatalf("check not answered with success: %v", res)
				}
				return true
			}, "no answer to the check")
			if !lite.HasConsent(c.LocalAddr()) {
				t.Fatal("no consent after the check")
			}

			c.WriteTo(dtlsRecord("r2"), rtp)
			delivered(c, "r2")
			other.WriteTo(dtlsRecord("r3"), rtp)
			unchecked(2)
			c.WriteTo(dtlsRecord("r4"), rtp)
			delivered(c, "r4")

			lite.Close()
			c.WriteTo(dtlsRecord("r5"), rtp)
			unchecked(3)

			if err := v.AttachSTUN(nil); err != nil {
				t.Fatal(err)
			}
			other.WriteTo(dtlsRecord("r6"), rtp)
			delivered(other, "r6")
			if st, _ := v.Stats(); st.DTLSUnchecked != 3 || st.DTLS != 6 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}
