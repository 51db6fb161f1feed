// Package turn is TURN for media servers: libnice's STUN TURN usage
// (stun_usage_turn_*) — building Allocate and Refresh requests and
// processing their responses in each compatibility mode, at message level —
// and the ChannelData framing.
package turn

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/mediaport/mediaport/internal/stunwire"
)

// Compatibility is the TURN dialect (StunUsageTurnCompatibility).
type Compatibility int

// The dialects, in libnice's order.
const (
	// DRAFT9 is draft-ietf-behave-turn-09.
	DRAFT9 Compatibility = iota
	// GOOGLE is Google Talk's relay: RFC 3489 headers, short-term
	// credentials, MAPPED-ADDRESS is the relay.
	GOOGLE
	// MSN is MSN's TURN: like GOOGLE, with the mapped address in 0x8000.
	MSN
	// OC2007 is Microsoft Office Communicator 2007's TURN: RFC 3489
	// headers, unaligned attributes, long-term credentials.
	OC2007
	// RFC5766 is TURN as RFC 5766 / RFC 8656 define it (coturn, pion/turn).
	RFC5766
)

var compatNames = [...]string{"DRAFT9", "GOOGLE", "MSN", "OC2007", "RFC5766"}

func (c Compatibility) String() string {
	if c >= 0 && int(c) < len(compatNames) {
		return compatNames[c]
	}
	return fmt.Sprintf("Compatibility(%d)", int(c))
}

// RequestPorts is the port property asked of an allocation
// (StunUsageTurnRequestPorts); DRAFT9 and RFC5766 only.
type RequestPorts int

const (
	// PortNormal asks for any port.
	PortNormal RequestPorts = iota
	// PortEven asks for an even port.
	PortEven
	// PortEvenAndReserve asks for an even port and to reserve the next.
	PortEvenAndReserve
)

// Return is what processing a response found (StunUsageTurnReturn).
type Return int

const (
	// RelaySuccess: success with a relayed address.
	RelaySuccess Return = iota
	// MappedSuccess: success with a relayed and a mapped address.
	MappedSuccess
	// Error: an error response (Code says which), or a success without
	// the addresses it must carry. After 401 or 438, build the next
	// request with this response as Request.Previous.
	Error
	// Invalid: not a response to the request (wrong method or class, or
	// an error without ERROR-CODE, or unparsable).
	Invalid
	// AlternateServer: 3xx with ALTERNATE-SERVER: try Alternate.
	AlternateServer
)

var returnNames = [...]string{"RelaySuccess", "MappedSuccess", "Error", "Invalid", "AlternateServer"}

func (r Return) String() string {
	if r >= 0 && int(r) < len(returnNames) {
		return returnNames[r]
	}
	return fmt.Sprintf("Return(%d)", int(r))
}

// Request holds the parameters of stun_usage_turn_create and
// stun_usage_turn_create_refresh.
type Request struct {
	// Previous is the last response received, for REALM, NONCE and
	// RESERVATION-TOKEN; nil for the first request.
	Previous []byte
	// Ports is the port property (Allocate, DRAFT9 and RFC5766).
	Ports RequestPorts
	// Bandwidth in kbit/s; negative sends no BANDWIDTH (Allocate, DRAFT9
	// and RFC5766).
	Bandwidth int32
	// Lifetime in seconds; negative sends no LIFETIME.
	Lifetime int32
	// Username and Password: short-term (GOOGLE, MSN) or long-term.
	Username, Password []byte
	// Software is the SOFTWARE value in DRAFT9 and RFC5766 (default
	// "mediaport"; libnice sends "libnice").
	Software string
	// TransactionID, if set, is used instead of a random one: the last
	// 12 bytes for the RFC 5389 dialects, all 16 for the others.
	TransactionID *[16]byte
}

