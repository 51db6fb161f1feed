package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/stun"
)

// Each WebRTC test waits for conditions with a generous limit (the suite
// runs under CPU contention); none sleeps a fixed time.
const limit = 60 * time.Second

// echoed is how many RTP packets must go each way: at 50 packets/s (20 ms
// Opus frames), about a second of audio.
const echoed = 50

// TestChromiumEcho: headless Chromium offers audio (its fake microphone),
// we answer in each DTLS role; ICE-lite, DTLS and SRTP complete, the
// browser's RTP is authenticated and decrypted here, our echo reaches its
// inbound-rtp stats, and when the page closes its peer connection its
// close_notify stops our DTLS[rx] cleanly.
func TestChromiumEcho(t *testing.T) {
	b := shared.get(t)
	for _, role := range []Role{Passive, Active} {
		t.Run(string(role), func(t *testing.T) {
			srv := newServer(t, nil)
			b.use(t, srv)
			id := "echo-" + string(role)
			b.run(t, Session{ID: id, Media: "audio", Setup: role})
			c := waitCall(t, srv, id)
			desc := describe(srv, id)
			// As the DTLS server we choose: our first preference, which
			// Chromium offers. As the client we offer it first and Chromium
			// chooses (AES128_CM_HMAC_SHA1_80, in Chromium 156).
			want := association.SRTPProfile(0)
			if role == Passive {
				want = association.SRTP_AEAD_AES_128_GCM
			}
			checkEcho(t, srv, c, id, want, desc)

			// The browser's stats: DTLS connected in the role we left it,
			// SRTP with the profile we chose, our echo received.
			waitFor(t, limit, "the browser to count our echo", func() bool {
				return srv.Peer(id).Stats.PacketsReceived >= echoed
			}, desc)
			st := srv.Peer(id).Stats
			wantRole := map[Role]string{Passive: "client", Active: "server"}[role]
			wantCipher := c.State().Profile.String() // "SRTP_AEAD_AES_128_GCM"
			if st.DTLSState != "connected" || st.DTLSRole != wantRole || st.SRTPCipher != wantCipher {
				t.Errorf("browser transport: dtls %q role %q srtp %q, want connected %s %s", st.DTLSState, st.DTLSRole, st.SRTPCipher, wantRole, wantCipher)
			}

			// close_notify: the page closes its peer connection.
			srv.Command(id, "close")
			waitFor(t, limit, "the page to close", func() bool { return srv.Peer(id).Closed }, desc)
			waitFor(t, limit, "close_notify to end the association", func() bool {
				return c.State().DTLS != association.Established
			}, desc)
			waitFor(t, limit, "the call to end", func() bool { return c.State().Ended != "" }, desc)
			if s := c.State(); s.DTLS != association.Closed || s.DTLSErr != nil || s.Ended != "DTLS ended" || s.ConsentExpired {
				t.Errorf("after the browser closed: DTLS %v, err %v, ended %q, consent expired %v; want Closed, nil (close_notify), DTLS ended", s.DTLS, s.DTLSErr, s.Ended, s.ConsentExpired)
			}
		})
	}
}

// checkEcho waits for echoed packets each way through the call and checks
// the handshake's results against the offer; profile is the SRTP profile
// that must be negotiated (0: any).
func checkEcho(t *testing.T, srv *Server, c *Call, id string, profile association.SRTPProfile, desc func() string) {
	t.Helper()
	waitFor(t, limit, "the DTLS handshake", func() bool { return c.State().Handshake }, desc)
	off := mustParse(t, srv.Peer(id).Offer, desc)
	s := c.State()
	if s.DTLS != association.Established {
		t.Errorf("DTLS %v after the handshake", s.DTLS)
	}
	if s.Profile == 0 || profile != 0 && s.Profile != profile {
		t.Errorf("SRTP profile %v, want %v", s.Profile, profile)
	}
	if !slices.ContainsFunc(off.fingerprints, func(fp string) bool { return strings.EqualFold(fp, s.PeerFingerprint) }) {
		t.Errorf("peer fingerprint %q is none of the offer's %q", s.PeerFingerprint, off.fingerprints)
	}
	if !slices.ContainsFunc(s.Pairs, func(p stun.ICEPair) bool { return p.Remote == s.Peer && p.Checks > 0 }) {
		t.Errorf("DTLS peer %v is not an address that passed a check (%v)", s.Peer, s.Pairs)
	}
	waitFor(t, limit, "the peer's RTP, decrypted", func() bool { return c.State().Echo.RTPIn >= echoed }, desc)
	waitFor(t, limit, "our echo to go out", func() bool { return c.State().Echo.RTPOut >= echoed }, desc)
	waitFor(t, limit, "the peer's RTCP, decrypted", func() bool { return c.State().Echo.RTCPIn >= 1 }, desc)
	s = c.State()
	var audio offeredMedia
	for _, m := range off.media {
		if m.kind == "audio" {
			audio = m
			break
		}
	}
	if audio.ssrc == 0 || s.Echo.RTPInSSRC != audio.ssrc || int(s.Echo.RTPInPT) != audio.audioPT {
		t.Errorf("decrypted RTP: SSRC %#x PT %d, want the offer's a=ssrc %#x and PT %d", s.Echo.RTPInSSRC, s.Echo.RTPInPT, audio.ssrc, audio.audioPT)
	}
	if !s.Echo.SharedPort {
		t.Error("the echo's dispatcher does not send from the media port's socket")
	}
	if s.Echo.Rejected != 0 || s.Echo.SendErrs != 0 {
		t.Errorf("%d packets failed authentication, %d sends failed", s.Echo.Rejected, s.Echo.SendErrs)
	}
	if s.ICE != stun.ICENominated && s.ICE != stun.ICEMoved || !s.Selected.Nominated || !s.Selected.Consent {
		t.Errorf("ICE %v, selected pair %+v: want a nominated pair with consent", s.ICE, s.Selected)
	}
	// The echo goes to the selected pair (the next packet does, if the
	// browser has just moved its nomination).
	waitFor(t, limit, "the echo to go to the selected pair", func() bool {
		s := c.State()
		return s.Echo.LastDst == s.Selected.Remote
	}, desc)
}

