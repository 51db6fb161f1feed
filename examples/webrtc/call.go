package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/stun"
	"github.com/mediaport/mediaport/vmprx"
)

// A call is one browser's peer connection, on mediaport alone:
//
//  1. a VMP[rx] binds the media port (RTP and RTCP muxed, STUN and DTLS
//     demultiplexed from it);
//  2. an ICE-lite agent (stun.ICELite, AttachSTUN) answers the browser's
//     checks on that port and keeps the pair state: the DTLS on the port
//     is taken only from addresses it has checked, and follows its
//     nominated pair;
//  3. a DTLS[rx] fed by the VMP[rx] and a DTLS[tx] sending from its socket
//     are bound into a terminated DTLS association (server when we answer
//     a=setup:passive, client after the first check when we answer active);
//  4. once the handshake completes, the echo (echo.go) runs on the exported
//     SRTP keys: RTP in, decrypted, re-stamped with our SSRC, encrypted, out
//     from the media port to the selected pair while it has consent;
//  5. the call ends when the DTLS association does (the browser's
//     close_notify, or a failure) or when consent expires (RFC 7675: no
//     successful check for 30 s on the module clock).

// Role is the DTLS role we answer with.
type Role string

const (
	Passive Role = "passive" // we are the DTLS server
	Active  Role = "active"  // we are the DTLS client
)

// srtpProfiles are the profiles we accept, in order of preference.
var srtpProfiles = []association.SRTPProfile{
	association.SRTP_AEAD_AES_128_GCM,
	association.SRTP_AEAD_AES_256_GCM,
	association.SRTP_AES128_CM_HMAC_SHA1_80,
	association.SRTP_AES128_CM_HMAC_SHA1_32,
}

// Call is the state of one peer connection.
type Call struct {
	ID     string
	Role   Role
	Answer string // the SDP answer sent

	srv   *Server
	log   *slog.Logger
	off   *offer
	audio bool // the answer accepted an audio m= line
	ssrc  uint32

	v    *vmprx.VMPRx
	port netip.AddrPort
	ice  *stun.ICELite
	rx   *dtlsrx.DTLSRx
	tx   *dtlstx.DTLSTx
	echo echo

	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	state  CallState
	assoc  *association.Association
	ending bool // end has begun; state.Ended is set once release is done
}

// CallState is what a call has reached, for logs and tests.
type CallState struct {
	Port netip.AddrPort // the media port
	// ICE is the ICE-lite agent's last status; Pairs are the addresses its
	// checks came from, the selected one (Selected) first.
	ICE      stun.ICEStatus
	Pairs    []stun.ICEPair
	Selected stun.ICEPair
	// ConsentExpired: the selected pair lost consent (RFC 7675), which
	// ended the call.
	ConsentExpired bool
	// DTLS is the association's state: Handshaking, Established, Closed
	// (close_notify or our Stop) or Failed.
	DTLS    association.State
	DTLSErr error // why it failed; nil after close_notify
	Peer    netip.AddrPort
	Profile association.SRTPProfile
	// PeerFingerprint is the browser certificate's, as verified against
	// the offer's a=fingerprint.
	PeerFingerprint string
	// Handshake: the handshake completed and the call has taken its
	// results (Profile, PeerFingerprint, the SRTP keys).
	Handshake bool
	Echo      EchoStats
	// Ended says why the call's endpoints are gone ("" while it runs):
	// the DTLS association ended (close_notify, failure), consent
	// expired, or the server closed.
	Ended string
}