// Methods and constants of the TURN usages.
const (
	methodAllocate = 0x0003
	methodRefresh  = 0x0004
	msMagicCookie  = 0x72c64bc6
	transportUDP   = 0x11000000
)

func (c Compatibility) rfc3489() bool { return c == GOOGLE || c == MSN || c == OC2007 }
func (c Compatibility) aligned() bool { return c != OC2007 }

// NewAllocate appends an Allocate request to buf and returns it
// (stun_usage_turn_create). The attributes follow libnice's order; in
// RFC5766 mode the port request is RFC 5766's one-byte EVEN-PORT, where
// libnice sends the draft's four-byte form.
func NewAllocate(buf []byte, r Request, c Compatibility) ([]byte, error) {
	return build(buf, r, c, methodAllocate, true)
}

// NewRefresh appends a Refresh request to buf and returns it
// (stun_usage_turn_create_refresh): REFRESH in DRAFT9 and RFC5766, an
// Allocate in the other dialects.
func NewRefresh(buf []byte, r Request, c Compatibility) ([]byte, error) {
	if c == DRAFT9 || c == RFC5766 {
		return build(buf, r, c, methodRefresh, false)
	}
	r.Ports, r.Bandwidth = PortNormal, -1
	return build(buf, r, c, methodAllocate, false)
}

func build(buf []byte, r Request, c Compatibility, method uint16, allocate bool) ([]byte, error) {
	if c < DRAFT9 || c > RFC5766 {
		return nil, fmt.Errorf("turn: unknown compatibility %d", c)
	}
	var id [16]byte
	if r.TransactionID != nil {
		id = *r.TransactionID
	} else if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	if !c.rfc3489() {
		binary.BigEndian.PutUint32(id[:4], stunwire.MagicCookie)
	}
	var prev *stunwire.Message
	if r.Previous != nil {
		prev = new(stunwire.Message)
		if stunwire.Parse(r.Previous, c.aligned(), prev) != nil {
			prev = nil
		}
	}
	b := stunwire.AppendHeader(buf, method, id)
	add := func(t uint16, v []byte) {
		if c == GOOGLE || c == MSN {
			v = padSpaces(v) // RFC 3489: values are multiples of 4 bytes
		}
		b = stunwire.AppendAttr(b, t, v, c.aligned())
	}
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	copyPrev := func(t uint16) []byte {
		if prev == nil {
			return nil
		}
		v, ok := prev.Get(t)
		if ok {
			add(t, v)
		}
		return v
	}
	var realm []byte
	switch c {
	case DRAFT9, RFC5766:
		sw := r.Software
		if sw == "" {
			sw = "mediaport"
		}
		add(stunwire.AttrSoftware, []byte(sw))
		if allocate {
			add(stunwire.AttrRequestedTransport, u32(transportUDP))
			if r.Bandwidth >= 0 {
				add(stunwire.AttrBandwidth, u32(uint32(r.Bandwidth)))
			}
		}
		if r.Lifetime >= 0 {
			add(stunwire.AttrLifetime, u32(uint32(r.Lifetime)))
		}
		if allocate && (r.Ports == PortEven || r.Ports == PortEvenAndReserve) {
			if c == DRAFT9 {
				v := uint32(0x80000000)
				if r.Ports == PortEvenAndReserve {
					v = 0xC0000000
				}
				add(stunwire.AttrRequestedPortProps, u32(v))
			} else {
				v := byte(0)
				if r.Ports == PortEvenAndReserve {
					v = 0x80 // R: reserve the next port
				}
				add(stunwire.AttrRequestedPortProps, []byte{v})
			}
		}
		realm = copyPrev(stunwire.AttrRealm)
		copyPrev(stunwire.AttrNonce)
		if allocate {
			copyPrev(stunwire.AttrReservationToken)
		}
	case GOOGLE, MSN:
		add(stunwire.AttrMagicCookie, u32(msMagicCookie))
		if r.Lifetime >= 0 {
			add(stunwire.AttrLifetime, u32(uint32(r.Lifetime)))
		}
		realm = copyPrev(stunwire.AttrRealm)
		copyPrev(stunwire.AttrNonce)
		copyPrev(stunwire.AttrReservationToken)
	case OC2007:
		add(stunwire.AttrMagicCookie, u32(msMagicCookie))
		add(stunwire.AttrMSVersion, u32(1))
		if r.Lifetime >= 0 {
			add(stunwire.AttrLifetime, u32(uint32(r.Lifetime)))
		}
		copyPrev(stunwire.AttrNonce)
		realm = copyPrev(stunwire.AttrRealm)
		copyPrev(stunwire.AttrReservationToken)
	}
	shortTerm := c == GOOGLE || c == MSN
	if len(r.Username) > 0 && (shortTerm || prev != nil) {
		add(stunwire.AttrUsername, r.Username)
		switch {
		case shortTerm:
			b = stunwire.AppendIntegrity(b, r.Password, c.rfc3489())
		case realm != nil:
			b = stunwire.AppendIntegrity(b, longTermKey(r.Username, realm, r.Password), c.rfc3489())
		}
	}
	return b, nil
}

