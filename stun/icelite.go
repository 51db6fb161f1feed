package stun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/stun/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/link"
)

// ICELiteConfig configures an ICE-lite agent.
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
	// ConsentTimeout is how long a pair keeps consent after its last
	// successful check (default DefaultConsentTimeout, RFC 7675's 30 s),
	// on Config.Clock.
	ConsentTimeout time.Duration
}

// ICELite is an ICE-lite agent (RFC 8445 §2.5) with consent freshness
// (RFC 7675). It answers connectivity checks: a Binding request with
// short-term credentials gets a success response with XOR-MAPPED-ADDRESS
// (the request's source), MESSAGE-INTEGRITY and FINGERPRINT; a wrong
// username or password gets 401, a check without USERNAME or
// MESSAGE-INTEGRITY 400, and neither changes anything. It is a Session with a server credential
// and a request handler; feed it with Session().OnRxPkt (a VMP[rx] does
// it after AttachSTUN).
//
// Each source of a check answered with success is the remote side of a
// pair (ICEPair; Pairs, Selected). A check carrying USE-CANDIDATE
// nominates its pair; a later nomination of another address replaces it
// (Status reports ICEMoved once). A pair keeps consent for ConsentTimeout
// after its last successful check; when the selected pair loses it, Status
// reports ICEConsentExpired: the application must stop sending to it.
// Status changes signal Event, in mediaport's handle-and-event model; the
// consent timers run on Config.Clock.
//
// Roles (RFC 8445 §6.1.1, §7.3.1.1): a lite agent is always controlled and
// has no tie-breaker to win a conflict with, since it can never take the
// controlling role. A check with ICE-CONTROLLING is the normal case. A
// check with ICE-CONTROLLED (the peer believes it is controlled too) is
// answered 487 Role Conflict, whatever its tie-breaker, and changes
// nothing: the agent keeps its role, and the full peer, on the 487,
// switches to controlling (§7.2.5.1) and checks again. A check with both
// attributes, or one of the wrong length, gets 400. A check with neither
// (an RFC 5245 peer without roles) is accepted.
//
// On a VMP[rx] (AttachSTUN), DTLS is handed on only from an address with
// consent (HasConsent), and when the nomination moves, the association
// bound to the port's DTLS[rx] follows it: its peer and its DTLS[tx]'s
// destination become the new address, without a new handshake. The agent
// is one ICE component: run it on an rtcp-mux port, as WebRTC does.
type ICELite struct {
	sess    *Session
	onCheck func(netip.AddrPort, bool)
	state   iceState

	mu      sync.Mutex
	waiters map[*TxData]*checkWaiter

	// keys are the agent's copies of the local and remote passwords,
	// zeroed by Close.
	keys [2][]byte
	// ufrag is LocalUfrag; peers the credential sets of AddPeer.
	ufrag string
	peers peerSets
}

type checkWaiter struct {
	dst netip.AddrPort
	ch  chan checkResult
}

type checkResult struct {
	mapped netip.AddrPort
	err    error
}

// ErrAsymmetric: the response to a connectivity check came from an
// address other than the one the check went to (RFC 8445 §7.2.5.2.1): the
// check failed.
var ErrAsymmetric = errors.New("stun: ICE check answered from another address")

// ErrNoUfrag: an ICE-lite responder needs a local ufrag and password.
var ErrNoUfrag = errors.New("stun: ICE-lite needs a local ufrag and password")

// NewICELite returns an agent in ICEChecking.
func NewICELite(cfg ICELiteConfig) (*ICELite, error) {
	if cfg.LocalUfrag == "" || cfg.LocalPassword == "" {
		return nil, ErrNoUfrag
	}
	l := &ICELite{onCheck: cfg.OnCheck, waiters: map[*TxData]*checkWaiter{}}
	clk := cfg.Clock
	if clk == nil {
		clk = mediaport.SystemClock()
	}
	l.state.init(clk, cfg.ConsentTimeout)
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
			if bytes.HasPrefix(username, prefix) && len(username) > len(prefix) {
				return password, nil
			}
			if u, ok := splitUsername(username); ok {
				if _, pw, ok := l.peers.password(u); ok {
					return pw, nil
				}
			}
			return nil, errWrongUfrag
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
	link.SetICEControl(&s.linkICE, iceControl{&l.state})
	l.sess = s
	l.ufrag = cfg.LocalUfrag
	l.keys = [2][]byte{password, remotePass}
	return l, nil
}

var (
	errWrongUfrag = errors.New("stun: USERNAME does not start with the local ufrag")
	errNoRemote   = errors.New("stun: ICE-lite has no remote credentials to check with")
)

