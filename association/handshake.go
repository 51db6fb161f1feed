package association

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/pion/dtls/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/credpool"
)

// handshake runs handshake attempts until one completes, one fails, the
// timeout passes or the association is closed. A failed attempt ends the
// handshake at once with its cause (handshakeFailure), except where a
// mediaport peer recovers by trying again, which is then waited for:
//
//   - a client whose server's PSK hint chose a credential other than the
//     one it announced tries once more with it; a server that sent a hint
//     waits once for that retry after the client's internal_error alert;
//   - a client holding PSK and ECDSA credentials whose attempt with the
//     certificate suites failed other than by its own check of the peer
//     (fingerprint, public key, SRTP profile) offers the PSK suites; a
//     server holding a PSK credential waits once for that retry after
//     finding no common cipher suite.
//
// A server also keeps waiting after an attempt pion ended on a record it
// could not take — one that does not decode, or a message out of order
// (we sent decode_error or unexpected_message, see negotiated): such a
// record may be spoofed from the peer's address, and ending the handshake
// on it would let one datagram take the server down.
//
// A server waiting for a retry that never comes fails at the timeout,
// with the cause of its last attempt.
//
// The timeout runs on the module's clock (Bind starts it); pion's
// retransmissions of its flights (FlightInterval) run on its own timers,
// inside pion.
func (a *Association) handshake(ctx context.Context) error {
	for a.peer.Load() == nil {
		if a.closing.Load() {
			return ErrClosed
		}
		select {
		case <-a.wake:
		case <-ctx.Done():
			return fmt.Errorf("%w after %v: no ClientHello", ErrHandshakeTimeout, a.cfg.HandshakeTimeout)
		}
	}
	var pskRetried, hintRetried, suiteRetried bool
	var last error // the cause of the last failed attempt
	for {
		actx, acancel := a.attempt(ctx)
		c, w, err := a.newConn()
		if err != nil {
			acancel()
			return err
		}
		err = c.HandshakeContext(actx)
		acancel()
		if err == nil {
			return nil
		}
		if a.closing.Load() {
			c.Close()
			return ErrClosed
		}
		if a.restarted() && ctx.Err() == nil {
			c.Close() // a learning server's new peer: a new attempt
			a.dropEarly()
			continue
		}
		var fail error // why the attempt failed, unless the timeout ended it
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			fail = handshakeFailure(err, &w.sent) // before Close, which may send an alert of its own
		}
		c.Close()
		if ctx.Err() != nil {
			switch {
			case fail != nil:
				last = fail
			case last == nil:
				last = err
			}
			return fmt.Errorf("%w after %v: %w", ErrHandshakeTimeout, a.cfg.HandshakeTimeout, last)
		}
		if fail == nil {
			fail = handshakeFailure(err, &w.sent)
		}
		if closedAtOnce(fail, w) {
			return io.EOF // a close, not a failure: finish reports Closed
		}
		retry := false
		a.mu.Lock()
		if a.role == Client {
			switch {
			case a.certFirst && !a.pskOnly && !errors.Is(fail, ErrFingerprint) && !errors.Is(fail, ErrPeerKey) && !errors.Is(fail, ErrNoSRTPProfile):
				a.pskOnly = true // the certificate suites failed (not our check of the peer): the PSK suites
				retry = true
			case a.pskTag != mediaport.TagEmpty && !pskRetried:
				pskRetried = true // the hint chose another PSK
				retry = true
			}
		} else {
			hasPSK := len(credpool.Matching(a.mod, a.cfg.tagList(), mediaport.CredPSK)) > 0
			var al *AlertError
			switch {
			case hasPSK && errors.Is(fail, ErrNoCipherSuite) && !suiteRetried:
				suiteRetried = true // a mixed client offers the PSK suites next
				retry = true
			case hasPSK && a.cfg.PSKHint != "" && !hintRetried && errors.As(fail, &al) && al.Received && al.Description == AlertInternalError:
				hintRetried = true // the client's PSK choice changed with our hint
				retry = true
			case !negotiated(fail):
				// pion refused a record it could not take (a ChangeCipherSpec
				// out of place, a message that does not decode): garbage,
				// perhaps spoofed from the peer's address, which must not end
				// the handshake; the peer's own flights are still to come.
				retry = true
			}
		}
		a.mu.Unlock()
		if !retry {
			return fail
		}
		last = fail
		a.mod.Log.Debug("association handshake attempt failed, waiting for a retry", "peer", a.Peer(), "role", a.role, "err", fail)
		a.raw.Reset()
		a.dropEarly() // keyed for the failed attempt
	}
}

