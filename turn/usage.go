// Package turn is TURN for media servers: libnice's STUN TURN usage
// (stun_usage_turn_*) — building Allocate and Refresh requests and
// processing their responses in each compatibility mode, at message level —
// the ChannelData framing, and an allocation endpoint (Allocation) built on
// the stun package's session.
//
// The usage functions are pure: they read and write byte slices, never a
// socket, and keep no state; they are safe for concurrent use.
// Transactions, retransmissions and the matching of a response to its
// request are the caller's (a stun.Session's, or libnice's StunAgent's).
package turn

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/stunwire"
	"github.com/mediaport/mediaport/stun"
)

// Compatibility is the TURN dialect (StunUsageTurnCompatibility).
type Compatibility int

// The dialects. RFC5766, the standard, is the zero value; libnice numbers
// them DRAFT9 = 0 … RFC5766 = 4 instead, which matters only to C callers.
const (
	// RFC5766 is TURN as RFC 5766 and RFC 8656 define it, as coturn and
	// pion/turn speak it (STUN_USAGE_TURN_COMPATIBILITY_RFC5766).
	RFC5766 Compatibility = iota
	// DRAFT9 is draft-ietf-behave-turn-09 (STUN_USAGE_TURN_COMPATIBILITY_DRAFT9):
	// RFC 5389 framing, long-term credentials, the draft's four-byte
	// REQUESTED-PORT-PROPS.
	DRAFT9
	// GOOGLE is Google Talk's relay (STUN_USAGE_TURN_COMPATIBILITY_GOOGLE):
	// RFC 3489 headers, short-term credentials, MAPPED-ADDRESS is the relay.
	GOOGLE
	// MSN is MSN's TURN (STUN_USAGE_TURN_COMPATIBILITY_MSN): like GOOGLE,
	// with the mapped address, not XORed, in attribute 0x8000.
	MSN
	// OC2007 is Microsoft Office Communicator 2007's TURN, [MS-TURN]
	// (STUN_USAGE_TURN_COMPATIBILITY_OC2007): RFC 3489 headers, unaligned
	// attributes, long-term credentials, REALM and NONCE with each other's
	// attribute types.
	OC2007
)

var compatNames = [...]string{"RFC5766", "DRAFT9", "GOOGLE", "MSN", "OC2007"}

// String returns the dialect's name, "RFC5766" for RFC5766.
func (c Compatibility) String() string {
	if c.valid() {
		return compatNames[c]
	}
	return fmt.Sprintf("Compatibility(%d)", int(c))
}

func (c Compatibility) valid() bool { return c >= RFC5766 && c <= OC2007 }

// rfc3489 reports whether the dialect's header has no magic cookie and a
// 128-bit transaction ID (and, for MESSAGE-INTEGRITY, RFC 3489's padding of
// the text to 64 bytes).
func (c Compatibility) rfc3489() bool { return c == GOOGLE || c == MSN || c == OC2007 }

// aligned reports whether attributes are padded to 4 bytes (all but OC2007).
func (c Compatibility) aligned() bool { return c != OC2007 }

// shortTerm reports whether the dialect uses short-term credentials.
func (c Compatibility) shortTerm() bool { return c == GOOGLE || c == MSN }

// turnMethods reports whether the dialect has the REFRESH method and the
// RFC 5389 TURN attributes (DRAFT9, RFC5766).
func (c Compatibility) turnMethods() bool { return c == DRAFT9 || c == RFC5766 }

// realmAttr and nonceAttr are the dialect's types for REALM and NONCE:
// [MS-TURN] swaps them.
func (c Compatibility) realmAttr() uint16 {
	if c == OC2007 {
		return stunwire.AttrNonce
	}
	return stunwire.AttrRealm
}

func (c Compatibility) nonceAttr() uint16 {
	if c == OC2007 {
		return stunwire.AttrRealm
	}
	return stunwire.AttrNonce
}

// RequestPorts is the port property asked of a new allocation
// (StunUsageTurnRequestPorts); DRAFT9 and RFC5766 only.
type RequestPorts int

