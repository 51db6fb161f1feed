package stun

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/pion/stun/v3"
)

// OnRxPkt gives the session a received packet (pj_stun_session_on_rx_pkt).
// token comes back in the callbacks; src is where the packet came from. It
// returns the length of the message parsed (for stream transports, where
// pkt may hold more), and ErrSessionDestroyed when a callback destroyed the
// session.
//
// Requests are answered from the response cache when retransmitted; else
// validated (400 for a malformed one, 420 with UNKNOWN-ATTRIBUTES for
// unknown comprehension-required attributes), authenticated when a
// credential is set (401, 438, 400), and given to OnRxRequest (400 without
// one). Responses complete their transaction; unmatched ones are dropped.
// Invalid responses and indications are dropped. Refusing a packet
// allocates nothing.
//
// Amplification. The error answers the session generates (400, 401, 420,
// 438) go to a source nobody has authenticated, which may be spoofed. RFC
// 5389 §10.1.2 and RFC 8489 §9.1.3 ask a short-term server for 400 to a
// request without MESSAGE-INTEGRITY and 401 to a bad USERNAME or HMAC, and
// RFC 8445 §7.3 applies them to ICE checks; those answers are often larger
// than the request (400 to a bare 20-byte header: 48 bytes; a long-term
// 401 with REALM and NONCE: 4×). So such an answer is sent at once only
// when it is no larger than its request; a larger one takes a token from a
// bucket on the session's clock — the module's, shared by every session
// made with ModuleConfig (core.AnswerBurst at once, core.AnswerRate a
// second), else the session's own — and without a token it is not sent
// and counted in Stats.Suppressed. A peer that retransmits gets its answer
// once the flood has passed; an attacker gets at most the bucket's rate of
// answers larger than what it sent.
func (s *Session) OnRxPkt(pkt []byte, opts DecodeOptions, token any, src netip.AddrPort) (n int, err error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.lock.Unlock()
	s.stats.Received++
	defer func() { // before the unlock
		if errors.Is(err, ErrInvalidMessage) || errors.Is(err, ErrIntegrity) {
			s.stats.Invalid++
		}
	}()
	n, err = messageLen(pkt, opts)
	if err != nil {
		return n, err
	}
	rb := s.rxPool.Get().(*rxBuf)
	defer s.rxPool.Put(rb)
	m := rb.msg
	m.Raw = append(m.Raw[:0], pkt[:n]...)
	// Attributes that overrun the message are found here, before pion's
	// decoder, whose errors are formatted (allocated) for each packet.
	if !attrsFit(m.Raw) {
		return n, s.malformedLocked(rb, token, src)
	}
	// An RFC 3489 header carries no magic cookie, which pion's decoder
	// refuses: decode with the cookie, then put the real field back, so
	// that it takes part in matching (docs/conformance.md, pjnath 4) and the HMAC.
	magic := binary.BigEndian.Uint32(m.Raw[4:8])
	if magic != MagicCookie {
		binary.BigEndian.PutUint32(m.Raw[4:8], MagicCookie)
	}
	err = m.Decode()
	binary.BigEndian.PutUint32(m.Raw[4:8], magic)
	if err != nil {
		return n, s.malformedLocked(rb, token, src)
	}
	switch m.Type.Class {
	case stun.ClassRequest:
		return n, s.rxRequestLocked(rb, opts, token, src, magic)
	case stun.ClassIndication:
		if _, bad := validate(m, opts&NoFingerprintCheck == 0, rb.unknown); bad {
			return n, errBadAttrs
		}
		s.logMsg(LogRxInd, "rx indication", m, src)
		if s.cb.OnRxIndication == nil {
			return n, nil
		}
		var cbErr error
		if s.call(func() { cbErr = s.cb.OnRxIndication(s, m.Raw, m, token, src) }) {
			return n, ErrSessionDestroyed
		}
		return n, cbErr
	default:
		return n, s.rxResponseLocked(m, opts, src, magic)
	}
}

// Why OnRxPkt refused a packet; each matches ErrInvalidMessage. They are
// made once: refusing a packet allocates nothing.
var (
	errShort      = fmt.Errorf("%w: shorter than a STUN header", ErrInvalidMessage)
	errNotSTUN    = fmt.Errorf("%w: not STUN (first bits)", ErrInvalidMessage)
	errAlign      = fmt.Errorf("%w: length not a multiple of 4", ErrInvalidMessage)
	errLength     = fmt.Errorf("%w: length field does not match the datagram", ErrInvalidMessage)
	errNoCookie   = fmt.Errorf("%w: no magic cookie", ErrInvalidMessage)
	errMalformed  = fmt.Errorf("%w: attributes overrun the message", ErrInvalidMessage)
	errBadAttrs   = fmt.Errorf("%w: attributes out of order or bad FINGERPRINT", ErrInvalidMessage)
	errMethod     = fmt.Errorf("%w: response of another method", ErrInvalidMessage)
	errNoErrorAtt = fmt.Errorf("%w: error response without ERROR-CODE", ErrInvalidMessage)
)