// negotiated reports whether a failed attempt is a negotiation's outcome —
// our own check of the peer, no common suite or profile or credential, or
// an alert the peer sent — rather than pion refusing a record that did not
// parse or came out of order.
func negotiated(fail error) bool {
	var al *AlertError
	switch {
	case errors.Is(fail, ErrFingerprint), errors.Is(fail, ErrPeerKey), errors.Is(fail, ErrNoSRTPProfile),
		errors.Is(fail, ErrNoCipherSuite), errors.Is(fail, ErrNoCredential):
		return true
	case errors.As(fail, &al):
		return al.Received || (al.Description != AlertDecodeError && al.Description != AlertUnexpectedMessage)
	}
	return false
}

// newConn creates the pion/dtls Conn of one handshake attempt over a fresh
// PacketConn (pion closes it when the attempt fails).
func (a *Association) newConn() (*dtls.Conn, *watchedConn, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing.Load() {
		return nil, nil, ErrClosed
	}
	raddr := (*peerAddr)(a.peer.Load())
	// One object for both: an idle association keeps it.
	pc := &watchedConn{packetConn: packetConn{a: a}, forceRI: a.cfg.ForceRenegotiationInfo}
	if p := a.attemptPeer(); p.IsValid() {
		pc.peer = &p
	}
	var c *dtls.Conn
	var err error
	if a.role == Client {
		opts, oerr := a.clientOptions()
		if oerr != nil {
			return nil, nil, oerr
		}
		c, err = dtls.ClientWithOptions(pc, raddr, opts...)
	} else {
		opts, oerr := a.serverOptions()
		if oerr != nil {
			return nil, nil, oerr
		}
		c, err = dtls.ServerWithOptions(pc, raddr, opts...)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("association: %w", err)
	}
	a.conn, a.pc = c, pc
	return c, pc, nil
}

// verifyPeer is pion's VerifyPeerCertificate hook: fingerprints, then the
// accepted public keys; nil when the association checks neither.
func (a *Association) verifyPeer(cred *mediaport.Credential) func([][]byte, [][]*x509.Certificate) error {
	var accepted []crypto.PublicKey // not cred: pion keeps the hook as long as the Conn
	if cred != nil {
		accepted = cred.ECDSA.PeerPublicKeys
	}
	// pion may call the hook after the handshake's end, which frees
	// a.cfg: it keeps what it needs.
	fingerprints, _ := parseFingerprints(a.cfg.PeerFingerprints) // Bind checked them
	verifyKey := a.cfg.VerifyPeerKey
	if len(fingerprints) == 0 && !verifyKey {
		return nil // nothing to check: any certificate, or none, will do
	}
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			if len(fingerprints) > 0 || verifyKey {
				return fmt.Errorf("%w: the peer presented no certificate", ErrPeerKey)
			}
			return nil
		}
		if len(fingerprints) > 0 && !matchFingerprint(raw[0], fingerprints) {
			return ErrFingerprint
		}
		if verifyKey {
			cert, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return fmt.Errorf("%w: %v", ErrPeerKey, err)
			}
			pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
			if !ok {
				return ErrPeerKey
			}
			for _, k := range accepted {
				if kp, ok := k.(*ecdsa.PublicKey); ok && kp.Equal(pub) {
					return nil
				}
			}
			return ErrPeerKey
		}
		return nil
	}
}