const (
	// PortNormal asks for any port (STUN_USAGE_TURN_REQUEST_PORT_NORMAL).
	PortNormal RequestPorts = iota
	// PortEven asks for an even port (STUN_USAGE_TURN_REQUEST_PORT_EVEN).
	PortEven
	// PortEvenAndReserve asks for an even port and to reserve the next one
	// (STUN_USAGE_TURN_REQUEST_PORT_EVEN_AND_RESERVE); the response's
	// RESERVATION-TOKEN goes into the Allocate of the odd port through
	// Request.Previous.
	PortEvenAndReserve
)

var portNames = [...]string{"PortNormal", "PortEven", "PortEvenAndReserve"}

// String returns the constant's name.
func (p RequestPorts) String() string {
	if p >= PortNormal && p <= PortEvenAndReserve {
		return portNames[p]
	}
	return fmt.Sprintf("RequestPorts(%d)", int(p))
}

// Return is what processing a response found (StunUsageTurnReturn).
type Return int

const (
	// RelaySuccess: a success response with the relayed address
	// (STUN_USAGE_TURN_RETURN_RELAY_SUCCESS); for a Refresh, a success.
	RelaySuccess Return = iota
	// MappedSuccess: a success response with the relayed and the mapped
	// address (STUN_USAGE_TURN_RETURN_MAPPED_SUCCESS).
	MappedSuccess
	// Error: an error response (Response.Code says which), or a success
	// without the relayed address (Code 0) (STUN_USAGE_TURN_RETURN_ERROR).
	// After 401 or 438, build the next request with this response as
	// Request.Previous.
	Error
	// Invalid: not a response to this kind of request — another method, a
	// request or indication, an error response without a valid ERROR-CODE,
	// or not a STUN message of the dialect (STUN_USAGE_TURN_RETURN_INVALID).
	Invalid
	// AlternateServer: a 3xx error with ALTERNATE-SERVER: send the Allocate
	// to Response.Alternate (STUN_USAGE_TURN_RETURN_ALTERNATE_SERVER).
	AlternateServer
)

var returnNames = [...]string{"RelaySuccess", "MappedSuccess", "Error", "Invalid", "AlternateServer"}

// String returns the constant's name.
func (r Return) String() string {
	if r >= RelaySuccess && r <= AlternateServer {
		return returnNames[r]
	}
	return fmt.Sprintf("Return(%d)", int(r))
}

// Errors of NewAllocate and NewRefresh, and of Response.Err.
var (
	// ErrCompatibility: the Compatibility is none of the five dialects.
	ErrCompatibility = fmt.Errorf("turn: %w: unknown compatibility", mediaport.ErrInvalidArgument)
	// ErrRequestPorts: the RequestPorts is none of the three.
	ErrRequestPorts = fmt.Errorf("turn: %w: unknown port request", mediaport.ErrInvalidArgument)
	// ErrPrevious: Request.Previous is not a STUN message of the dialect.
	ErrPrevious = fmt.Errorf("turn: %w: previous response does not parse", mediaport.ErrInvalidArgument)
	// ErrTooLarge: an attribute value or the request would pass the 65535
	// bytes STUN lengths can say.
	ErrTooLarge = fmt.Errorf("turn: %w: request over 65535 bytes", mediaport.ErrInvalidArgument)
	// ErrNoRelay: a success response without the relayed address
	// (Response.Err for an Error with Code 0).
	ErrNoRelay = errors.New("turn: success response without a relayed address")
	// ErrInvalidResponse: Response.Err of an Invalid response.
	ErrInvalidResponse = errors.New("turn: not a response to the request")
)

