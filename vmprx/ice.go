package vmprx

import (
	"net/netip"

	"github.com/mediaport/mediaport/internal/link"
)

// DTLS bound to ICE: when the STUN session attached to a VMP[rx] is run
// by an ICE agent (stun.ICELite), the port hands DTLS on only from the
// addresses the agent gives consent to, and passes the agent's moves of
// its selected pair on to the DTLS[rx]s it feeds, which pass them on to
// their associations (internal/link: ICEControl, Follower).

// iceRef is the ICE agent of a VMP[rx] and how to stop following it.
type iceRef struct {
	c      link.ICEControl
	remove func()
}

// setICE makes c (nil: none) the agent that gates the port's DTLS and
// whose moves its DTLS[rx]s follow.
func (v *VMPRx) setICE(c link.ICEControl) {
	var ref *iceRef
	if c != nil {
		ref = &iceRef{c: c}
		ref.remove = c.AddFollower(iceFollower{v})
	}
	if old := v.ice.Swap(ref); old != nil {
		old.remove()
	}
}

// dtlsPermitted reports whether DTLS from src may be handed on: always
// without an ICE agent, else when the agent gives src consent.
func (v *VMPRx) dtlsPermitted(src netip.AddrPort) bool {
	ref := v.ice.Load()
	return ref == nil || ref.c.Permits(src)
}

// iceFollower is a VMP[rx] as its ICE agent tells it the selected pair
// moved (link.Follower).
type iceFollower struct{ v *VMPRx }

// Follow tells the DTLS[rx]s the port feeds, each once, that the selected
// pair moved to to. Without rtcp-mux the agent's one component cannot say
// which port moved, and nothing follows.
func (f iceFollower) Follow(to netip.AddrPort) {
	v := f.v
	v.mu.Lock()
	mux := v.cfg.RTCPMux
	v.mu.Unlock()
	if !mux {
		return
	}
	var done link.Sink
	for i := range v.dtls {
		ref := v.dtls[i].Load()
		if ref == nil || ref.s == done {
			continue
		}
		done = ref.s
		if fl, ok := ref.s.(link.Follower); ok {
			fl.Follow(to)
		}
	}
}