// certificate chooses the ECDSA credential to present.
func (a *Association) certificate() *mediaport.Credential {
	tags := a.cfg.tagList()
	creds := credpool.Matching(a.mod, tags, mediaport.CredECDSA)
	if len(creds) == 0 {
		return nil
	}
	if a.cfg.SelectCertificate != nil {
		if tag := a.cfg.SelectCertificate(a.Peer(), tags); tag != mediaport.TagEmpty {
			for i := range creds {
				if creds[i].Tag == tag {
					return &creds[i]
				}
			}
		}
	}
	return &creds[0]
}

// ChoosePSK applies RIOT's client PSK choice (docs/conformance.md, RIOT 4) to the
// PSK credentials creds (in tag order): the callback's tag if it names one
// of them; else, without a hint, the first; with a hint, the first whose
// hint matches, else the first. It returns false when creds is empty.
func ChoosePSK(hint string, tags []mediaport.CredTag, creds []mediaport.Credential, cb func(string, []mediaport.CredTag) mediaport.CredTag) (mediaport.Credential, bool) {
	if len(creds) == 0 {
		return mediaport.Credential{}, false
	}
	if cb != nil {
		if tag := cb(hint, tags); tag != mediaport.TagEmpty {
			for _, c := range creds {
				if c.Tag == tag {
					return c, true
				}
			}
		}
	}
	if hint != "" {
		for _, c := range creds {
			if c.PSK.Hint == hint {
				return c, true
			}
		}
	}
	return creds[0], true
}

func (a *Association) commonOptions(psk, ecdsaCred bool) []dtls.Option {
	var suites []dtls.CipherSuiteID
	if ecdsaCred {
		suites = append(suites, ecdsaSuites...)
	}
	if psk {
		suites = append(suites, pskSuites...)
	}
	opts := []dtls.Option{
		dtls.WithCipherSuites(suites...),
		dtls.WithMTU(a.cfg.MTU),
		dtls.WithExtendedMasterSecret(a.emsMode()),
		dtls.WithLoggerFactory(pionLog{a.mod.Log}),
	}
	switch {
	case len(a.cfg.SRTPProfiles) > 0:
		opts = append(opts, dtls.WithSRTPProtectionProfiles(pionProfiles(a.cfg.SRTPProfiles)...))
	case a.role == Server:
		// A server with no profiles still answers a use_srtp offer (WebRTC
		// peers send one even for data channels only): pion's server
		// aborts with insufficient_security when it shares no profile
		// with the client, and cannot leave use_srtp out of its
		// ServerHello instead. See Config.SRTPProfiles.
		opts = append(opts, dtls.WithSRTPProtectionProfiles(pionProfiles(answerProfiles)...))
	}
	if a.cfg.FlightInterval > 0 {
		opts = append(opts, dtls.WithFlightInterval(a.cfg.FlightInterval))
	}
	return opts
}

