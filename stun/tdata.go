package stun

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/pion/stun/v3"

	"github.com/mediaport/mediaport"
)

type tdataKind uint8

const (
	kindRequest tdataKind = iota + 1
	kindIndication
	kindResponse
)

type tsxState uint8

const (
	tsxIdle      tsxState = iota // created, not sent
	tsxPending                   // sent, waiting for a response
	tsxLingering                 // completed with a response; absorbing duplicates
	tsxDone                      // freed
)

// TxData is a message the session sends (pj_stun_tx_data). Add attributes
// to Msg (with pion/stun setters or the Add* helpers) between Create* and
// SendMsg; SendMsg appends SOFTWARE, the credential, MESSAGE-INTEGRITY and
// FINGERPRINT. A request's TxData stays valid until OnRequestComplete has
// returned (CancelReq and RetransmitReq take it); a response's or an
// indication's is consumed by SendMsg.
type TxData struct {
	Msg *stun.Message

	sess   *Session
	kind   tdataKind
	magic  uint32
	pooled bool

	// Set by SendMsg.
	token      any
	dst        netip.AddrPort
	retransmit bool
	userLen    int // Msg.Raw length before SendMsg added its attributes
	userAttrs  int

	// Requests.
	key       []byte // integrity key sent with, to check the response
	sentNonce string
	authTries int
	state     tsxState
	count     int // transmissions so far
	timer     mediaport.Timer

	// Responses.
	rxKey        []byte // the request's key: MESSAGE-INTEGRITY on the response
	code         int
	realm, nonce string // long-term 401/438
	reqLen       int    // an answer the session generated: its request's size
}

// RxData is a request received by the session (pj_stun_rx_data), valid
// during OnRxRequest.
type RxData struct {
	Msg *stun.Message
	Src netip.AddrPort

	key          []byte
	magic        uint32
	realm, nonce string
}

// rxBuf is a pooled incoming message and its RxData.
type rxBuf struct {
	msg     *stun.Message
	rdata   RxData
	unknown []stun.AttrType
}

func newRxBuf() *rxBuf {
	b := &rxBuf{msg: newMessage(), unknown: make([]stun.AttrType, 0, 8)}
	b.rdata.Msg = b.msg
	return b
}

func (t *TxData) stopTimer() {
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
}

// AddXORMappedAddress adds XOR-MAPPED-ADDRESS for addr without allocating.
func (t *TxData) AddXORMappedAddress(addr netip.AddrPort) {
	if t == nil || t.Msg == nil {
		return
	}
	addXORAddress(t.Msg, stun.AttrXORMappedAddress, addr)
}

// AddXORAddress adds an XOR-encoded address attribute of type typ
// (XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS…).
func (t *TxData) AddXORAddress(typ stun.AttrType, addr netip.AddrPort) {
	if t == nil || t.Msg == nil {
		return
	}
	addXORAddress(t.Msg, typ, addr)
}

// Add adds a raw attribute.
func (t *TxData) Add(typ stun.AttrType, value []byte) {
	if t == nil || t.Msg == nil {
		return
	}
	t.Msg.Add(typ, value)
}

func startMessage(m *stun.Message, typ stun.MessageType, magic uint32, id [12]byte) {
	m.Reset()
	m.Type = typ
	m.TransactionID = id
	m.WriteHeader()
	binary.BigEndian.PutUint32(m.Raw[4:8], magic)
}

// CreateReq creates a request (pj_stun_session_create_req) of the given
// method, with the magic cookie magic (MagicCookie for RFC 5389; another
// value makes an RFC 3489-style header, without SOFTWARE) and the
// transaction ID tsxID, or a random one when nil.
func (s *Session) CreateReq(method stun.Method, magic uint32, tsxID *[12]byte) (*TxData, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.lock.Unlock()
	id := stun.NewTransactionID()
	if tsxID != nil {
		id = *tsxID
	}
	t := &TxData{Msg: newMessage(), sess: s, kind: kindRequest, magic: magic}
	startMessage(t.Msg, stun.NewType(method, stun.ClassRequest), magic, id)
	return t, nil
}

// CreateInd creates an indication (pj_stun_session_create_ind).
func (s *Session) CreateInd(method stun.Method) (*TxData, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.lock.Unlock()
	t := &TxData{Msg: newMessage(), sess: s, kind: kindIndication, magic: MagicCookie}
	startMessage(t.Msg, stun.NewType(method, stun.ClassIndication), MagicCookie, stun.NewTransactionID())
	return t, nil
}