// newCall opens the media port, starts ICE-lite and, for a passive answer,
// binds the DTLS server; the answer can then be built.
func (s *Server) newCall(id string, off *offer, role Role) (c *Call, err error) {
	c = &Call{ID: id, Role: role, srv: s, off: off, log: s.log.With("call", id),
		done: make(chan struct{})}
	c.ssrc = randomUint32()
	defer func() {
		if err != nil {
			c.end("setup failed")
		}
	}()
	mod := s.mod
	if c.v, err = vmprx.Create(mod); err != nil {
		return nil, err
	}
	if err := c.v.Config(vmprx.Config{Local: s.local, RTCPMux: true}); err != nil {
		return nil, err
	}
	if err := waitPorts(context.Background(), c.v); err != nil {
		return nil, err
	}
	if c.port, _, err = c.v.Ports(); err != nil {
		return nil, err
	}
	c.state.Port = c.port
	ufrag, pwd := randomString(8), randomString(24)
	c.ice, err = stun.NewICELite(stun.ICELiteConfig{
		Config:     stun.ModuleConfig(mod),
		LocalUfrag: ufrag, LocalPassword: pwd,
		RemoteUfrag: off.ufrag, RemotePassword: off.pwd,
		Software:  "mediaport webrtc example",
		OnSendMsg: c.v.SendSTUN,
	})
	if err != nil {
		return nil, err
	}
	if err := c.v.AttachSTUN(c.ice.Session()); err != nil {
		return nil, err
	}
	// DTLS records are queued from now on, even before the association is
	// bound: the browser's ClientHello follows its first check at once.
	if c.rx, err = dtlsrx.Create(mod); err != nil {
		return nil, err
	}
	if err := c.v.ConfigDTLS(c.rx, false); err != nil {
		return nil, err
	}
	if c.tx, err = dtlstx.Create(mod); err != nil {
		return nil, err
	}
	answer, accepted, err := buildAnswer(off, answerParams{
		ufrag: ufrag, pwd: pwd, fingerprint: s.fingerprint, setup: string(role),
		candidate: fmt.Sprintf("%s %d", c.port.Addr(), c.port.Port()),
		ssrc:      c.ssrc, cname: "mediaport",
	})
	if err != nil {
		return nil, err
	}
	c.Answer = answer
	for _, k := range accepted {
		c.audio = c.audio || k == "audio"
	}
	if role == Passive {
		// The server learns the browser's address from its ClientHello.
		if err := c.tx.Config(dtlstx.Config{Local: c.port}); err != nil {
			return nil, err
		}
		if err := c.bind(association.Server); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.run(ctx)
	return c, nil
}

// bind binds the association in the given role.
func (c *Call) bind(role association.Role) error {
	cfg := association.Config{
		Role:             role,
		Tags:             []mediaport.CredTag{c.srv.tag},
		PeerFingerprints: c.off.fingerprints,
	}
	if c.audio {
		// A data-channel-only call configures no SRTP profile. The browser
		// offers use_srtp even so: as the server the association answers
		// one anyway (pion cannot decline it), and the keys go unused.
		cfg.SRTPProfiles = srtpProfiles
	}
	a, err := association.Bind(c.rx, c.tx, cfg)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.assoc = a
	c.mu.Unlock()
	return nil
}

// State returns a copy of the call's state.
func (c *Call) State() CallState {
	echo := c.echo.stats(c) // before c.mu: the echo takes c.mu under its own lock
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ending {
		c.snapshotICE()
	}
	st := c.state
	st.Echo = echo
	st.Pairs = slices.Clone(st.Pairs)
	if c.assoc != nil {
		st.DTLS, _ = c.assoc.State()
		st.Peer = c.assoc.Peer()
		if st.DTLS == association.Failed {
			st.DTLSErr = c.assoc.Err()
		}
	}
	return st
}

// snapshotICE copies the agent's pairs into the state (c.mu held), which
// keeps them once the agent is closed.
func (c *Call) snapshotICE() {
	c.state.Pairs, _ = c.ice.Pairs()
	c.state.Selected, _, _ = c.ice.Selected()
}

// run drives the call: the client handshake once a check has succeeded,
// the SRTP keys once the handshake completes, the echo on every packet,
// and consent: the echo sends only while the selected pair has it.
func (c *Call) run(ctx context.Context) {
	defer close(c.done)
	vEv, _ := c.v.Event()
	rxEv, _ := c.rx.Event()
	iceEv, _ := c.ice.Event()
	vC, rxC, iceC := vEv.C(), rxEv.C(), iceEv.C()
	buf := make([]byte, 1500)
	for {
		select {
		case <-ctx.Done():
			return
		case <-iceC:
			st, err := c.ice.Status()
			if err != nil || st == stun.ICEClosed {
				iceC = nil
				continue
			}
			if why := c.iceStatus(st); why != "" {
				c.end(why)
				return
			}
		case <-rxC:
			st, err := c.rx.Status()
			if err != nil {
				return
			}
			switch st {
			case dtlsrx.Handshake:
				if err := c.established(); err != nil {
					c.fail("after the handshake", err)
					c.end("setup failed")
					return
				}
			case dtlsrx.Stopped:
				// close_notify (Err nil), or a failure.
				c.mu.Lock()
				c.state.DTLSErr = c.rx.Err()
				c.mu.Unlock()
				c.log.Info("DTLS ended", "err", c.rx.Err())
				c.end("DTLS ended")
				return
			case dtlsrx.HasPacket:
				// Data-channel (SCTP) records: this example runs no SCTP.
				for {
					if _, _, err := c.rx.GetPacket(buf); err != nil {
						break
					}
				}
			}
		case <-vC:
			st, err := c.v.Status()
			if err != nil || st == vmprx.Stopped {
				vC = nil
				continue
			}
			for {
				p, err := c.v.GetPacket(buf)
				if err != nil {
					if !errors.Is(err, vmprx.ErrNoPacket) {
						c.log.Warn("GetPacket", "err", err)
					}
					break
				}
				c.echo.packet(c, buf[:p.Len], p)
			}
		}
	}
}

// iceStatus acts on a status of the ICE-lite agent; it returns why the
// call ends, or "".
func (c *Call) iceStatus(st stun.ICEStatus) (end string) {
	sel, ok, _ := c.ice.Selected()
	c.mu.Lock()
	c.state.ICE = st
	bound := c.assoc != nil
	if st == stun.ICEConsentExpired {
		c.state.ConsentExpired = true
	}
	c.mu.Unlock()
	switch st {
	case stun.ICEConsentExpired:
		// RFC 7675 §5.1: stop sending to the pair. The agent would give
		// consent back on a later check, but a peer silent for 30 s is
		// gone: the call ends.
		c.log.Info("consent expired", "remote", sel.Remote, "last check", sel.LastCheck)
		return "consent expired"
	case stun.ICEMoved:
		// The association on the port has followed already; the echo
		// sends to the selected pair.
		c.log.Info("ICE pair moved", "remote", sel.Remote)
	}
	if c.Role == Active && !bound && ok && st != stun.ICEConsentExpired {
		// We are the DTLS client: our ClientHello goes to the first
		// address that passed a check.
		if err := c.tx.Config(dtlstx.Config{Destination: sel.Remote, Local: c.port}); err != nil {
			c.fail("DTLS[tx] config", err)
			return "setup failed"
		}
		if err := c.bind(association.Client); err != nil {
			c.fail("bind", err)
			return "setup failed"
		}
	}
	return ""
}

// established is called once the handshake has completed.
func (c *Call) established() error {
	c.mu.Lock()
	a := c.assoc
	c.mu.Unlock()
	info, err := a.Info()
	if err != nil {
		return err
	}
	c.log.Info("DTLS established", "suite", info.CipherSuiteName, "srtp", info.SRTPProfile, "peer", a.Peer())
	if c.audio {
		keys, err := a.SRTPKeys()
		if err != nil {
			return err
		}
		if err := c.echo.start(c, keys); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.state.Profile, c.state.PeerFingerprint = info.SRTPProfile, info.PeerFingerprint
	c.state.Handshake = true
	c.mu.Unlock()
	return nil
}

// fail records why the call could not go on.
func (c *Call) fail(what string, err error) {
	c.log.Warn("call failed", "step", what, "err", err)
	c.mu.Lock()
	if c.state.DTLSErr == nil {
		c.state.DTLSErr = fmt.Errorf("%s: %w", what, err)
	}
	c.mu.Unlock()
}

// close stops the call's goroutine and releases its endpoints; its state
// stays readable.
func (c *Call) close() {
	if c.cancel != nil {
		c.cancel()
		<-c.done
	}
	c.end("server closed")
}

// end releases the call's endpoints (once), noting why; its state stays
// readable.
func (c *Call) end(why string) {
	c.mu.Lock()
	if c.ending {
		c.mu.Unlock()
		return
	}
	c.ending = true
	if c.ice != nil {
		c.snapshotICE()
	}
	c.mu.Unlock()
	c.log.Info("call ended", "why", why)
	c.release()
	// Ended is published only now, so that a reader who sees it also sees
	// the endpoints released (the association Closed, not Established).
	c.mu.Lock()
	c.state.Ended = why
	c.mu.Unlock()
}

// release stops and destroys whatever the call created.
func (c *Call) release() {
	c.mu.Lock()
	a := c.assoc
	c.mu.Unlock()
	if a != nil {
		a.Close() // close_notify, if established
	}
	c.echo.close()
	if c.ice != nil {
		c.ice.Close()
	}
	for _, h := range []interface {
		Stop() error
		Destroy() error
	}{c.tx, c.rx, c.v} {
		h.Stop() // a nil handle returns ErrNilHandle
		h.Destroy()
	}
}

// waitPorts waits for the VMP[rx]'s GotPorts.
func waitPorts(ctx context.Context, v *vmprx.VMPRx) error {
	ev, err := v.Event()
	if err != nil {
		return err
	}
	for {
		st, err := v.Status()
		if err != nil {
			return err
		}
		switch st {
		case vmprx.GotPorts:
			return nil
		case vmprx.Stopped:
			return fmt.Errorf("VMP[rx] stopped before binding: %w", v.Err())
		}
		if err := ev.Wait(ctx); err != nil {
			return err
		}
	}
}