func padSpaces(v []byte) []byte {
	if len(v)%4 == 0 {
		return v
	}
	p := append([]byte(nil), v...)
	for len(p)%4 != 0 {
		p = append(p, ' ')
	}
	return p
}

// longTermKey is MD5(username:realm:password).
func longTermKey(username, realm, password []byte) []byte {
	h := md5.New()
	h.Write(username)
	h.Write([]byte{':'})
	h.Write(realm)
	h.Write([]byte{':'})
	h.Write(password)
	return h.Sum(nil)
}

// Response is what a processed response carries.
type Response struct {
	Return    Return
	Relay     netip.AddrPort // RelaySuccess, MappedSuccess
	Mapped    netip.AddrPort // MappedSuccess
	Alternate netip.AddrPort // AlternateServer (and OC2007 3xx)
	Bandwidth uint32
	Lifetime  uint32
	Code      int // the ERROR-CODE of an error response
}

// ProcessAllocate processes an Allocate response (stun_usage_turn_process).
func ProcessAllocate(msg []byte, c Compatibility) Response {
	var m stunwire.Message
	if stunwire.Parse(msg, c.aligned(), &m) != nil || m.Method() != methodAllocate {
		return Response{Return: Invalid}
	}
	switch m.Class() {
	case stunwire.ClassError:
		return processError(&m, c)
	case stunwire.ClassSuccess:
	default:
		return Response{Return: Invalid}
	}
	res := Response{Return: Error}
	if v, ok := m.Get(stunwire.AttrLifetime); ok && len(v) >= 4 {
		res.Lifetime = binary.BigEndian.Uint32(v)
	}
	if v, ok := m.Get(stunwire.AttrBandwidth); ok && len(v) >= 4 {
		res.Bandwidth = binary.BigEndian.Uint32(v)
	}
	var relayOK, mappedOK bool
	switch c {
	case DRAFT9, RFC5766:
		res.Relay, relayOK = xorAddr(&m, stunwire.AttrXORRelayedAddress, stunwire.MagicCookie)
		res.Mapped, mappedOK = xorAddr(&m, stunwire.AttrXORMappedAddress, stunwire.MagicCookie)
	case GOOGLE:
		res.Relay, relayOK = plainAddr(&m, stunwire.AttrMappedAddress)
	case MSN:
		res.Relay, relayOK = plainAddr(&m, stunwire.AttrMappedAddress)
		res.Mapped, mappedOK = plainAddr(&m, stunwire.AttrMSMappedAddress)
	case OC2007:
		res.Relay, relayOK = plainAddr(&m, stunwire.AttrMappedAddress)
		res.Mapped, mappedOK = xorAddr(&m, stunwire.AttrMSXORMappedAddress, binary.BigEndian.Uint32(m.ID[:4]))
	}
	switch {
	case !relayOK:
		return Response{Return: Error}
	case mappedOK:
		res.Return = MappedSuccess
	default:
		res.Return, res.Mapped = RelaySuccess, netip.AddrPort{}
	}
	return res
}

