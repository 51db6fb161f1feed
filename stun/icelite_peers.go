package stun

import (
	"bytes"
	"fmt"
	"strings"
	"sync"

	"github.com/mediaport/mediaport"
)

// Several peers on one port (an SFU's single-port mode, as mediasoup's
// WebRtcServer or pion's UDPMux): besides the agent's own LocalUfrag and
// LocalPassword, each peer may be given its own local credential set in
// its signalling. A check is answered with the set its USERNAME names
// ("ufrag:remote-ufrag"), and its source becomes a pair of that set.

// MaxICEPeers bounds the credential sets AddPeer adds to an agent.
const MaxICEPeers = 256

// ErrUfragInUse: AddPeer with a ufrag the agent already answers for.
var ErrUfragInUse = fmt.Errorf("stun: %w: ufrag in use", mediaport.ErrInvalidArgument)

// peerSets are an agent's extra credential sets, keyed by local ufrag.
type peerSets struct {
	mu     sync.Mutex
	sets   map[string]*peerSet
	closed bool
}

// peerSet is one credential set: its ufrag and the agent's copy of its
// password.
type peerSet struct {
	ufrag    string
	password []byte
}

// AddPeer adds a local credential set: a check whose USERNAME starts with
// "ufrag:" is answered with password (MESSAGE-INTEGRITY keyed with it),
// and its source becomes a pair of that set (ICEPair.Ufrag), with consent
// as any other: a VMP[rx] running the agent hands DTLS on from it. Checks
// of such a set never move the agent's selected pair or change its
// Status, which stay those of the LocalUfrag peer: a port shared by many
// peers tells them apart by source (a multi-session association
// Listener), not by nomination. The agent keeps a copy of password,
// zeroed by RemovePeer and Close. ufrag must be 4 to 256 characters
// without ':' (RFC 8839 ice-char), password at least 1; errors match
// mediaport.ErrInvalidArgument (ErrUfragInUse for a ufrag the agent
// answers for already) or mediaport.ErrLimit beyond MaxICEPeers.
func (l *ICELite) AddPeer(ufrag, password string) error {
	if !l.live() {
		return mediaport.ErrNilHandle
	}
	if len(ufrag) < 4 || len(ufrag) > 256 || strings.ContainsRune(ufrag, ':') || password == "" {
		return fmt.Errorf("stun: %w: ICE credential set %q", mediaport.ErrInvalidArgument, ufrag)
	}
	if ufrag == l.ufrag {
		return ErrUfragInUse
	}
	ps := &l.peers
	ps.mu.Lock()
	defer ps.mu.Unlock()
	switch {
	case ps.closed:
		return mediaport.ErrState
	case ps.sets[ufrag] != nil:
		return ErrUfragInUse
	case len(ps.sets) >= MaxICEPeers:
		return fmt.Errorf("stun: %w: %d ICE credential sets", mediaport.ErrLimit, len(ps.sets))
	}
	if ps.sets == nil {
		ps.sets = make(map[string]*peerSet)
	}
	ps.sets[ufrag] = &peerSet{ufrag: ufrag, password: []byte(password)}
	l.state.setPeers(len(ps.sets))
	return nil
}

// RemovePeer removes the credential set of ufrag: its checks get 401 from
// then on, and its pairs are forgotten, so their consent ends at once
// (DTLS from them is dropped by a VMP[rx] running the agent). The agent's
// copy of its password is zeroed. Removing an unknown ufrag does nothing.
func (l *ICELite) RemovePeer(ufrag string) error {
	if !l.live() {
		return mediaport.ErrNilHandle
	}
	ps := &l.peers
	ps.mu.Lock()
	pw := ps.sets[ufrag]
	if pw != nil {
		delete(ps.sets, ufrag)
		clear(pw.password)
	}
	n := len(ps.sets)
	ps.mu.Unlock()
	if pw != nil {
		l.state.forget(ufrag)
		l.state.setPeers(n)
	}
	return nil
}

// password returns the password of the set named by ufrag, and the set's
// ufrag as the agent holds it (a string that needs no allocation).
func (ps *peerSets) password(ufrag []byte) (string, []byte, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if set := ps.sets[string(ufrag)]; set != nil {
		return set.ufrag, set.password, true
	}
	return "", nil, false
}

// close zeroes every set.
func (ps *peerSets) close() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.closed = true
	for k, set := range ps.sets {
		clear(set.password)
		delete(ps.sets, k)
	}
}

// splitUsername returns the local ufrag of a check's USERNAME
// ("local:remote", both not empty).
func splitUsername(u []byte) ([]byte, bool) {
	i := bytes.IndexByte(u, ':')
	if i <= 0 || i == len(u)-1 {
		return nil, false
	}
	return u[:i], true
}
