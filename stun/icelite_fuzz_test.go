package stun

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v3"

	"github.com/mediaport/mediaport/internal/clock"
)

// FuzzICELite feeds arbitrary packets to an ICE-lite agent, as datagrams,
// as a stream and with NoAuthenticate: it never answers with success
// unless the request carries a USERNAME "srvu:<something>" and a
// MESSAGE-INTEGRITY that pion/stun, independently, finds valid with the
// agent's password — or "pe01:<something>" and the password of that
// credential set (AddPeer) — and no ICE-CONTROLLED; and without such a
// success no pair exists and the status stays ICEChecking (as it does
// after a success of the pe01 set).
func FuzzICELite(f *testing.F) {
	build := func(setters ...stun.Setter) []byte {
		return stun.MustBuild(append([]stun.Setter{stun.TransactionID, stun.BindingRequest}, setters...)...).Raw
	}
	user := stun.NewUsername("srvu:cliu")
	good := stun.NewShortTermIntegrity(litePass)
	use := stun.RawAttribute{Type: stun.AttrUseCandidate}
	f.Add(build(user, good, stun.Fingerprint))
	f.Add(build(user, use, stun.RawAttribute{Type: stun.AttrICEControlling, Value: make([]byte, 8)}, good, stun.Fingerprint))
	f.Add(build(user, use, stun.RawAttribute{Type: stun.AttrICEControlled, Value: make([]byte, 8)}, good, stun.Fingerprint))
	f.Add(build(user, stun.NewShortTermIntegrity("wrong"), stun.Fingerprint))
	f.Add(build(stun.NewUsername("srvu:"), good))
	f.Add(build(user))
	f.Add(build(stun.NewUsername("pe01:cliu"), stun.NewShortTermIntegrity(peerPass), stun.Fingerprint))
	f.Add(build(stun.NewUsername("pe01:cliu"), good, stun.Fingerprint))
	f.Add(benchReq)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		clk := clock.NewFake(time.Unix(0, 0))
		var successes int
		var lite *ICELite
		lite, _ = NewICELite(ICELiteConfig{Config: Config{Clock: clk}, LocalUfrag: "srvu", LocalPassword: litePass,
			OnSendMsg: func(_ *Session, _ any, res []byte, _ netip.AddrPort) error {
				if len(res) >= 2 && binary.BigEndian.Uint16(res) == stun.BindingSuccess.Value() {
					successes++
				}
				return nil
			}})
		defer lite.Close()
		if err := lite.AddPeer("pe01", peerPass); err != nil {
			t.Fatal(err)
		}
		for _, opts := range []DecodeOptions{IsDatagram, 0, IsDatagram | NoAuthenticate | NoFingerprintCheck} {
			before := successes
			lite.Session().OnRxPkt(append([]byte(nil), pkt...), opts, nil, addrA)
			if successes > before && !validCheck(pkt) {
				t.Fatalf("success answered to an invalid check (opts %v): %x", opts, pkt)
			}
		}
		clk.Advance(time.Second)
		pairs, _ := lite.Pairs()
		st, _ := lite.Status()
		if successes == 0 && (len(pairs) != 0 || st != ICEChecking || lite.HasConsent(addrA)) {
			t.Fatalf("state changed without a success: %+v, %v", pairs, st)
		}
		if successes > 0 && (len(pairs) != 1 || pairs[0].Remote != addrA || !lite.HasConsent(addrA)) {
			t.Fatalf("success without a pair: %+v", pairs)
		}
		if len(pairs) == 1 && pairs[0].Ufrag == "pe01" && st != ICEChecking {
			t.Fatalf("another set's check changed the status: %v", st)
		}
	})
}

// validCheck is the oracle: pkt starts with a Binding request with
// USERNAME "srvu:x…", valid MESSAGE-INTEGRITY for litePass (checked by
// pion/stun) and no ICE-CONTROLLED.
func validCheck(pkt []byte) bool {
	if len(pkt) < 20 {
		return false
	}
	n := 20 + int(binary.BigEndian.Uint16(pkt[2:4]))
	if n > len(pkt) {
		return false
	}
	raw := append([]byte(nil), pkt[:n]...)
	magic := append([]byte(nil), raw[4:8]...)
	binary.BigEndian.PutUint32(raw[4:8], MagicCookie) // an RFC 3489 header, as the session reads it
	m := &stun.Message{Raw: raw}
	if m.Decode() != nil || m.Type != stun.BindingRequest {
		return false
	}
	copy(m.Raw[4:8], magic)
	u, err := m.Get(stun.AttrUsername)
	if err != nil || len(u) <= len("srvu:") {
		return false
	}
	pass := litePass
	switch {
	case bytes.HasPrefix(u, []byte("srvu:")):
	case bytes.HasPrefix(u, []byte("pe01:")):
		pass = peerPass
	default:
		return false
	}
	if m.Contains(stun.AttrICEControlled) {
		return false
	}
	return stun.NewShortTermIntegrity(pass).Check(m) == nil
}