// Request holds the parameters of stun_usage_turn_create and
// stun_usage_turn_create_refresh. The zero Request sends neither
// BANDWIDTH nor LIFETIME, as libnice's -1 does: the server picks its
// default lifetime, and a zero Refresh refreshes. Deleting an allocation
// (LIFETIME 0, libnice's lifetime 0) is asked for with Delete.
type Request struct {
	// Previous is the last response received from the server (typically a
	// 401 or 438), for its REALM, NONCE and, Allocate only, its 8-byte
	// RESERVATION-TOKEN; nil for the first request. It is read, not kept.
	Previous []byte
	// Ports is the port property (Allocate, DRAFT9 and RFC5766).
	Ports RequestPorts
	// Bandwidth in kbit/s (Allocate, DRAFT9 and RFC5766); zero or
	// negative (libnice's -1) sends no BANDWIDTH.
	Bandwidth int32
	// Lifetime in seconds; zero or negative (libnice's -1) sends no
	// LIFETIME.
	Lifetime int32
	// Delete sends LIFETIME 0, whatever Lifetime holds (libnice's
	// lifetime 0): a Refresh that deletes the allocation (RFC 8656 §7).
	// GOOGLE, MSN and OC2007 have no Refresh and send it in an Allocate,
	// as libnice does.
	Delete bool
	// Username and Password: short-term (GOOGLE, MSN: the password is the
	// key) or long-term (the key is MD5(username:realm:password)).
	Username, Password []byte
	// Software is the SOFTWARE value in DRAFT9 and RFC5766 (default
	// "mediaport"; libnice sends "libnice").
	Software string
	// TransactionID, if set, is used instead of a random one: its last 12
	// bytes for the RFC 5389 dialects (DRAFT9, RFC5766), all 16 for the
	// others.
	TransactionID *[16]byte
}

// Methods and constants of the TURN usages.
const (
	methodAllocate = 0x0003
	methodRefresh  = 0x0004
	msMagicCookie  = 0x72c64bc6 // the MAGIC-COOKIE attribute of GOOGLE, MSN, OC2007
	transportUDP   = 0x11000000 // REQUESTED-TRANSPORT: UDP
	draftPortE     = 0x80000000 // REQUESTED-PORT-PROPS: even
	draftPortR     = 0x40000000 // REQUESTED-PORT-PROPS: reserve the next
	evenPortR      = 0x80       // EVEN-PORT: reserve the next
)

// NewAllocate appends an Allocate request to buf and returns the extended
// slice (stun_usage_turn_create). The attributes follow libnice's order:
//
//	DRAFT9, RFC5766: SOFTWARE, REQUESTED-TRANSPORT (UDP), BANDWIDTH,
//	                 LIFETIME, port request, REALM, NONCE,
//	                 RESERVATION-TOKEN, USERNAME, MESSAGE-INTEGRITY
//	GOOGLE, MSN:     MAGIC-COOKIE, LIFETIME, REALM, NONCE,
//	                 RESERVATION-TOKEN, USERNAME, MESSAGE-INTEGRITY
//	OC2007:          MAGIC-COOKIE, MS-VERSION (1), LIFETIME, REALM, NONCE,
//	                 RESERVATION-TOKEN, USERNAME, MESSAGE-INTEGRITY
//
// each only when it applies. USERNAME, when not empty, goes with
// short-term credentials (GOOGLE, MSN) or with a previous response.
// MESSAGE-INTEGRITY is keyed with the password in GOOGLE and MSN, always
// sent; with long-term credentials it is keyed with
// MD5(username:realm:password) and sent only when the request has both
// USERNAME and REALM (else the server's 401 supplies the realm). In
// RFC5766 mode the port request is RFC 5766's one-byte EVEN-PORT, where
// libnice sends the draft's four-byte form (docs/conformance.md, libnice 2).
//
// Errors (buf is then returned unchanged): ErrCompatibility,
// ErrRequestPorts, ErrPrevious, ErrTooLarge, or the random source's.
func NewAllocate(buf []byte, r Request, c Compatibility) ([]byte, error) {
	return build(buf, r, c, methodAllocate)
}

// NewRefresh appends a Refresh request to buf and returns the extended
// slice (stun_usage_turn_create_refresh). DRAFT9 and RFC5766 send REFRESH
// with SOFTWARE, LIFETIME, REALM, NONCE, USERNAME and MESSAGE-INTEGRITY;
// the other dialects have no Refresh method and send an Allocate, built as
// NewAllocate builds it with PortNormal. Errors as NewAllocate's.
func NewRefresh(buf []byte, r Request, c Compatibility) ([]byte, error) {
	if c.turnMethods() {
		return build(buf, r, c, methodRefresh)
	}
	r.Ports = PortNormal
	return build(buf, r, c, methodAllocate)
}

