// Package srtp protects RTP and RTCP with the keys of a DTLS-SRTP
// association (RFC 3711, RFC 5764, RFC 7714): a Session holds the SRTP and
// SRTCP contexts of both directions, keyed from association.SRTPKeys, and
// encrypts with the local key what this side sends and decrypts with the
// remote key what it receives.
//
//	keys, err := a.SRTPKeys() // once the association is established
//	...
//	s, err := srtp.New(keys)
//	...
//	err = v.ConfigSRTP(s) // the VMP[rx] decrypts what it queues
//	err = d.ConfigSRTP(s) // the dispatcher encrypts what it sends
//
// Every profile an association negotiates is supported:
// SRTP_AEAD_AES_128_GCM, SRTP_AEAD_AES_256_GCM,
// SRTP_AES128_CM_HMAC_SHA1_80 and SRTP_AES128_CM_HMAC_SHA1_32. Received
// packets are checked against a replay window per SSRC (ReplayWindow
// packets for SRTP, ReplayWindowRTCP for SRTCP) and the rollover counter
// of each SSRC is followed, in both directions, as RFC 3711 §3.3.1
// describes. The cryptography is pion/srtp's (github.com/pion/srtp/v3).
package srtp

import (
	"errors"
	"fmt"
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
)

// Replay windows: how far behind the newest packet of an SSRC a packet may
// arrive and still be accepted (once). ReplayWindow is libwebrtc's.
const (
	ReplayWindow     = 1024
	ReplayWindowRTCP = 128
)

// Overhead is the most bytes protection adds to a packet: the SRTCP index
// and a 16-byte GCM tag. A buffer of len(p)+Overhead bytes holds the
// protected form of p under every profile.
const Overhead = 20

// Errors of DecryptRTP and DecryptRTCP, which wrap one of them.
var (
	// ErrAuth: the packet is not authentic — its tag does not match, or
	// it is too short or malformed to be checked — and was not
	// decrypted.
	ErrAuth = errors.New("srtp: authentication failed")
	// ErrReplay: a packet with this index was already accepted, or it is
	// older than the replay window.
	ErrReplay = errors.New("srtp: replayed packet")
)

// Session is the SRTP and SRTCP state of one DTLS-SRTP association: four
// pion contexts (RTP and RTCP, in and out), each under a mutex of its own,
// so that receiving on one goroutine and sending on others do not
// contend. Its methods are safe for concurrent use. A nil or zero Session
// returns ErrNilHandle from every method.
type Session struct {
	profile association.SRTPProfile
	dir     [4]direction // rtpIn, rtcpIn, rtpOut, rtcpOut
}

const (
	rtpIn = iota
	rtcpIn
	rtpOut
	rtcpOut
)

// direction is one pion context and the headers it parses into, reused
// so that parsing allocates nothing.
type direction struct {
	mu   sync.Mutex
	c    *srtp.Context
	rtp  rtp.Header
	rtcp rtcp.Header
	_    [64]byte // keeps the next direction's mutex off this one's cache line
}

// New returns a Session keyed from keys: what it encrypts uses the local
// key and salt, what it decrypts the remote ones. It fails with an error
// matching ErrInvalidArgument when the profile is none or unknown, or the
// keys do not have the profile's lengths.
func New(keys association.SRTPKeys) (*Session, error) {
	p, err := pionProfile(keys.Profile)
	if err != nil {
		return nil, err
	}
	kl, _ := p.KeyLen()
	sl, _ := p.SaltLen()
	if len(keys.LocalKey) != kl || len(keys.RemoteKey) != kl || len(keys.LocalSalt) != sl || len(keys.RemoteSalt) != sl {
		return nil, fmt.Errorf("srtp: %w: %v needs keys of %d bytes and salts of %d", mediaport.ErrInvalidArgument, keys.Profile, kl, sl)
	}
	s := &Session{profile: keys.Profile}
	for i := range s.dir {
		key, salt := keys.RemoteKey, keys.RemoteSalt
		var opts []srtp.ContextOption
		switch i {
		case rtpIn:
			opts = []srtp.ContextOption{srtp.SRTPReplayProtection(ReplayWindow)}
		case rtcpIn:
			opts = []srtp.ContextOption{srtp.SRTCPReplayProtection(ReplayWindowRTCP)}
		default:
			key, salt = keys.LocalKey, keys.LocalSalt
		}
		c, err := srtp.CreateContext(key, salt, p, opts...)
		if err != nil {
			return nil, fmt.Errorf("srtp: %w", err)
		}
		s.dir[i].c = c
	}
	return s, nil
}