// CreateRes creates the response to rdata (pj_stun_session_create_res): a
// success response when errCode is 0, else an error response with
// ERROR-CODE and errMsg (or the default reason phrase when empty).
func (s *Session) CreateRes(rdata *RxData, errCode int, errMsg string) (*TxData, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.lock.Unlock()
	return s.createResLocked(rdata, errCode, errMsg)
}

func (s *Session) createResLocked(rdata *RxData, errCode int, errMsg string) (*TxData, error) {
	if rdata == nil || rdata.Msg == nil || rdata.Msg.Type.Class != stun.ClassRequest {
		return nil, fmt.Errorf("stun: %w: response to a non-request", mediaport.ErrInvalidArgument)
	}
	if errCode != 0 && (errCode < 300 || errCode > 699) {
		return nil, fmt.Errorf("stun: %w: error code %d", mediaport.ErrInvalidArgument, errCode)
	}
	t := s.txPool.Get().(*TxData)
	t.sess, t.kind, t.magic, t.code = s, kindResponse, rdata.magic, errCode
	t.state, t.userLen, t.userAttrs, t.reqLen = tsxIdle, 0, 0, 0
	class := stun.ClassSuccessResponse
	if errCode != 0 {
		class = stun.ClassErrorResponse
	}
	startMessage(t.Msg, stun.NewType(rdata.Msg.Type.Method, class), rdata.magic, rdata.Msg.TransactionID)
	t.rxKey = rdata.key
	t.realm, t.nonce = "", ""
	if errCode != 0 {
		addErrorCode(t.Msg, errCode, errMsg)
		if errCode == 401 || errCode == 438 {
			t.realm, t.nonce = rdata.realm, rdata.nonce
		}
	}
	return t, nil
}

func addErrorCode(m *stun.Message, code int, reason string) {
	var v [4 + 128]byte
	v[2] = byte(code / 100)
	v[3] = byte(code % 100)
	if reason == "" {
		reason = Reason(code)
	}
	n := copy(v[4:], reason)
	m.Add(stun.AttrErrorCode, v[:4+n])
}

// DestroyTData frees a TxData that will not be sent (pj_stun_msg_destroy_tdata).
func (s *Session) DestroyTData(t *TxData) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.lock.Unlock()
	if t == nil || t.sess != s {
		return fmt.Errorf("stun: %w: not a TxData of this session", mediaport.ErrInvalidArgument)
	}
	if t.kind == kindRequest && (t.state == tsxPending || t.state == tsxLingering) {
		return fmt.Errorf("stun: %w: request in progress (use CancelReq)", mediaport.ErrState)
	}
	s.freeLocked(t)
	return nil
}

func (s *Session) freeLocked(t *TxData) {
	t.stopTimer()
	t.state = tsxDone
	if t.pooled {
		t.token, t.rxKey, t.key = nil, nil, nil
		s.txPool.Put(t)
	}
}

// encodeLocked appends SOFTWARE, the credential, MESSAGE-INTEGRITY and
// FINGERPRINT (docs/conformance.md, pjnath 17, 18) to the user part of t.Msg.
func (s *Session) encodeLocked(t *TxData) error {
	m := t.Msg
	// Back to the user's attributes (a retry re-encodes).
	if t.userLen > 0 {
		m.Raw = m.Raw[:t.userLen]
		m.Attributes = m.Attributes[:t.userAttrs]
		m.Length = uint32(t.userLen - headerSize)
		m.WriteLength()
	} else {
		t.userLen, t.userAttrs = len(m.Raw), len(m.Attributes)
	}
	if len(s.serverName) > 0 && t.kind != kindIndication && !m.Contains(stun.AttrSoftware) &&
		(t.kind == kindResponse || t.magic == MagicCookie) {
		m.Add(stun.AttrSoftware, s.serverName)
	}
	var key []byte
	switch t.kind {
	case kindRequest:
		username, k, ok, err := s.clientCred()
		if err != nil {
			return err
		}
		t.key, t.sentNonce = nil, ""
		if ok {
			m.Add(stun.AttrUsername, []byte(username))
			if s.authType == AuthLongTerm {
				m.Add(stun.AttrRealm, []byte(s.realm))
				m.Add(stun.AttrNonce, []byte(s.nonce))
				t.sentNonce = s.nonce
			}
			key, t.key = k, k
		}
	case kindResponse:
		if t.nonce != "" {
			m.Add(stun.AttrRealm, []byte(t.realm))
			m.Add(stun.AttrNonce, []byte(t.nonce))
		}
		if t.rxKey != nil && t.code != 400 && t.code != 401 && t.code != 420 && t.code != 438 {
			key = t.rxKey
		}
	}
	if key != nil {
		addIntegrity(m, key)
	}
	if s.fingerprint {
		addFingerprint(m)
	}
	if len(m.Raw) > maxMessageBytes {
		return fmt.Errorf("stun: %w: message of %d bytes", mediaport.ErrInvalidArgument, len(m.Raw))
	}
	return nil
}