func processError(m *stunwire.Message, c Compatibility) Response {
	v, ok := m.Get(stunwire.AttrErrorCode)
	if !ok || len(v) < 4 {
		return Response{Return: Invalid}
	}
	res := Response{Return: Error, Code: int(v[2]&0x7)*100 + int(v[3])}
	if res.Code/100 == 3 {
		if c == OC2007 {
			res.Alternate, _ = plainAddr(m, stunwire.AttrMSAlternateServer)
		}
		alt, hasAlt := plainAddr(m, stunwire.AttrAlternateServer)
		if !res.Alternate.IsValid() {
			res.Alternate = alt
		}
		if hasAlt {
			res.Return = AlternateServer
		}
	}
	return res
}

// ProcessRefresh processes a Refresh response
// (stun_usage_turn_refresh_process): RelaySuccess with the lifetime
// granted, Error, or Invalid.
func ProcessRefresh(msg []byte, c Compatibility) Response {
	var m stunwire.Message
	method := uint16(methodAllocate)
	if c == DRAFT9 || c == RFC5766 {
		method = methodRefresh
	}
	if stunwire.Parse(msg, c.aligned(), &m) != nil || m.Method() != method {
		return Response{Return: Invalid}
	}
	switch m.Class() {
	case stunwire.ClassError:
		v, ok := m.Get(stunwire.AttrErrorCode)
		if !ok || len(v) < 4 {
			return Response{Return: Invalid}
		}
		return Response{Return: Error, Code: int(v[2]&0x7)*100 + int(v[3])}
	case stunwire.ClassSuccess:
		res := Response{Return: RelaySuccess}
		if v, ok := m.Get(stunwire.AttrLifetime); ok && len(v) >= 4 {
			res.Lifetime = binary.BigEndian.Uint32(v)
		}
		return res
	}
	return Response{Return: Invalid}
}

// plainAddr decodes a MAPPED-ADDRESS-style attribute.
func plainAddr(m *stunwire.Message, t uint16) (netip.AddrPort, bool) {
	v, ok := m.Get(t)
	if !ok || len(v) < 8 {
		return netip.AddrPort{}, false
	}
	port := binary.BigEndian.Uint16(v[2:4])
	switch v[1] {
	case 1:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(v[4:8])), port), true
	case 2:
		if len(v) >= 20 {
			return netip.AddrPortFrom(netip.AddrFrom16([16]byte(v[4:20])), port), true
		}
	}
	return netip.AddrPort{}, false
}

// xorAddr decodes an XOR-MAPPED-ADDRESS-style attribute XORed with key
// (and, for IPv6, the transaction ID).
func xorAddr(m *stunwire.Message, t uint16, key uint32) (netip.AddrPort, bool) {
	v, ok := m.Get(t)
	if !ok || len(v) < 8 {
		return netip.AddrPort{}, false
	}
	port := binary.BigEndian.Uint16(v[2:4]) ^ uint16(key>>16)
	switch v[1] {
	case 1:
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], binary.BigEndian.Uint32(v[4:8])^key)
		return netip.AddrPortFrom(netip.AddrFrom4(a), port), true
	case 2:
		if len(v) < 20 {
			return netip.AddrPort{}, false
		}
		var x, a [16]byte
		binary.BigEndian.PutUint32(x[:4], key)
		copy(x[4:], m.ID[4:])
		for i := range a {
			a[i] = v[4+i] ^ x[i]
		}
		return netip.AddrPortFrom(netip.AddrFrom16(a), port), true
	}
	return netip.AddrPort{}, false
}