// builder appends the attributes of one message.
type builder struct {
	b     []byte // the message alone: b[0] is its first byte
	c     Compatibility
	large bool
}

// attr appends an attribute. GOOGLE and MSN, as libnice does without the
// magic cookie, pad the value itself with spaces to a multiple of 4 bytes
// (RFC 3489 lengths are multiples of 4); the RFC 5389 dialects pad after
// the value with zeros; OC2007 does not pad.
func (w *builder) attr(t uint16, v []byte) {
	n := len(v)
	pad := 0
	if w.c.aligned() {
		pad = -n & 3
	}
	if w.c.shortTerm() {
		n += pad
	}
	if n > 0xFFFF || len(w.b)-stunwire.HeaderSize+4+len(v)+pad > 0xFFFF {
		w.large = true
		return
	}
	w.b = binary.BigEndian.AppendUint16(w.b, t)
	w.b = binary.BigEndian.AppendUint16(w.b, uint16(n))
	w.b = append(w.b, v...)
	fill := byte(0)
	if w.c.shortTerm() {
		fill = ' '
	}
	for range pad {
		w.b = append(w.b, fill)
	}
}

func (w *builder) attr32(t uint16, v uint32) {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], v)
	w.attr(t, a[:])
}

func build(buf []byte, r Request, c Compatibility, method uint16) ([]byte, error) {
	if !c.valid() {
		return buf, ErrCompatibility
	}
	if r.Ports < PortNormal || r.Ports > PortEvenAndReserve {
		return buf, ErrRequestPorts
	}
	var prevAttrs [parseAttrs]stunwire.Attr
	prev := &stunwire.Message{Attrs: prevAttrs[:0]}
	hasPrev := r.Previous != nil
	if hasPrev && stunwire.Parse(r.Previous, c.aligned(), prev) != nil {
		return buf, ErrPrevious
	}
	var id [16]byte
	if r.TransactionID != nil {
		id = *r.TransactionID
	} else if _, err := rand.Read(id[:]); err != nil {
		return buf, err
	}
	if !c.rfc3489() {
		binary.BigEndian.PutUint32(id[:4], stunwire.MagicCookie)
	}
	// The message is built in the free capacity of buf, then appended to
	// it: in place when it fits.
	w := builder{b: stunwire.AppendHeader(buf[len(buf):], method, id), c: c}
	allocate := method == methodAllocate

	if c.turnMethods() {
		sw := r.Software
		if sw == "" {
			sw = "mediaport"
		}
		w.attr(stunwire.AttrSoftware, []byte(sw))
		if allocate {
			w.attr32(stunwire.AttrRequestedTransport, transportUDP)
			if r.Bandwidth > 0 {
				w.attr32(stunwire.AttrBandwidth, uint32(r.Bandwidth))
			}
		}
	} else {
		w.attr32(stunwire.AttrMagicCookie, msMagicCookie)
		if c == OC2007 {
			w.attr32(stunwire.AttrMSVersion, 1)
		}
	}
	switch {
	case r.Delete:
		w.attr32(stunwire.AttrLifetime, 0)
	case r.Lifetime > 0:
		w.attr32(stunwire.AttrLifetime, uint32(r.Lifetime))
	}
	if allocate && c.turnMethods() && r.Ports != PortNormal {
		switch {
		case c == DRAFT9 && r.Ports == PortEven:
			w.attr32(stunwire.AttrRequestedPortProps, draftPortE)
		case c == DRAFT9:
			w.attr32(stunwire.AttrRequestedPortProps, draftPortE|draftPortR)
		case r.Ports == PortEven:
			w.attr(stunwire.AttrRequestedPortProps, []byte{0})
		default:
			w.attr(stunwire.AttrRequestedPortProps, []byte{evenPortR})
		}
	}
	var realm []byte
	hasRealm := false
	if hasPrev {
		if realm, hasRealm = get(prev, c.realmAttr()); hasRealm {
			w.attr(c.realmAttr(), realm)
		}
		if nonce, ok := get(prev, c.nonceAttr()); ok {
			w.attr(c.nonceAttr(), nonce)
		}
		if allocate {
			if token, ok := get(prev, stunwire.AttrReservationToken); ok && len(token) == 8 {
				w.attr(stunwire.AttrReservationToken, token)
			}
		}
	}
	if len(r.Username) > 0 && (c.shortTerm() || hasPrev) {
		w.attr(stunwire.AttrUsername, r.Username)
	}
	var key []byte
	switch {
	case c.shortTerm():
		key = r.Password
		if key == nil {
			key = []byte{}
		}
	case hasRealm && len(r.Username) > 0 && hasPrev:
		k := longTermKey(r.Username, realm, r.Password)
		key = k[:]
	}
	if key != nil && !w.large {
		if len(w.b)-stunwire.HeaderSize+24 > 0xFFFF {
			w.large = true
		} else {
			w.b = stunwire.AppendIntegrity(w.b, key, c.rfc3489())
		}
	}
	if w.large {
		return buf, ErrTooLarge
	}
	binary.BigEndian.PutUint16(w.b[2:4], uint16(len(w.b)-stunwire.HeaderSize))
	return append(buf, w.b...), nil
}