// messageLen checks the framing of pkt and returns the message length.
func messageLen(pkt []byte, opts DecodeOptions) (int, error) {
	if len(pkt) < headerSize {
		if opts&IsDatagram == 0 {
			return 0, ErrIncomplete
		}
		return 0, errShort
	}
	if pkt[0]&0xc0 != 0 {
		return 0, errNotSTUN
	}
	body := int(binary.BigEndian.Uint16(pkt[2:4]))
	if body%4 != 0 {
		return 0, errAlign
	}
	n := headerSize + body
	switch {
	case opts&IsDatagram != 0 && n != len(pkt):
		return 0, errLength
	case n > len(pkt):
		return 0, ErrIncomplete
	}
	if opts&CheckPacket != 0 && binary.BigEndian.Uint32(pkt[4:8]) != MagicCookie {
		return 0, errNoCookie
	}
	return n, nil
}

// attrsFit reports whether the attributes of message raw (whose length
// field matches it) each fit in it, padding included.
func attrsFit(raw []byte) bool {
	for off := headerSize; off < len(raw); {
		if off+4 > len(raw) {
			return false
		}
		l := int(binary.BigEndian.Uint16(raw[off+2:]))
		off += 4 + (l+3)&^3
		if off > len(raw) {
			return false
		}
	}
	return true
}

func isRequestType(pkt []byte) bool {
	t := binary.BigEndian.Uint16(pkt[0:2])
	return t&0x0110 == 0 && binary.BigEndian.Uint32(pkt[4:8]) == MagicCookie
}

// malformedLocked handles a message whose header is sound but whose body
// does not decode: a request gets 400 (within the answer budget, see
// OnRxPkt), anything else is dropped; either way it returns an error
// matching ErrInvalidMessage, or ErrSessionDestroyed.
func (s *Session) malformedLocked(rb *rxBuf, token any, src netip.AddrPort) error {
	raw := rb.msg.Raw
	if !isRequestType(raw) {
		return errMalformed
	}
	if err := s.rejectRaw(rb, 400, token, src); errors.Is(err, ErrSessionDestroyed) {
		return err
	}
	return errMalformed
}

// rejectRaw answers a request that could not be decoded with code, built
// from its header alone.
func (s *Session) rejectRaw(rb *rxBuf, code int, token any, src netip.AddrPort) error {
	m := rb.msg
	m.Type.ReadValue(binary.BigEndian.Uint16(m.Raw[0:2]))
	m.Length = uint32(len(m.Raw) - headerSize)
	copy(m.TransactionID[:], m.Raw[8:20])
	m.Attributes = m.Attributes[:0]
	rdata := &rb.rdata
	*rdata = RxData{Msg: m, Src: src, magic: binary.BigEndian.Uint32(m.Raw[4:8])}
	s.logMsg(LogRxReq, "rx request (malformed)", m, src)
	res, err := s.createResLocked(rdata, code, "")
	if err != nil {
		return err
	}
	res.reqLen = len(m.Raw)
	return s.sendMsgLocked(token, false, false, src, res)
}

func (s *Session) rxRequestLocked(rb *rxBuf, opts DecodeOptions, token any, src netip.AddrPort, magic uint32) error {
	m := rb.msg
	s.logMsg(LogRxReq, "rx request", m, src)
	if c := s.cache[tsxKey{magic, m.TransactionID}]; c != nil {
		// A retransmission: answer from the cache (docs/conformance.md, pjnath 10).
		raw := c.raw
		var err error
		if s.call(func() { err = s.cb.OnSendMsg(s, c.token, raw, src) }) {
			return ErrSessionDestroyed
		}
		return err
	}
	rdata := &rb.rdata
	*rdata = RxData{Msg: m, Src: src, magic: magic}
	unknown, bad := validate(m, opts&NoFingerprintCheck == 0, rb.unknown)
	rb.unknown = unknown
	switch {
	case bad:
		return s.respondLocked(rdata, 400, token, src, nil)
	case len(unknown) > 0:
		return s.respondLocked(rdata, 420, token, src, unknown)
	}
	if s.cred != nil && opts&NoAuthenticate == 0 {
		r := s.authenticate(m)
		if r.code != 0 {
			rdata.realm, rdata.nonce = r.realm, r.nonce
			return s.respondLocked(rdata, r.code, token, src, nil)
		}
		rdata.key = r.key
	}
	if s.cb.OnRxRequest == nil {
		return s.respondLocked(rdata, 400, token, src, nil)
	}
	var err error
	if s.call(func() { err = s.cb.OnRxRequest(s, m.Raw, rdata, token, src) }) {
		return ErrSessionDestroyed
	}
	return err
}

