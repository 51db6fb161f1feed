package association

import (
	"encoding/binary"
)

// What a Listener reads of the first flights to admit a peer: a
// ClientHello (parseClientHello) and the cookie of the HelloVerifyRequest
// pion answers it with (helloVerifyCookie). Neither allocates.

const (
	recordHeaderLen    = 13
	handshakeHeaderLen = 12
	hsClientHello      = 1
	hsHelloVerify      = 3
	// minHelloLen is the shortest datagram parseClientHello accepts: a
	// record and handshake header, version, random, empty session id and
	// cookie, one cipher suite and one compression method.
	minHelloLen = recordHeaderLen + handshakeHeaderLen + 2 + 32 + 1 + 1 + 2 + 2 + 1 + 1
	// maxCookie is the longest cookie DTLS 1.2 allows.
	maxCookie = 255
)

// hello is what admission needs of a ClientHello: slices of the datagram
// it was parsed from.
type hello struct {
	msgSeq uint16
	cookie []byte
}

// parseClientHello parses the first record of b as an epoch-0 DTLS
// ClientHello, whole up to its compression methods, or as its first
// fragment up to its cookie (a ClientHello too large for one datagram,
// as Chrome's is); ok is false for anything else (a 34-byte datagram of
// zeros that only looks like one, a later fragment, a truncated message).
func parseClientHello(b []byte) (h hello, ok bool) {
	m, seq, whole, ok := handshakeMessage(b, hsClientHello)
	if !ok {
		return h, false
	}
	i := 2 + 32 // client_version, random
	if len(m) < i+1 {
		return h, false
	}
	sid := int(m[i])
	if sid > 32 || len(m) < i+1+sid+1 {
		return h, false
	}
	i += 1 + sid
	cl := int(m[i])
	if len(m) < i+1+cl {
		return h, false
	}
	cookie := m[i+1 : i+1+cl]
	i += 1 + cl
	if !whole {
		// The first fragment of a ClientHello too large for one datagram
		// (Chrome's, with its post-quantum key share): what follows the
		// cookie is in the other fragments.
		return hello{msgSeq: seq, cookie: cookie}, true
	}
	if len(m) < i+2 {
		return h, false
	}
	sl := int(binary.BigEndian.Uint16(m[i:]))
	if sl < 2 || sl%2 != 0 || len(m) < i+2+sl+1 {
		return h, false
	}
	i += 2 + sl
	cm := int(m[i])
	if cm < 1 || len(m) < i+1+cm {
		return h, false
	}
	return hello{msgSeq: seq, cookie: cookie}, true
}

// helloVerifyCookie returns the cookie of b when its first record is an
// epoch-0 HelloVerifyRequest.
func helloVerifyCookie(b []byte) ([]byte, bool) {
	m, _, whole, ok := handshakeMessage(b, hsHelloVerify)
	if !ok || !whole || len(m) < 3 || len(m) < 3+int(m[2]) {
		return nil, false
	}
	return m[3 : 3+int(m[2])], true
}

// handshakeMessage returns the body and message_seq of the handshake
// message of type typ that the first record of b holds, in epoch 0: whole,
// or (whole false) its first fragment.
func handshakeMessage(b []byte, typ byte) (body []byte, seq uint16, whole, ok bool) {
	if len(b) < recordHeaderLen+handshakeHeaderLen || b[0] != ctHandshake || b[3] != 0 || b[4] != 0 {
		return nil, 0, false, false
	}
	rl := int(binary.BigEndian.Uint16(b[11:13]))
	if rl > len(b)-recordHeaderLen || rl < handshakeHeaderLen {
		return nil, 0, false, false
	}
	hs := b[recordHeaderLen : recordHeaderLen+rl]
	if hs[0] != typ {
		return nil, 0, false, false
	}
	ml := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
	fo := int(hs[6])<<16 | int(hs[7])<<8 | int(hs[8])
	fl := int(hs[9])<<16 | int(hs[10])<<8 | int(hs[11])
	if fo != 0 || fl > ml || fl > len(hs)-handshakeHeaderLen {
		return nil, 0, false, false // not the first fragment, or truncated
	}
	return hs[handshakeHeaderLen : handshakeHeaderLen+fl], binary.BigEndian.Uint16(hs[4:6]), fl == ml, true
}
