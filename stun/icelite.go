package stun

import (
	"bytes"
	"errors"
	"net/netip"

	"github.com/pion/stun/v3"
)

// ICELiteConfig configures an ICE-lite binding responder.
type ICELiteConfig struct {
	Config
	// LocalUfrag and LocalPassword are this agent's ICE credentials: a
	// check must carry USERNAME "LocalUfrag:remote-ufrag" and
	// MESSAGE-INTEGRITY keyed with LocalPassword.
	LocalUfrag, LocalPassword string
	// Software, if set, is sent in SOFTWARE.
	Software string
	// OnSendMsg sends the responses (for a VMP[rx] port: v.SendSTUN).
	OnSendMsg func(s *Session, token any, pkt []byte, dst netip.AddrPort) error
	// OnCheck, if set, is told of each check answered with success: its
	// source, and whether it carried USE-CANDIDATE.
	OnCheck func(src netip.AddrPort, useCandidate bool)
}

// ICELite answers ICE connectivity checks as an ICE-lite agent does (RFC
// 8445 §2.5): a Binding request with short-term credentials gets a success
// response with XOR-MAPPED-ADDRESS (the request's source),
// MESSAGE-INTEGRITY and FINGERPRINT; a wrong username or password gets 401.
// It is a Session with a server credential and a request handler; feed it
// with Session().OnRxPkt (a VMP[rx] does it after AttachSTUN).
type ICELite struct {
	sess    *Session
	onCheck func(netip.AddrPort, bool)
}

// ErrNoUfrag: an ICE-lite responder needs a local ufrag and password.
var ErrNoUfrag = errors.New("stun: ICE-lite needs a local ufrag and password")

// NewICELite returns a responder.
func NewICELite(cfg ICELiteConfig) (*ICELite, error) {
	if cfg.LocalUfrag == "" || cfg.LocalPassword == "" {
		return nil, ErrNoUfrag
	}
	l := &ICELite{onCheck: cfg.OnCheck}
	s, err := Create(cfg.Config, "ice-lite", Callbacks{OnSendMsg: cfg.OnSendMsg, OnRxRequest: l.onRequest}, true)
	if err != nil {
		return nil, err
	}
	prefix := []byte(cfg.LocalUfrag + ":")
	password := []byte(cfg.LocalPassword)
	s.SetCredential(AuthShortTerm, &Credential{GetPassword: func(_ *stun.Message, _, username []byte) ([]byte, error) {
		if !bytes.HasPrefix(username, prefix) || len(username) == len(prefix) {
			return nil, errWrongUfrag
		}
		return password, nil
	}})
	if cfg.Software != "" {
		s.SetServerName(cfg.Software)
	}
	l.sess = s
	return l, nil
}

var errWrongUfrag = errors.New("stun: USERNAME does not start with the local ufrag")

func (l *ICELite) onRequest(s *Session, _ []byte, rdata *RxData, token any, src netip.AddrPort) error {
	if rdata.Msg.Type.Method != stun.MethodBinding {
		return s.Respond(rdata, 400, "", token, false, src)
	}
	res, err := s.CreateRes(rdata, 0, "")
	if err != nil {
		return err
	}
	res.AddXORMappedAddress(src)
	use := rdata.Msg.Contains(stun.AttrUseCandidate)
	if err := s.SendMsg(token, false, false, src, res); err != nil {
		return err
	}
	if l.onCheck != nil {
		l.onCheck(src, use)
	}
	return nil
}

// Session returns the responder's STUN session.
func (l *ICELite) Session() *Session { return l.sess }

// Close destroys the responder's session.
func (l *ICELite) Close() error { return l.sess.Destroy() }