// respondLocked sends an error response generated by the session.
func (s *Session) respondLocked(rdata *RxData, code int, token any, src netip.AddrPort, unknown []stun.AttrType) error {
	t, err := s.createResLocked(rdata, code, "")
	if err != nil {
		return err
	}
	t.reqLen = len(rdata.Msg.Raw)
	if len(unknown) > 0 {
		var v [64]byte
		n := 0
		for _, a := range unknown {
			if n+2 > len(v) {
				break
			}
			binary.BigEndian.PutUint16(v[n:], uint16(a))
			n += 2
		}
		t.Msg.Add(stun.AttrUnknownAttributes, v[:n])
	}
	return s.sendMsgLocked(token, false, false, src, t)
}

func (s *Session) rxResponseLocked(m *stun.Message, opts DecodeOptions, src netip.AddrPort, magic uint32) error {
	t := s.tsx[tsxKey{magic, m.TransactionID}]
	if t == nil || t.state != tsxPending {
		return nil // unmatched, or a duplicate while lingering: dropped silently
	}
	if _, bad := validate(m, opts&NoFingerprintCheck == 0, nil); bad {
		return errBadAttrs
	}
	if m.Type.Method != t.Msg.Type.Method {
		return errMethod
	}
	s.logMsg(LogRxRes, "rx response", m, src)
	var status error
	code := 0
	if m.Type.Class == stun.ClassErrorResponse {
		var ec stun.ErrorCodeAttribute
		if err := ec.GetFrom(m); err != nil {
			status = errNoErrorAtt
		} else {
			code = int(ec.Code)
			status = &StatusError{Code: code, Reason: string(ec.Reason)}
		}
	}
	// Integrity (docs/conformance.md, pjnath 16): a request sent with a key needs an
	// authentic response, except the errors that cannot carry one.
	if t.key != nil && code != 400 && code != 401 && code != 420 && code != 438 {
		if !checkIntegrity(m.Raw, t.key) {
			s.cfg.Logger.Debug("response dropped: integrity check failed", "tsx", fmt.Sprintf("%x", m.TransactionID))
			return ErrIntegrity
		}
	}
	if (code == 401 || code == 438) && s.authType == AuthLongTerm && s.cred != nil {
		if s.retryAuthLocked(t, m) {
			return nil
		}
	}
	s.completeLocked(t, status, m, src)
	if s.destroyed {
		return ErrSessionDestroyed
	}
	return nil
}

// retryAuthLocked applies the client retry rules (docs/conformance.md, pjnath 14)
// to a 401 or 438: without NONCE, or with the nonce already sent, or after
// three retries, the user is told (false); else the realm and nonce are
// saved and the request resent with a new transaction ID, the same
// destination, token and retransmit flag (true).
func (s *Session) retryAuthLocked(t *TxData, m *stun.Message) bool {
	nb, err := m.Get(stun.AttrNonce)
	if err != nil || len(nb) == 0 {
		return false
	}
	nonce := string(nb)
	if t.sentNonce != "" && nonce == t.sentNonce && t.key != nil {
		return false
	}
	if t.authTries >= maxAuthRetries {
		return false
	}
	if rb, err := m.Get(stun.AttrRealm); err == nil {
		s.realm = string(rb)
	}
	s.nonce = nonce
	if s.realm == "" {
		return false
	}
	t.stopTimer()
	delete(s.tsx, tsxKey{t.magic, t.Msg.TransactionID})
	t.authTries++
	t.Msg.TransactionID = stun.NewTransactionID()
	copy(t.Msg.Raw[8:20], t.Msg.TransactionID[:])
	if err := s.encodeLocked(t); err != nil {
		s.completeLocked(t, err, nil, netip.AddrPort{})
		return true
	}
	s.tsx[tsxKey{t.magic, t.Msg.TransactionID}] = t
	t.count = 0
	s.logMsg(LogTxReq, "tx request (authentication retry)", t.Msg, t.dst)
	destroyed, err := s.transmitLocked(t)
	if destroyed || t.state != tsxPending {
		return true
	}
	if err != nil {
		s.completeLocked(t, err, nil, netip.AddrPort{})
		return true
	}
	s.scheduleLocked(t)
	return true
}