// SendMsg sends t to dst (pj_stun_session_send_msg). token comes back in
// OnSendMsg and OnRequestComplete. A request starts a client transaction,
// retransmitted on the RTO schedule when retransmit is true (UDP), or timed
// out after 16×RTO when false (reliable transports). A response is cached
// when cacheRes is true, answering retransmissions of its request without
// OnRxRequest. It returns ErrSessionDestroyed when OnSendMsg destroyed the
// session.
func (s *Session) SendMsg(token any, cacheRes, retransmit bool, dst netip.AddrPort, t *TxData) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.lock.Unlock()
	return s.sendMsgLocked(token, cacheRes, retransmit, dst, t)
}

func (s *Session) sendMsgLocked(token any, cacheRes, retransmit bool, dst netip.AddrPort, t *TxData) error {
	if t == nil || t.sess != s || t.state != tsxIdle {
		return fmt.Errorf("stun: %w: TxData not created by this session or already sent", mediaport.ErrInvalidArgument)
	}
	t.token, t.dst, t.retransmit = token, dst, retransmit
	if err := s.encodeLocked(t); err != nil {
		s.freeLocked(t)
		return err
	}
	if t.kind == kindResponse && t.reqLen > 0 && len(t.Msg.Raw) > t.reqLen && !s.cfg.answers.Allow(s.cfg.Clock.Now()) {
		// An error answer larger than its request, with the budget
		// spent: not sent (OnRxPkt).
		s.stats.Suppressed++
		s.freeLocked(t)
		return nil
	}
	switch t.kind {
	case kindRequest:
		key := tsxKey{t.magic, t.Msg.TransactionID}
		if _, dup := s.tsx[key]; dup {
			return fmt.Errorf("stun: %w: a transaction with this ID is in progress", mediaport.ErrState)
		}
		s.tsx[key] = t
		t.state = tsxPending
		t.count = 0
		s.logMsg(LogTxReq, "tx request", t.Msg, dst)
		s.stats.Requests++
		destroyed, err := s.transmitLocked(t)
		if destroyed {
			return ErrSessionDestroyed
		}
		if err != nil {
			delete(s.tsx, key)
			s.freeLocked(t)
			return err
		}
		s.scheduleLocked(t)
		return nil
	case kindResponse:
		s.logMsg(LogTxRes, "tx response", t.Msg, dst)
		s.stats.Responses++
		if cacheRes {
			s.cacheLocked(t)
		}
	default:
		s.logMsg(LogTxInd, "tx indication", t.Msg, dst)
		s.stats.Indications++
	}
	var err error
	destroyed := s.call(func() { err = s.cb.OnSendMsg(s, token, t.Msg.Raw, dst) })
	if !destroyed {
		s.freeLocked(t)
	}
	if destroyed {
		return ErrSessionDestroyed
	}
	if err != nil && !errors.Is(err, ErrSendPending) {
		return err
	}
	return nil
}

// transmitLocked sends a request once, counting it.
func (s *Session) transmitLocked(t *TxData) (destroyed bool, err error) {
	t.count++
	destroyed = s.call(func() { err = s.cb.OnSendMsg(s, t.token, t.Msg.Raw, t.dst) })
	if errors.Is(err, ErrSendPending) {
		err = nil
	}
	return destroyed, err
}

// interval returns the wait after the count-th transmission (docs/conformance.md,
// pjnath 1, 2): RTO doubling while fewer than 7 transmissions, then 16×RTO
// after the last; 16×RTO after the single one of a reliable transport.
func (s *Session) interval(t *TxData) (wait time.Duration, final bool) {
	if !t.retransmit || t.count >= maxTransmit {
		return 16 * s.cfg.RTO, true
	}
	return s.cfg.RTO << (t.count - 1), false
}

func (s *Session) scheduleLocked(t *TxData) {
	wait, _ := s.interval(t)
	t.stopTimer()
	t.timer = s.cfg.Clock.AfterFunc(wait, func() { s.onTimer(t) })
}