// longTermKey is the long-term credential key, MD5(username:realm:password)
// (RFC 5389 §15.4). As libnice does, double quotes around the realm and NULs
// after it are dropped first ([MS-TURN] servers quote it); the username
// and password are used as given.
func longTermKey(username, realm, password []byte) [16]byte {
	for len(realm) > 0 && realm[0] == '"' {
		realm = realm[1:]
	}
	for n := len(realm); n > 0 && (realm[n-1] == '"' || realm[n-1] == 0); n = len(realm) {
		realm = realm[:n-1]
	}
	text := make([]byte, 0, len(username)+len(realm)+len(password)+2)
	text = append(append(append(append(append(text, username...), ':'), realm...), ':'), password...)
	return md5.Sum(text)
}

// Response is what ProcessAllocate and ProcessRefresh found in a response:
// the Return and, depending on it, the addresses and values libnice's
// out-parameters would carry. Fields that do not apply are zero.
type Response struct {
	Return Return
	// Relay is the relayed transport address (RelaySuccess,
	// MappedSuccess of an Allocate).
	Relay netip.AddrPort
	// Mapped is the server-reflexive address (MappedSuccess).
	Mapped netip.AddrPort
	// Alternate is the server to try next (AlternateServer; in OC2007 also
	// an error response's MS-ALTERNATE-SERVER, as libnice fills it).
	Alternate netip.AddrPort
	// Bandwidth (kbit/s) and Lifetime (seconds) granted, when the success
	// response says; a Refresh's Lifetime 0 means the allocation is gone.
	Bandwidth uint32
	Lifetime  uint32
	// Code and Reason are the ERROR-CODE of an error response (Error,
	// AlternateServer).
	Code   int
	Reason string
}

// Err returns nil for RelaySuccess and MappedSuccess; for an error
// response (Error with a Code, AlternateServer) a *stun.StatusError with
// its code and reason, for errors.As; ErrNoRelay for a success without a
// relayed address; ErrInvalidResponse for Invalid.
func (r Response) Err() error {
	switch {
	case r.Return == RelaySuccess || r.Return == MappedSuccess:
		return nil
	case r.Return == Invalid:
		return ErrInvalidResponse
	case r.Code != 0:
		return &stun.StatusError{Code: r.Code, Reason: r.Reason}
	}
	return ErrNoRelay
}