// pionProfile maps a DTLS-SRTP profile to pion's (the same IANA numbers).
func pionProfile(p association.SRTPProfile) (srtp.ProtectionProfile, error) {
	switch p {
	case association.SRTP_AES128_CM_HMAC_SHA1_80:
		return srtp.ProtectionProfileAes128CmHmacSha1_80, nil
	case association.SRTP_AES128_CM_HMAC_SHA1_32:
		return srtp.ProtectionProfileAes128CmHmacSha1_32, nil
	case association.SRTP_AEAD_AES_128_GCM:
		return srtp.ProtectionProfileAeadAes128Gcm, nil
	case association.SRTP_AEAD_AES_256_GCM:
		return srtp.ProtectionProfileAeadAes256Gcm, nil
	}
	return 0, fmt.Errorf("srtp: %w: profile %v", mediaport.ErrInvalidArgument, p)
}

// valid reports whether s is a Session made by New (not nil, not zero).
func (s *Session) valid() bool { return s != nil && s.dir[rtcpOut].c != nil }

// Profile returns the session's protection profile.
func (s *Session) Profile() (association.SRTPProfile, error) {
	if !s.valid() {
		return 0, mediaport.ErrNilHandle
	}
	return s.profile, nil
}

// EncryptRTP protects the RTP packet p with the local key and returns the
// SRTP packet, written into dst from its start: dst may be p itself (then
// p is encrypted in place) and is grown, allocating, only when its
// capacity is under len(p)+Overhead. The rollover counter of p's SSRC
// follows its sequence numbers.
func (s *Session) EncryptRTP(dst, p []byte) ([]byte, error) {
	if !s.valid() {
		return nil, mediaport.ErrNilHandle
	}
	d := &s.dir[rtpOut]
	d.mu.Lock()
	out, err := d.c.EncryptRTP(dst, p, &d.rtp)
	d.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("srtp: encrypt RTP: %w", err)
	}
	return out, nil
}

// EncryptRTCP protects the RTCP packet (or compound packet) p with the
// local key and returns the SRTCP packet, written into dst as EncryptRTP
// does.
func (s *Session) EncryptRTCP(dst, p []byte) ([]byte, error) {
	if !s.valid() {
		return nil, mediaport.ErrNilHandle
	}
	d := &s.dir[rtcpOut]
	d.mu.Lock()
	out, err := d.c.EncryptRTCP(dst, p, &d.rtcp)
	d.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("srtp: encrypt RTCP: %w", err)
	}
	return out, nil
}

// DecryptRTP authenticates the SRTP packet p with the remote key, checks
// it against the replay window and returns the RTP packet, written into
// dst from its start: dst may be p itself (then p is decrypted in place).
// A packet that fails returns an error matching ErrAuth or ErrReplay and
// leaves the session's state as it was; in place, p's contents are then
// undefined.
func (s *Session) DecryptRTP(dst, p []byte) ([]byte, error) {
	if !s.valid() {
		return nil, mediaport.ErrNilHandle
	}
	d := &s.dir[rtpIn]
	d.mu.Lock()
	out, err := d.c.DecryptRTP(dst, p, &d.rtp)
	d.mu.Unlock()
	if err != nil {
		return nil, classify(err)
	}
	return out, nil
}

// DecryptRTCP is DecryptRTP for SRTCP.
func (s *Session) DecryptRTCP(dst, p []byte) ([]byte, error) {
	if !s.valid() {
		return nil, mediaport.ErrNilHandle
	}
	d := &s.dir[rtcpIn]
	d.mu.Lock()
	out, err := d.c.DecryptRTCP(dst, p, &d.rtcp)
	d.mu.Unlock()
	if err != nil {
		return nil, classify(err)
	}
	return out, nil
}

// classify wraps a decryption error of pion's in ErrReplay or ErrAuth.
func classify(err error) error {
	if errors.Is(err, duplicated()) {
		return fmt.Errorf("%w: %w", ErrReplay, err)
	}
	return fmt.Errorf("%w: %w", ErrAuth, err)
}

// duplicated returns pion's error for a replayed packet, which it does
// not export: the error a second decryption of one packet wraps. It is
// found once, the first time a decryption fails.
var duplicated = sync.OnceValue(func() error {
	key, salt := make([]byte, 16), make([]byte, 14)
	p := srtp.ProtectionProfileAes128CmHmacSha1_80
	enc, err := srtp.CreateContext(key, salt, p)
	if err != nil {
		return err
	}
	dec, err := srtp.CreateContext(key, salt, p, srtp.SRTPReplayProtection(ReplayWindow))
	if err != nil {
		return err
	}
	pkt, err := enc.EncryptRTP(nil, []byte{0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0}, nil)
	if err != nil {
		return err
	}
	if _, err := dec.DecryptRTP(nil, pkt, nil); err != nil {
		return err
	}
	_, err = dec.DecryptRTP(nil, pkt, nil)
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
})