func mustParse(t *testing.T, sdp string, desc func() string) *offer {
	t.Helper()
	o, err := parseOffer(sdp)
	if err != nil {
		t.Fatalf("the peer's offer: %v\n%s", err, desc())
	}
	return o
}

// TestChromiumDataChannel: a data-channel-only offer completes the DTLS
// handshake in both roles. Chromium offers use_srtp even so; we configure
// no SRTP profile: as the server the association still answers one
// (pion's server cannot leave use_srtp out), as the client it offers none.
func TestChromiumDataChannel(t *testing.T) {
	b := shared.get(t)
	for _, role := range []Role{Passive, Active} {
		t.Run(string(role), func(t *testing.T) {
			srv := newServer(t, nil)
			b.use(t, srv)
			id := "data-" + string(role)
			b.run(t, Session{ID: id, Media: "data", Setup: role})
			want := association.SRTPProfile(0)
			if role == Passive {
				want = association.SRTP_AEAD_AES_128_GCM
			}
			checkData(t, srv, id, want)
		})
	}
}

// checkData waits for a data-channel-only call's handshake on both sides.
func checkData(t *testing.T, srv *Server, id string, profile association.SRTPProfile) {
	t.Helper()
	c := waitCall(t, srv, id)
	desc := describe(srv, id)
	waitFor(t, limit, "the DTLS handshake", func() bool { return c.State().Handshake }, desc)
	if s := c.State(); s.Profile != profile || s.DTLS != association.Established {
		t.Errorf("SRTP profile %v, want %v; DTLS %v", s.Profile, profile, s.DTLS)
	}
	waitFor(t, limit, "the peer's DTLS to connect", func() bool { return srv.Peer(id).Stats.DTLSState == "connected" }, desc)
	if a := srv.Peer(id).Answer; !strings.Contains(a, "m=application ") || strings.Contains(a, "m=audio") {
		t.Errorf("answer:\n%s", a)
	}
}

// TestChromiumConsentLoss: the browser dies mid-call (no close_notify, no
// more checks) and the ICE-lite agent reports consent expiry (RFC 7675),
// after which the echo sends nothing. The consent timer runs on the
// module's clock, here a fake one: consent first survives 40 s of module
// time while the browser checks, then expires once it is gone.
func TestChromiumConsentLoss(t *testing.T) {
	p := ownPage(t)
	clk := clock.NewFake(time.Now())
	srv := newServer(t, clk)
	p.use(t, srv)
	id := "consent"
	p.run(t, Session{ID: id, Media: "audio", Setup: Passive})
	c := waitCall(t, srv, id)
	desc := describe(srv, id)
	checkEcho(t, srv, c, id, association.SRTP_AEAD_AES_128_GCM, desc)

	// Alive: 20 s of module time, a fresh check from the browser, 20 s
	// more, and the selected pair still has consent.
	checks := c.State().Selected.Checks
	clk.Advance(20 * time.Second)
	waitFor(t, limit, "a consent check from the browser", func() bool { return c.State().Selected.Checks > checks }, desc)
	clk.Advance(20 * time.Second)
	if s := c.State(); s.ICE != stun.ICENominated || !s.Selected.Consent || s.ConsentExpired {
		t.Fatalf("with the browser checking, after 40 s of module time: ICE %v, pair %+v", s.ICE, s.Selected)
	}

	// Gone: kill the browser. A check already on its way may still
	// arrive and renew consent, so time moves on until consent expires.
	p.chrome.Kill()
	waitFor(t, limit, "consent to expire", func() bool {
		clk.Advance(time.Second)
		return c.State().ICE == stun.ICEConsentExpired
	}, desc)
	waitFor(t, limit, "the call to end", func() bool { return c.State().Ended != "" }, desc)
	s := c.State()
	if !s.ConsentExpired || s.Selected.Consent || s.Ended != "consent expired" {
		t.Errorf("after consent expiry: %+v", s)
	}
	// The DTLS association saw no close_notify: we closed it.
	if s.DTLS != association.Closed || s.DTLSErr != nil {
		t.Errorf("DTLS %v (%v) after the call ended", s.DTLS, s.DTLSErr)
	}
}