// ProcessAllocate processes an Allocate response (stun_usage_turn_process).
//
//   - Another method, a request or indication, an error response without a
//     valid ERROR-CODE (class 3–6, number 0–99), or bytes that are not a
//     STUN message of the dialect: Invalid.
//   - 3xx with a valid ALTERNATE-SERVER (0x8023): AlternateServer.
//     Every other error response, 401 and 438 too: Error with the Code. In
//     OC2007, MS-ALTERNATE-SERVER (0x000E) of any error response fills
//     Alternate (ALTERNATE-SERVER, when valid, wins).
//   - Success: DRAFT9, RFC5766 need XOR-RELAYED-ADDRESS, else Error;
//     with XOR-MAPPED-ADDRESS, MappedSuccess, else RelaySuccess. GOOGLE:
//     MAPPED-ADDRESS is the relay, RelaySuccess. MSN: MAPPED-ADDRESS is the
//     relay, 0x8000 (not XORed) the mapped address. OC2007: MAPPED-ADDRESS
//     is the relay, 0x8020 the mapped address XORed with the first 32 bits
//     of the transaction ID. LIFETIME and BANDWIDTH when present.
//
// Attributes are looked up as libnice does: the first of a type counts,
// and none after MESSAGE-INTEGRITY (but FINGERPRINT) or FINGERPRINT; an
// address of the wrong length or family is absent. The transaction ID and
// MESSAGE-INTEGRITY are not checked: matching a response to its request is
// the caller's (libnice's StunAgent's, a stun.Session's). It does not
// allocate, but for an error response's Reason.
func ProcessAllocate(msg []byte, c Compatibility) Response {
	var attrs [parseAttrs]stunwire.Attr
	m := &stunwire.Message{Attrs: attrs[:0]}
	if !c.valid() || stunwire.Parse(msg, c.aligned(), m) != nil || m.Method() != methodAllocate {
		return Response{Return: Invalid}
	}
	switch m.Class() {
	case stunwire.ClassError:
		return processError(m, c)
	case stunwire.ClassSuccess:
	default:
		return Response{Return: Invalid}
	}
	var res Response
	var relayOK, mappedOK bool
	switch c {
	case DRAFT9, RFC5766:
		res.Mapped, mappedOK = xorAddr(m, stunwire.AttrXORMappedAddress, stunwire.MagicCookie)
		res.Relay, relayOK = xorAddr(m, stunwire.AttrXORRelayedAddress, stunwire.MagicCookie)
	case GOOGLE:
		res.Relay, relayOK = plainAddr(m, stunwire.AttrMappedAddress)
	case MSN:
		res.Mapped, mappedOK = plainAddr(m, stunwire.AttrMSMappedAddress)
		res.Relay, relayOK = plainAddr(m, stunwire.AttrMappedAddress)
	case OC2007:
		res.Mapped, mappedOK = xorAddr(m, stunwire.AttrMSXORMappedAddress, binary.BigEndian.Uint32(m.ID[:4]))
		res.Relay, relayOK = plainAddr(m, stunwire.AttrMappedAddress)
	}
	if !relayOK {
		return Response{Return: Error}
	}
	res.Return = RelaySuccess
	if mappedOK {
		res.Return = MappedSuccess
	} else {
		res.Mapped = netip.AddrPort{}
	}
	res.Lifetime, _ = get32(m, stunwire.AttrLifetime)
	res.Bandwidth, _ = get32(m, stunwire.AttrBandwidth)
	return res
}

// processError is the error-response branch of ProcessAllocate.
func processError(m *stunwire.Message, c Compatibility) Response {
	code, reason, ok := errorCode(m)
	if !ok {
		return Response{Return: Invalid}
	}
	res := Response{Return: Error, Code: code, Reason: reason}
	if c == OC2007 {
		res.Alternate, _ = plainAddr(m, stunwire.AttrMSAlternateServer)
	}
	if code/100 == 3 {
		if alt, ok := plainAddr(m, stunwire.AttrAlternateServer); ok {
			res.Return, res.Alternate = AlternateServer, alt
		}
	}
	return res
}

