package association

import (
	"bytes"
	"encoding/gob"
	"sync"
)

// pionState is what the association reads of pion's State.MarshalBinary
// (a gob of pion's serializedState; gob matches the fields by name).
type pionState struct {
	RemoteSequenceNumber  uint64
	HandshakeComplete     bool
	LocalEpoch            uint16
	RemoteEpoch           uint16
	LocalRandom           [32]byte
	RemoteRandom          [32]byte
	CipherSuiteID         uint16
	MasterSecret          []byte
	SequenceNumber        uint64
	SRTPProtectionProfile uint16
	PeerCertificates      [][]byte
	IdentityHint          []byte
	LocalConnectionID     []byte
	RemoteConnectionID    []byte
	IsClient              bool
}

// states decodes the pion states of every takeover in the process.
var states stateDecoder

// stateDecoder decodes State.MarshalBinary streams. Each stream is the
// gob type definitions of pion's serializedState followed by one value;
// the definitions are the same bytes in every stream of a process (gob
// numbers types per process). A fresh gob.Decoder compiles its decoding
// engine for every stream, which costs more than the rest of a takeover
// together; this one keeps a single decoder: the first stream goes to it
// whole, a later one only as its value, once its definitions have been
// checked equal to the first's. A stream whose definitions differ or
// that does not frame as expected gets a fresh decoder, as before.
type stateDecoder struct {
	mu   sync.Mutex
	defs []byte       // the first stream's definitions
	in   bytes.Buffer // what dec reads (an io.ByteReader: gob reads no further than a message)
	dec  *gob.Decoder
}

// decode decodes raw into ps.
func (d *stateDecoder) decode(raw []byte, ps *pionState) error {
	*ps = pionState{} // gob leaves fields the stream omits (zero values) as they were
	n, ok := gobDefsLen(raw)
	if !ok {
		return gob.NewDecoder(bytes.NewReader(raw)).Decode(ps)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.dec == nil:
		d.defs = bytes.Clone(raw[:n])
		d.in.Reset()
		d.in.Write(raw)
		d.dec = gob.NewDecoder(&d.in)
	case bytes.Equal(raw[:n], d.defs):
		d.in.Write(raw[n:])
	default:
		return gob.NewDecoder(bytes.NewReader(raw)).Decode(ps)
	}
	err := d.dec.Decode(ps)
	if err != nil || d.in.Len() != 0 {
		d.dec = nil // out of step: the next stream starts a new decoder
	}
	return err
}

// gobDefsLen returns the length of the type definitions that start a gob
// stream, the messages before its first value, and false when b does not
// frame as gob messages or holds no definitions or no value. A message is
// its byte count (a gob unsigned integer) and a type id (a gob signed
// integer) followed by the rest: a negative id defines a type, a positive
// one carries a value of that type.
func gobDefsLen(b []byte) (int, bool) {
	for off := 0; off < len(b); {
		count, w := gobUint(b[off:])
		start := off + w
		if w == 0 || count == 0 || count > uint64(len(b)-start) {
			return 0, false
		}
		id, w := gobUint(b[start : start+int(count)])
		if w == 0 {
			return 0, false
		}
		if id&1 == 0 { // a non-negative id: the first value
			return off, off > 0 && id != 0
		}
		off = start + int(count)
	}
	return 0, false
}

// gobUint decodes a gob unsigned integer at the start of b: a byte below
// 0x80 is the value; otherwise the byte is minus the number of big-endian
// bytes that follow. It returns the value and the bytes it took, 0 when b
// is too short or the count is not 1 to 8.
func gobUint(b []byte) (uint64, int) {
	if len(b) == 0 {
		return 0, 0
	}
	if b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	n := int(-int8(b[0]))
	if n < 1 || n > 8 || len(b) < 1+n {
		return 0, 0
	}
	var x uint64
	for _, c := range b[1 : 1+n] {
		x = x<<8 | uint64(c)
	}
	return x, 1 + n
}
