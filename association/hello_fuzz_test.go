package association

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/pion/dtls/v3/pkg/protocol"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
)

// helloRecord marshals a ClientHello with pion into one epoch-0 record.
func helloRecord(tb testing.TB, cookie []byte, seq uint16) []byte {
	tb.Helper()
	h := &handshake.Handshake{
		Header: handshake.Header{MessageSequence: seq},
		Message: &handshake.MessageClientHello{
			Version:            protocol.Version1_2,
			Cookie:             cookie,
			CipherSuiteIDs:     []uint16{0xc02b, 0xc02f},
			CompressionMethods: []*protocol.CompressionMethod{{ID: 0}},
			Extensions:         []extension.Extension{&extension.UseExtendedMasterSecret{Supported: true}},
		},
	}
	body, err := h.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	rec := []byte{ctHandshake, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0}
	binary.BigEndian.PutUint16(rec[11:], uint16(len(body)))
	return append(rec, body...)
}

// FuzzParseClientHello: the admission parser never panics, returns a
// cookie inside the datagram, and agrees with pion's parser on every
// unfragmented epoch-0 ClientHello pion accepts with a session id of at
// most 32 bytes, a cipher suite and a compression method (the rules
// pion does not check).
func FuzzParseClientHello(f *testing.F) {
	f.Add(helloRecord(f, nil, 0))
	f.Add(helloRecord(f, bytes.Repeat([]byte{0xab}, 20), 1))
	f.Add(helloRecord(f, bytes.Repeat([]byte{1}, 255), 1))
	f.Add(make([]byte, 34)) // the 34-byte datagram that passed for a ClientHello
	f.Add([]byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok := parseClientHello(b)
		if ok {
			if len(h.cookie) > maxCookie || len(b) < minHelloLen {
				t.Fatalf("cookie of %d bytes from %d", len(h.cookie), len(b))
			}
			if len(h.cookie) > 0 && !bytes.Contains(b, h.cookie) {
				t.Fatal("cookie not from the datagram")
			}
		}
		if ck, ok := helloVerifyCookie(b); ok && len(ck) > 0 && !bytes.Contains(b, ck) {
			t.Fatal("HelloVerifyRequest cookie not from the datagram")
		}
		// Differential: what pion reads as a whole ClientHello, we read too.
		if len(b) < recordHeaderLen+handshakeHeaderLen || b[0] != ctHandshake || b[3] != 0 || b[4] != 0 {
			return
		}
		rl := int(binary.BigEndian.Uint16(b[11:13]))
		if rl > len(b)-recordHeaderLen {
			return
		}
		var ph handshake.Handshake
		if ph.Unmarshal(b[recordHeaderLen:recordHeaderLen+rl]) != nil {
			return
		}
		ch, isCH := ph.Message.(*handshake.MessageClientHello)
		if !isCH || ph.Header.FragmentOffset != 0 || ph.Header.FragmentLength != ph.Header.Length ||
			len(ch.SessionID) > 32 || len(ch.CipherSuiteIDs) == 0 || len(ch.CompressionMethods) == 0 {
			return // pion is laxer than RFC 6347 here: we refuse these
		}
		if at := recordHeaderLen + handshakeHeaderLen + 2 + 32 + 1 + len(ch.SessionID) + 1 + len(ch.Cookie); binary.BigEndian.Uint16(b[at:])%2 != 0 {
			return // an odd cipher_suites length, which pion reads too
		}
		if !ok {
			t.Fatalf("pion reads a ClientHello (cookie %x), we do not", ch.Cookie)
		}
		if !bytes.Equal(h.cookie, ch.Cookie) || h.msgSeq != ph.Header.MessageSequence {
			t.Fatalf("cookie %x seq %d, pion %x seq %d", h.cookie, h.msgSeq, ch.Cookie, ph.Header.MessageSequence)
		}
	})
}

// TestParseClientHello: pion's own ClientHellos parse, with their cookie
// and message_seq; the 34-byte look-alike and truncations do not.
func TestParseClientHello(t *testing.T) {
	for _, tc := range []struct {
		cookie []byte
		seq    uint16
	}{{nil, 0}, {bytes.Repeat([]byte{9}, 32), 1}} {
		b := helloRecord(t, tc.cookie, tc.seq)
		h, ok := parseClientHello(b)
		if !ok || !bytes.Equal(h.cookie, tc.cookie) || h.msgSeq != tc.seq {
			t.Fatalf("%x: %v %+v", b, ok, h)
		}
		for n := range len(b) - 8 { // short of the extensions: truncated
			if _, ok := parseClientHello(b[:n]); ok {
				t.Fatalf("truncated to %d of %d: parsed", n, len(b))
			}
		}
	}
	look := make([]byte, 34)
	look[0], look[13] = ctHandshake, hsClientHello
	if _, ok := parseClientHello(look); ok {
		t.Fatal("the 34-byte look-alike parsed")
	}
}

// TestFirstHelloFragment: the first fragment of a ClientHello split over
// two datagrams (as Chrome's is) starts a handshake; the second fragment,
// and a first fragment that stops inside the cookie, do not.
func TestFirstHelloFragment(t *testing.T) {
	whole := helloRecord(t, nil, 0)
	body := whole[recordHeaderLen:]
	ml := len(body) - handshakeHeaderLen
	frag := func(off, n int) []byte {
		h := append([]byte(nil), body[:handshakeHeaderLen]...)
		h[6], h[7], h[8] = byte(off>>16), byte(off>>8), byte(off)
		h[9], h[10], h[11] = byte(n>>16), byte(n>>8), byte(n)
		h = append(h, body[handshakeHeaderLen+off:handshakeHeaderLen+off+n]...)
		rec := append([]byte(nil), whole[:recordHeaderLen]...)
		binary.BigEndian.PutUint16(rec[11:], uint16(len(h)))
		return append(rec, h...)
	}
	if !firstHello(whole) {
		t.Fatal("whole ClientHello refused")
	}
	first, second := frag(0, 40), frag(40, ml-40)
	if !firstHello(first) {
		t.Fatal("first fragment refused")
	}
	if firstHello(second) {
		t.Fatal("second fragment taken for a first ClientHello")
	}
	if firstHello(frag(0, 30)) { // ends inside the random
		t.Fatal("a fragment that stops before the cookie taken")
	}
}