// ProcessRefresh processes a Refresh response
// (stun_usage_turn_refresh_process). It expects REFRESH in DRAFT9 and
// RFC5766 and Allocate in the other dialects, else Invalid; any error
// response is Error with its Code (Invalid without a valid ERROR-CODE); a
// success is RelaySuccess with the LIFETIME granted, and no addresses (the
// allocation keeps those it had). Lookups and checks as ProcessAllocate's.
func ProcessRefresh(msg []byte, c Compatibility) Response {
	var attrs [parseAttrs]stunwire.Attr
	m := &stunwire.Message{Attrs: attrs[:0]}
	method := uint16(methodAllocate)
	if c.turnMethods() {
		method = methodRefresh
	}
	if !c.valid() || stunwire.Parse(msg, c.aligned(), m) != nil || m.Method() != method {
		return Response{Return: Invalid}
	}
	switch m.Class() {
	case stunwire.ClassError:
		code, reason, ok := errorCode(m)
		if !ok {
			return Response{Return: Invalid}
		}
		return Response{Return: Error, Code: code, Reason: reason}
	case stunwire.ClassSuccess:
		res := Response{Return: RelaySuccess}
		res.Lifetime, _ = get32(m, stunwire.AttrLifetime)
		return res
	}
	return Response{Return: Invalid}
}

// parseAttrs is how many attributes a response parsed on the stack holds
// without allocating: a TURN response carries fewer.
const parseAttrs = 12

// get returns the value of the first attribute of type t that counts:
// after MESSAGE-INTEGRITY only FINGERPRINT does, after FINGERPRINT none
// (RFC 5389 §15.4, and libnice's stun_message_find).
func get(m *stunwire.Message, t uint16) ([]byte, bool) {
	for _, a := range m.Attrs {
		if a.Type == t {
			return a.Value, true
		}
		switch a.Type {
		case stunwire.AttrMessageIntegrity:
			if t != stunwire.AttrFingerprint {
				return nil, false
			}
		case stunwire.AttrFingerprint:
			return nil, false
		}
	}
	return nil, false
}

// get32 returns a four-byte attribute's value; another length is absent.
func get32(m *stunwire.Message, t uint16) (uint32, bool) {
	v, ok := get(m, t)
	if !ok || len(v) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(v), true
}

// errorCode decodes ERROR-CODE: class 3 to 6 and number 0 to 99, as libnice
// accepts them.
func errorCode(m *stunwire.Message) (code int, reason string, ok bool) {
	v, ok := get(m, stunwire.AttrErrorCode)
	if !ok || len(v) < 4 {
		return 0, "", false
	}
	class, number := int(v[2]&7), int(v[3])
	if class < 3 || class > 6 || number > 99 {
		return 0, "", false
	}
	return class*100 + number, string(v[4:]), true
}

// plainAddr decodes a MAPPED-ADDRESS-style attribute: family 1 with 8
// bytes, or family 2 with 20.
func plainAddr(m *stunwire.Message, t uint16) (netip.AddrPort, bool) {
	v, ok := get(m, t)
	if !ok || len(v) < 4 {
		return netip.AddrPort{}, false
	}
	port := binary.BigEndian.Uint16(v[2:4])
	switch {
	case v[1] == 1 && len(v) == 8:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(v[4:8])), port), true
	case v[1] == 2 && len(v) == 20:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(v[4:20])), port), true
	}
	return netip.AddrPort{}, false
}

// xorAddr decodes an XOR-MAPPED-ADDRESS-style attribute: an IPv4 address
// and the port XORed with key (the magic cookie, or OC2007's first 32 bits
// of the ID), an IPv6 address with the 16 bytes after the header's length
// (the magic cookie and transaction ID of RFC 5389), as libnice does.
func xorAddr(m *stunwire.Message, t uint16, key uint32) (netip.AddrPort, bool) {
	a, ok := plainAddr(m, t)
	if !ok {
		return a, false
	}
	port := a.Port() ^ uint16(key>>16)
	if a.Addr().Is4() {
		ip := a.Addr().As4()
		binary.BigEndian.PutUint32(ip[:], binary.BigEndian.Uint32(ip[:])^key)
		return netip.AddrPortFrom(netip.AddrFrom4(ip), port), true
	}
	ip := a.Addr().As16()
	for i := range ip {
		ip[i] ^= m.ID[i]
	}
	return netip.AddrPortFrom(netip.AddrFrom16(ip), port), true
}
