package vmprx_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	pionstun "github.com/pion/stun/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/stun"
	"github.com/mediaport/mediaport/vmprx"
)

// TestICELiteOnMediaPort: an ICE-lite responder attached to a VMP[rx]
// answers connectivity checks from the media port itself, RTP and STUN on
// the same port.
func TestICELiteOnMediaPort(t *testing.T) {
	for _, mux := range []bool{true, false} {
		mod := openModule(t, mediaport.Options{})
		v, rtp, rtcp := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: mux})
		checks := make(chan bool, 4)
		lite, err := stun.NewICELite(stun.ICELiteConfig{
			Config:     stun.ModuleConfig(mod),
			LocalUfrag: "srvu", LocalPassword: "server-password-0123456789",
			OnSendMsg: v.SendSTUN,
			OnCheck:   func(_ netip.AddrPort, use bool) { checks <- use },
		})
		if err != nil {
			t.Fatal(err)
		}
		defer lite.Close()
		if err := v.AttachSTUN(lite.Session()); err != nil {
			t.Fatal(err)
		}
		c := sender(t, lo4)
		check := func(dst netip.AddrPort, user, pass string, use bool) *pionstun.Message {
			t.Helper()
			setters := []pionstun.Setter{pionstun.TransactionID, pionstun.BindingRequest, pionstun.NewUsername(user)}
			if use {
				setters = append(setters, pionstun.RawAttribute{Type: pionstun.AttrUseCandidate})
			}
			setters = append(setters, pionstun.NewShortTermIntegrity(pass), pionstun.Fingerprint)
			req := pionstun.MustBuild(setters...)
			c.WriteTo(req.Raw, dst)
			c.UDPConn().SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 1500)
			n, src, err := c.UDPConn().ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("no answer from %v: %v", dst, err)
			}
			if src != dst {
				t.Fatalf("answer from %v, want the media port %v", src, dst)
			}
			res := &pionstun.Message{Raw: buf[:n]}
			if err := res.Decode(); err != nil || res.TransactionID != req.TransactionID {
				t.Fatalf("answer: %v", err)
			}
			if err := pionstun.Fingerprint.Check(res); err != nil {
				t.Fatalf("FINGERPRINT: %v", err)
			}
			return res
		}
		res := check(rtp, "srvu:cliu", "server-password-0123456789", true)
		var xor pionstun.XORMappedAddress
		if res.Type != pionstun.BindingSuccess || xor.GetFrom(res) != nil || xor.Port != int(c.LocalAddr().Port()) {
			t.Fatalf("success response %v, mapped %v", res, xor)
		}
		if err := pionstun.NewShortTermIntegrity("server-password-0123456789").Check(res); err != nil {
			t.Fatalf("MESSAGE-INTEGRITY: %v", err)
		}
		if use := <-checks; !use {
			t.Fatal("USE-CANDIDATE not reported")
		}
		// Checks on the RTCP port are answered from the RTCP port.
		if res := check(rtcp, "srvu:cliu", "server-password-0123456789", false); res.Type != pionstun.BindingSuccess {
			t.Fatal("check on the RTCP port failed")
		}
		for _, bad := range [][2]string{{"srvu:cliu", "wrong"}, {"other:cliu", "server-password-0123456789"}, {"srvu:", "server-password-0123456789"}} {
			res := check(rtp, bad[0], bad[1], false)
			var ec pionstun.ErrorCodeAttribute
			if res.Type.Class != pionstun.ClassErrorResponse || ec.GetFrom(res) != nil || ec.Code != 401 {
				t.Fatalf("credentials %v: %v", bad, res)
			}
		}
		st, _ := v.Stats()
		if st.STUN != 5 || st.STUNUnrouted != 0 {
			t.Fatalf("stats %+v", st)
		}
		mod.Close()
	}
	if _, err := stun.NewICELite(stun.ICELiteConfig{OnSendMsg: func(*stun.Session, any, []byte, netip.AddrPort) error { return nil }}); !errors.Is(err, stun.ErrNoUfrag) {
		t.Fatalf("no ufrag: %v", err)
	}
}

// TestICELiteChecksBothWays: two responders on two media ports check each
// other; each learns the address the other saw.
func TestICELiteChecksBothWays(t *testing.T) {
	mod := openModule(t, mediaport.Options{})
	va, pa, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true})
	vb, pb, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true})
	la, _ := stun.NewICELite(stun.ICELiteConfig{Config: stun.ModuleConfig(mod), LocalUfrag: "aaaa", LocalPassword: "password-of-a-0123456789",
		RemoteUfrag: "bbbb", RemotePassword: "password-of-b-0123456789", OnSendMsg: va.SendSTUN})
	lb, _ := stun.NewICELite(stun.ICELiteConfig{Config: stun.ModuleConfig(mod), LocalUfrag: "bbbb", LocalPassword: "password-of-b-0123456789",
		RemoteUfrag: "aaaa", RemotePassword: "password-of-a-0123456789", OnSendMsg: vb.SendSTUN})
	defer la.Close()
	defer lb.Close()
	va.AttachSTUN(la.Session())
	vb.AttachSTUN(lb.Session())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if m, err := la.Check(ctx, pb); err != nil || m != pa {
		t.Fatalf("A checks B: %v %v, want %v", m, err, pa)
	}
	if m, err := lb.Check(ctx, pa); err != nil || m != pb {
		t.Fatalf("B checks A: %v %v, want %v", m, err, pb)
	}
	// A wrong remote password: 401.
	lc, _ := stun.NewICELite(stun.ICELiteConfig{Config: stun.ModuleConfig(mod), LocalUfrag: "cccc", LocalPassword: "password-of-c-0123456789",
		RemoteUfrag: "bbbb", RemotePassword: "wrong-wrong-wrong-wrong", OnSendMsg: va.SendSTUN})
	defer lc.Close()
	va.AttachSTUN(lc.Session())
	_, err := lc.Check(ctx, pb)
	var se *stun.StatusError
	if !errors.As(err, &se) || se.Code != 401 {
		t.Fatalf("wrong password: %v", err)
	}
}