// Check sends a connectivity check (a Binding request with the remote
// credentials) to dst, retransmitted on the RTO schedule, and returns the
// address the peer saw it come from (XOR-MAPPED-ADDRESS). A response from
// any address but dst fails it with ErrAsymmetric (RFC 8445 §7.2.5.2.1).
// The check carries no role attribute (a lite agent sends no checks in
// RFC 8445; this one is for tools and tests, and a peer that is itself
// lite would answer ICE-CONTROLLED with 487). Checks change no pair
// state: pairs come from the peer's checks.
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
	w := &checkWaiter{dst: unmapped(dst), ch: make(chan checkResult, 1)}
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
	case r := <-w.ch:
		return r.mapped, r.err
	case <-ctx.Done():
		l.mu.Lock()
		delete(l.waiters, td)
		l.mu.Unlock()
		l.sess.CancelReq(td, false, nil)
		return netip.AddrPort{}, ctx.Err()
	}
}

func (l *ICELite) onComplete(_ *Session, status error, _ any, td *TxData, res *stun.Message, src netip.AddrPort) {
	l.mu.Lock()
	w := l.waiters[td]
	delete(l.waiters, td)
	l.mu.Unlock()
	if w == nil {
		return
	}
	r := checkResult{err: status}
	if res != nil && unmapped(src) != w.dst {
		r.err = fmt.Errorf("%w: sent to %v, answered from %v", ErrAsymmetric, w.dst, src)
	} else if status == nil {
		var ok bool
		if r.mapped, ok = XORAddress(res, stun.AttrXORMappedAddress); !ok {
			r.err = fmt.Errorf("%w: no XOR-MAPPED-ADDRESS", ErrInvalidMessage)
		}
	}
	w.ch <- r
}

func (l *ICELite) onRequest(s *Session, _ []byte, rdata *RxData, token any, src netip.AddrPort) error {
	if rdata.Msg.Type.Method != stun.MethodBinding {
		return s.Respond(rdata, 400, "", token, false, src)
	}
	if rdata.key == nil {
		// Not authenticated (OnRxPkt with NoAuthenticate): a lite agent
		// answers only checks with its short-term credential.
		return s.Respond(rdata, 401, "", token, false, src)
	}
	if code := roleCheck(rdata.Msg); code != 0 {
		return s.Respond(rdata, code, "", token, false, src)
	}
	res, err := s.CreateRes(rdata, 0, "")
	if err != nil {
		return err
	}
	res.AddXORMappedAddress(src)
	use := rdata.Msg.Contains(stun.AttrUseCandidate)
	// The credential set the check was answered with: "" for LocalUfrag.
	var set string
	if u, err := rdata.Msg.Get(stun.AttrUsername); err == nil {
		if lu, ok := splitUsername(u); ok && string(lu) != l.ufrag {
			set, _, _ = l.peers.password(lu)
		}
	}
	// The pair state first: once the peer holds the answer, the pair has
	// consent and the association has followed a new nomination.
	moveTo, fs := l.state.checked(src, use, set)
	if moveTo.IsValid() {
		s.cfg.Logger.Debug("ice-lite: nominated", "remote", moveTo)
		for _, f := range fs {
			f.f.Follow(moveTo)
		}
	}
	if err := s.SendMsg(token, false, false, src, res); err != nil {
		return err
	}
	if l.onCheck != nil {
		l.onCheck(src, use)
	}
	return nil
}

// roleCheck applies RFC 8445 §7.3.1.1 as a lite agent, always
// controlled, does (see ICELite): 0 to go on, else the error code to
// answer.
func roleCheck(m *stun.Message) int {
	controlling, errCtl := m.Get(stun.AttrICEControlling)
	controlled, errCtd := m.Get(stun.AttrICEControlled)
	hasCtl, hasCtd := errCtl == nil, errCtd == nil
	switch {
	case hasCtl && hasCtd, hasCtl && len(controlling) != 8, hasCtd && len(controlled) != 8:
		return 400
	case hasCtd:
		return 487
	}
	return 0
}

// Session returns the responder's STUN session.
// (nil on a nil or zero ICELite).
func (l *ICELite) Session() *Session {
	if l == nil {
		return nil
	}
	return l.sess
}

// Close destroys the responder's session and ends the pair state: Status
// reports ICEClosed, the event is signalled permanently and detached from
// its Queue (as an endpoint's Destroy does), no address has consent any
// more (a VMP[rx] running the agent then drops all DTLS), and the agent's
// copies of both passwords are zeroed.
func (l *ICELite) Close() error {
	if l == nil || l.sess == nil {
		return mediaport.ErrNilHandle
	}
	l.state.close()
	l.peers.close()
	err := l.sess.Destroy()
	if err == nil {
		clear(l.keys[0])
		clear(l.keys[1])
	}
	return err
}