func (a *Association) clientOptions() ([]dtls.ClientOption, error) {
	tags := a.cfg.tagList() // pion may call the hook after a.cfg is freed
	psks := credpool.Matching(a.mod, tags, mediaport.CredPSK)
	cert := a.certificate()
	// Given a PSK callback, pion's client cannot complete a certificate
	// suite: it waits for a ServerKeyExchange where the server sends its
	// Certificate, until the timeout. Holding both kinds, offer the
	// certificate suites, then, if that attempt fails, the PSK suites.
	a.certFirst = len(psks) > 0 && cert != nil && !a.pskOnly
	switch {
	case a.certFirst:
		psks = nil
	case a.pskOnly:
		cert = nil
	}
	var opts []dtls.ClientOption
	for _, o := range a.commonOptions(len(psks) > 0, cert != nil) {
		opts = append(opts, o)
	}
	if cert != nil {
		opts = append(opts, dtls.WithCertificates(cert.ECDSA.Certificate), dtls.WithInsecureSkipVerify(true))
		if v := a.verifyPeer(cert); v != nil {
			opts = append(opts, dtls.WithVerifyPeerCertificate(v))
		}
	}
	if len(psks) > 0 {
		// The identity goes out in ClientKeyExchange, after the server's
		// hint is known, but pion takes it before the handshake: announce
		// the credential chosen last time (or without a hint), and retry
		// once if the hint chooses another.
		announced, _ := ChoosePSK("", tags, psks, nil)
		if a.pskTag != mediaport.TagEmpty {
			for _, c := range psks {
				if c.Tag == a.pskTag {
					announced = c
				}
			}
		}
		identity := announced.PSK.Identity
		if identity == nil {
			identity = []byte{}
		}
		var cb func(string, []mediaport.CredTag) mediaport.CredTag
		if pcb := a.cfg.ClientPSK; pcb != nil {
			peer := a.Peer()
			cb = func(hint string, tags []mediaport.CredTag) mediaport.CredTag { return pcb(peer, hint, tags) }
		}
		opts = append(opts, dtls.WithPSKIdentityHint(identity), dtls.WithPSK(func(hint []byte) ([]byte, error) {
			chosen, ok := ChoosePSK(string(hint), tags, credpool.Matching(a.mod, tags, mediaport.CredPSK), cb)
			if !ok {
				return nil, ErrNoCredential
			}
			if chosen.Tag != announced.Tag && string(chosen.PSK.Identity) != string(announced.PSK.Identity) {
				a.mu.Lock()
				a.pskTag = chosen.Tag
				a.mu.Unlock()
				return nil, fmt.Errorf("association: hint %q chose PSK tag %d, retrying", hint, chosen.Tag)
			}
			return chosen.PSK.Key, nil
		}))
	}
	return opts, nil
}

func (a *Association) serverOptions() ([]dtls.ServerOption, error) {
	tags := a.cfg.tagList() // pion may call the hook after a.cfg is freed
	psks := credpool.Matching(a.mod, tags, mediaport.CredPSK)
	cert := a.certificate()
	var opts []dtls.ServerOption
	for _, o := range a.commonOptions(len(psks) > 0, cert != nil) {
		opts = append(opts, o)
	}
	if cert != nil {
		// A client certificate is asked for only when something checks it:
		// the handshake costs two fewer signatures otherwise.
		auth := dtls.NoClientCert
		if a.cfg.VerifyPeerKey || len(a.cfg.PeerFingerprints) > 0 {
			auth = dtls.RequireAnyClientCert
		}
		opts = append(opts, dtls.WithCertificates(cert.ECDSA.Certificate), dtls.WithClientAuth(auth),
			dtls.WithInsecureSkipVerify(true))
		if v := a.verifyPeer(cert); v != nil {
			opts = append(opts, dtls.WithVerifyPeerCertificate(v))
		}
	}
	if len(psks) > 0 {
		if a.cfg.PSKHint != "" {
			opts = append(opts, dtls.WithPSKIdentityHint([]byte(a.cfg.PSKHint)))
		}
		opts = append(opts, dtls.WithPSK(func(identity []byte) ([]byte, error) {
			for _, c := range credpool.Matching(a.mod, tags, mediaport.CredPSK) {
				if string(c.PSK.Identity) == string(identity) {
					return c.PSK.Key, nil
				}
			}
			return nil, fmt.Errorf("%w: unknown PSK identity %q", ErrNoCredential, identity)
		}))
	}
	return opts, nil
}

// closedAtOnce reports whether a failed attempt ended with the peer's
// close_notify under the new keys (an alert record of epoch 1 reached
// pion): the peer had finished its handshake and closed at once, and pion
// took the alert before its own end of the handshake. That is the peer
// closing, as after an established handshake, not a failure; a
// close_notify in the clear (epoch 0) still fails the attempt.
func closedAtOnce(fail error, w *watchedConn) bool {
	var al *AlertError
	return errors.As(fail, &al) && al.Received && al.Description == AlertCloseNotify && len(w.takenAlerts()) > 0
}
