package stun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/pion/stun/v3"

	"github.com/mediaport/mediaport"
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
	// RemoteUfrag and RemotePassword, if set, let Check send connectivity
	// checks to the peer (USERNAME "RemoteUfrag:LocalUfrag", keyed with
	// RemotePassword).
	RemoteUfrag, RemotePassword string
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

	mu      sync.Mutex
	waiters map[*TxData]chan checkResult
}

type checkResult struct {
	mapped netip.AddrPort
	err    error
}

// ErrNoUfrag: an ICE-lite responder needs a local ufrag and password.
var ErrNoUfrag = errors.New("stun: ICE-lite needs a local ufrag and password")

// NewICELite returns a responder.
func NewICELite(cfg ICELiteConfig) (*ICELite, error) {
	if cfg.LocalUfrag == "" || cfg.LocalPassword == "" {
		return nil, ErrNoUfrag
	}
	l := &ICELite{onCheck: cfg.OnCheck, waiters: map[*TxData]chan checkResult{}}
	s, err := Create(cfg.Config, "ice-lite", Callbacks{OnSendMsg: cfg.OnSendMsg, OnRxRequest: l.onRequest,
		OnRequestComplete: l.onComplete}, true)
	if err != nil {
		return nil, err
	}
	prefix := []byte(cfg.LocalUfrag + ":")
	password := []byte(cfg.LocalPassword)
	remoteUser, remotePass := cfg.RemoteUfrag+":"+cfg.LocalUfrag, []byte(cfg.RemotePassword)
	s.SetCredential(AuthShortTerm, &Credential{
		GetPassword: func(_ *stun.Message, _, username []byte) ([]byte, error) {
			if !bytes.HasPrefix(username, prefix) || len(username) == len(prefix) {
				return nil, errWrongUfrag
			}
			return password, nil
		},
		GetCred: func() (string, []byte, error) {
			if cfg.RemoteUfrag == "" {
				return "", nil, errNoRemote
			}
			return remoteUser, remotePass, nil
		},
	})
	if cfg.Software != "" {
		s.SetServerName(cfg.Software)
	}
	l.sess = s
	return l, nil
}

var (
	errWrongUfrag = errors.New("stun: USERNAME does not start with the local ufrag")
	errNoRemote   = errors.New("stun: ICE-lite has no remote credentials to check with")
)

// Check sends a connectivity check (a Binding request with the remote
// credentials) to dst, retransmitted on the RTO schedule, and returns the
// address the peer saw it come from (XOR-MAPPED-ADDRESS).
func (l *ICELite) Check(ctx context.Context, dst netip.AddrPort) (netip.AddrPort, error) {
	if l == nil || l.sess == nil {
		return netip.AddrPort{}, mediaport.ErrNilHandle
	}
	if ctx == nil {
		ctx = context.Background()
	}
	td, err := l.sess.CreateReq(stun.MethodBinding, MagicCookie, nil)
	if err != nil {
		return netip.AddrPort{}, err
	}
	w := make(chan checkResult, 1)
	l.mu.Lock()
	l.waiters[td] = w
	l.mu.Unlock()
	if err := l.sess.SendMsg(nil, false, true, dst, td); err != nil {
		l.mu.Lock()
		delete(l.waiters, td)
		l.mu.Unlock()
		return netip.AddrPort{}, err
	}
	select {
	case r := <-w:
		return r.mapped, r.err
	case <-ctx.Done():
		l.sess.CancelReq(td, false, nil)
		return netip.AddrPort{}, ctx.Err()
	}
}

func (l *ICELite) onComplete(_ *Session, status error, _ any, td *TxData, res *stun.Message, _ netip.AddrPort) {
	l.mu.Lock()
	w := l.waiters[td]
	delete(l.waiters, td)
	l.mu.Unlock()
	if w == nil {
		return
	}
	r := checkResult{err: status}
	if status == nil {
		var ok bool
		if r.mapped, ok = XORAddress(res, stun.AttrXORMappedAddress); !ok {
			r.err = fmt.Errorf("%w: no XOR-MAPPED-ADDRESS", ErrInvalidMessage)
		}
	}
	w <- r
}

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
// (nil on a nil or zero ICELite).
func (l *ICELite) Session() *Session {
	if l == nil {
		return nil
	}
	return l.sess
}

// Close destroys the responder's session.
func (l *ICELite) Close() error {
	if l == nil || l.sess == nil {
		return mediaport.ErrNilHandle
	}
	return l.sess.Destroy()
}