// TestChromiumWrongFingerprint: when the browser's certificate does not
// match the offer's a=fingerprint (here the offer is altered on its way
// in), the handshake fails in either role and the call reports
// association.ErrFingerprint at once. The module clock is a fake that never
// moves, so the handshake timeout cannot be what reports it.
func TestChromiumWrongFingerprint(t *testing.T) {
	b := shared.get(t)
	for _, role := range []Role{Passive, Active} {
		t.Run(string(role), func(t *testing.T) {
			srv := newServer(t, clock.NewFake(time.Now()))
			srv.offerHook = func(o *offer) { o.fingerprints = []string{srv.fingerprint} }
			b.use(t, srv)
			id := "wrongfp-" + string(role)
			b.run(t, Session{ID: id, Media: "audio", Setup: role})
			c := waitCall(t, srv, id)
			desc := describe(srv, id)
			waitFor(t, limit, "the call to end", func() bool { return c.State().Ended != "" }, desc)
			s := c.State()
			if !errors.Is(s.DTLSErr, association.ErrFingerprint) || s.DTLS != association.Failed || s.Handshake {
				t.Errorf("DTLS %v, err %v, handshake %v; want Failed with ErrFingerprint", s.DTLS, s.DTLSErr, s.Handshake)
			}
			if s.Echo.RTPIn != 0 || s.Echo.RTPOut != 0 {
				t.Errorf("echo %+v without a handshake", s.Echo)
			}
		})
	}
}

// TestAiortcEcho: aiortc offers audio (its silence track), we answer in
// each DTLS role; its RTP is decrypted here and our echo reaches its
// inbound-rtp stats.
func TestAiortcEcho(t *testing.T) {
	for _, role := range []Role{Passive, Active} {
		t.Run(string(role), func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, nil)
			id := "aiortc-" + string(role)
			aiortc(t, srv, id, "audio", role)
			c := waitCall(t, srv, id)
			desc := describe(srv, id)
			// aiortc 1.4 offers and accepts AES128_CM_HMAC_SHA1_80 only.
			checkEcho(t, srv, c, id, association.SRTP_AES128_CM_HMAC_SHA1_80, desc)
			waitFor(t, limit, "aiortc to count our echo", func() bool {
				return srv.Peer(id).Stats.PacketsReceived >= echoed
			}, desc)
			if st := srv.Peer(id).Stats; st.DTLSState != "connected" {
				t.Errorf("aiortc DTLS %q", st.DTLSState)
			}
			srv.Command(id, "close")
			waitFor(t, limit, "close_notify from aiortc", func() bool {
				return c.State().DTLS != association.Established
			}, desc)
			waitFor(t, limit, "the call to end", func() bool { return c.State().Ended != "" }, desc)
			if s := c.State(); s.DTLS != association.Closed || s.DTLSErr != nil || s.Ended != "DTLS ended" {
				t.Errorf("after aiortc closed: DTLS %v, err %v, ended %q; want Closed, nil, DTLS ended", s.DTLS, s.DTLSErr, s.Ended)
			}
		})
	}
}

// TestAiortcDataChannel: aiortc's data-channel-only offer completes DTLS
// in both roles (aiortc offers and accepts AES128_CM_HMAC_SHA1_80 only).
func TestAiortcDataChannel(t *testing.T) {
	for _, role := range []Role{Passive, Active} {
		t.Run(string(role), func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, nil)
			id := "aiortc-data-" + string(role)
			aiortc(t, srv, id, "data", role)
			want := association.SRTPProfile(0)
			if role == Passive {
				want = association.SRTP_AES128_CM_HMAC_SHA1_80
			}
			checkData(t, srv, id, want)
		})
	}
}
