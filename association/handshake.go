package association

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/pion/dtls/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/credpool"
)

// handshake runs handshake attempts until one completes, the timeout
// passes or the association is closed. A client makes another attempt only
// when the server's PSK hint chose a credential other than the one it
// announced, or when, holding PSK and ECDSA credentials, its attempt with
// the certificate suites failed other than by its own check of the peer
// (then it offers the PSK suites); a server starts over after a failed
// attempt (the client may retry), like a listening socket, and fails only
// at the timeout, when ctx ends.
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
	pskRetried := false
	for {
		c, err := a.newConn()
		if err != nil {
			return err
		}
		err = c.HandshakeContext(ctx)
		if err == nil {
			return nil
		}
		c.Close()
		a.mu.Lock()
		closing := a.closing.Load()
		retry := !closing && ctx.Err() == nil
		if a.role == Client {
			switch {
			case a.certFirst && !a.pskOnly && !errors.Is(err, ErrFingerprint) && !errors.Is(err, ErrPeerKey):
				a.pskOnly = true // the certificate suites failed (not our check of the peer): the PSK suites
			case a.pskTag != mediaport.TagEmpty && !pskRetried:
				pskRetried = true // the hint chose another PSK
			default:
				retry = false
			}
		}
		a.mu.Unlock()
		switch {
		case closing:
			return ErrClosed
		case ctx.Err() != nil:
			return fmt.Errorf("%w after %v: %w", ErrHandshakeTimeout, a.cfg.HandshakeTimeout, err)
		case !retry:
			return err
		}
		a.mod.Log.Debug("association handshake attempt failed", "peer", a.Peer(), "role", a.role, "err", err)
		a.raw.Reset()
		a.dropEarly() // keyed for the failed attempt
	}
}

// newConn creates the pion/dtls Conn of one handshake attempt over a fresh
// PacketConn (pion closes it when the attempt fails).
func (a *Association) newConn() (*dtls.Conn, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing.Load() {
		return nil, ErrClosed
	}
	raddr := (*peerAddr)(a.peer.Load())
	pc := &packetConn{a: a}
	var c *dtls.Conn
	var err error
	if a.role == Client {
		opts, oerr := a.clientOptions()
		if oerr != nil {
			return nil, oerr
		}
		c, err = dtls.ClientWithOptions(pc, raddr, opts...)
	} else {
		opts, oerr := a.serverOptions()
		if oerr != nil {
			return nil, oerr
		}
		c, err = dtls.ServerWithOptions(pc, raddr, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("association: %w", err)
	}
	a.conn = c
	return c, nil
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
	fingerprints, verifyKey := a.cfg.PeerFingerprints, a.cfg.VerifyPeerKey
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
		if len(fingerprints) > 0 {
			got := sha256.Sum256(raw[0])
			match := false
			for _, fp := range fingerprints {
				if want, _ := parseFingerprint(fp); string(want) == string(got[:]) {
					match = true
				}
			}
			if !match {
				return ErrFingerprint
			}
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
	creds := credpool.Matching(a.mod, a.cfg.Tags, mediaport.CredECDSA)
	if len(creds) == 0 {
		return nil
	}
	if a.cfg.SelectCertificate != nil {
		if tag := a.cfg.SelectCertificate(a.cfg.Tags); tag != mediaport.TagEmpty {
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
		dtls.WithExtendedMasterSecret(dtls.RequestExtendedMasterSecret),
		dtls.WithLoggerFactory(pionLog{a.mod.Log}),
	}
	if len(a.cfg.SRTPProfiles) > 0 {
		opts = append(opts, dtls.WithSRTPProtectionProfiles(pionProfiles(a.cfg.SRTPProfiles)...))
	}
	if a.cfg.FlightInterval > 0 {
		opts = append(opts, dtls.WithFlightInterval(a.cfg.FlightInterval))
	}
	return opts
}

func (a *Association) clientOptions() ([]dtls.ClientOption, error) {
	psks := credpool.Matching(a.mod, a.cfg.Tags, mediaport.CredPSK)
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
		announced, _ := ChoosePSK("", a.cfg.Tags, psks, nil)
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
		tags, cb := a.cfg.Tags, a.cfg.ClientPSK // pion may call the hook after a.cfg is freed
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
	psks := credpool.Matching(a.mod, a.cfg.Tags, mediaport.CredPSK)
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
		tags := a.cfg.Tags // pion may call the hook after a.cfg is freed
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