// onTimer retransmits a request or times it out.
func (s *Session) onTimer(t *TxData) {
	if s.enter() != nil {
		return
	}
	defer s.lock.Unlock()
	if t.state != tsxPending {
		return
	}
	t.timer = nil
	if _, final := s.interval(t); final {
		s.stats.Timeouts++
		s.completeLocked(t, ErrTimeout, nil, netip.AddrPort{})
		return
	}
	s.logMsg(LogTxReq, "tx request (retransmission)", t.Msg, t.dst)
	s.stats.Retransmissions++
	destroyed, err := s.transmitLocked(t)
	if destroyed || t.state != tsxPending {
		return
	}
	if err != nil {
		s.completeLocked(t, err, nil, netip.AddrPort{})
		return
	}
	s.scheduleLocked(t)
}

// completeLocked ends a request: it calls OnRequestComplete, then frees the
// transaction at once (no response) or after lingering 300 ms to absorb
// duplicate responses.
func (s *Session) completeLocked(t *TxData, status error, res *stun.Message, src netip.AddrPort) {
	t.stopTimer()
	key := tsxKey{t.magic, t.Msg.TransactionID}
	if res != nil {
		t.state = tsxLingering
		t.timer = s.cfg.Clock.AfterFunc(lingerTime, func() {
			if s.enter() != nil {
				return
			}
			defer s.lock.Unlock()
			if s.tsx[key] == t && t.state == tsxLingering {
				delete(s.tsx, key)
				s.freeLocked(t)
			}
		})
	} else {
		t.state = tsxDone
		delete(s.tsx, key)
	}
	if s.cb.OnRequestComplete != nil {
		s.call(func() { s.cb.OnRequestComplete(s, status, t.token, t, res, src) })
	}
}

// CancelReq stops a pending request (pj_stun_session_cancel_req). With
// notify, OnRequestComplete(status) runs before CancelReq returns (status
// must not be nil); without, nothing is called. A response arriving later
// is dropped.
func (s *Session) CancelReq(t *TxData, notify bool, status error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.lock.Unlock()
	if notify && status == nil {
		return fmt.Errorf("stun: %w: CancelReq needs a non-nil status to notify", mediaport.ErrInvalidArgument)
	}
	if t == nil || t.sess != s || t.kind != kindRequest || t.state != tsxPending {
		return ErrNotRequest
	}
	t.stopTimer()
	t.state = tsxDone
	delete(s.tsx, tsxKey{t.magic, t.Msg.TransactionID})
	if notify && s.cb.OnRequestComplete != nil {
		if s.call(func() { s.cb.OnRequestComplete(s, status, t.token, t, nil, netip.AddrPort{}) }) {
			return ErrSessionDestroyed
		}
	}
	return nil
}

// RetransmitReq sends a pending request again now
// (pj_stun_session_retransmit_req, used by ICE to speed up checks). With
// modCount the transmission counts and the schedule restarts from the next
// interval; without, the schedule is untouched. It does nothing once the
// request has completed.
func (s *Session) RetransmitReq(t *TxData, modCount bool) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.lock.Unlock()
	if t == nil || t.sess != s || t.kind != kindRequest {
		return ErrNotRequest
	}
	if t.state != tsxPending {
		return nil
	}
	var err error
	var destroyed bool
	if modCount {
		if t.count >= maxTransmit {
			return nil
		}
		destroyed, err = s.transmitLocked(t)
	} else {
		destroyed = s.call(func() { err = s.cb.OnSendMsg(s, t.token, t.Msg.Raw, t.dst) })
		if errors.Is(err, ErrSendPending) {
			err = nil
		}
	}
	if destroyed {
		return ErrSessionDestroyed
	}
	if err != nil {
		return err
	}
	if modCount && t.state == tsxPending {
		s.scheduleLocked(t)
	}
	return nil
}

// Respond creates and sends the response to rdata
// (pj_stun_session_respond): CreateRes then SendMsg.
func (s *Session) Respond(rdata *RxData, code int, errMsg string, token any, cache bool, dst netip.AddrPort) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.lock.Unlock()
	t, err := s.createResLocked(rdata, code, errMsg)
	if err != nil {
		return err
	}
	return s.sendMsgLocked(token, cache, false, dst, t)
}

// Pending returns the number of client transactions in progress (pending
// or lingering) and of cached responses.
func (s *Session) Pending() (transactions, cachedResponses int) {
	if s.enter() != nil {
		return 0, 0
	}
	defer s.lock.Unlock()
	return len(s.tsx), len(s.cache)
}
