package turn

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mediaport/mediaport/internal/stunwire"
)

// FuzzProcess runs arbitrary responses through ProcessAllocate and
// ProcessRefresh in every dialect (mode picks it), and uses them as the
// previous response of NewAllocate and NewRefresh: no panic, and what is
// returned is consistent — a success carries its relayed address, an
// error its code, a Refresh no address; a request built after the
// response parses and is not taken for a response.
func FuzzProcess(f *testing.F) {
	for _, pc := range processCases {
		for c := RFC5766; c <= OC2007; c++ {
			f.Add(pc.raw(c), uint8(c))
		}
	}
	for c := RFC5766; c <= OC2007; c++ {
		f.Add(challenge(c, "example.org"), uint8(c))
	}
	f.Fuzz(func(t *testing.T, b []byte, mode uint8) {
		c := Compatibility(mode % 5)
		r := ProcessAllocate(b, c)
		switch r.Return {
		case RelaySuccess, MappedSuccess:
			if !r.Relay.IsValid() || r.Code != 0 || r.Alternate.IsValid() {
				t.Fatalf("%v success: %+v", c, r)
			}
			if (r.Return == MappedSuccess) != r.Mapped.IsValid() {
				t.Fatalf("%v mapped address and return disagree: %+v", c, r)
			}
			if r.Err() != nil {
				t.Fatalf("%v success with an error: %v", c, r.Err())
			}
		case AlternateServer:
			if !r.Alternate.IsValid() || r.Code/100 != 3 {
				t.Fatalf("%v alternate: %+v", c, r)
			}
		case Error:
			if r.Code != 0 && (r.Code < 300 || r.Code > 699) || r.Relay.IsValid() {
				t.Fatalf("%v error: %+v", c, r)
			}
		case Invalid:
			if r != (Response{Return: Invalid}) {
				t.Fatalf("%v invalid with values: %+v", c, r)
			}
		default:
			t.Fatalf("%v: return %d", c, r.Return)
		}
		if r.Return != RelaySuccess && r.Return != MappedSuccess && r.Err() == nil {
			t.Fatalf("%v %v without an error", c, r.Return)
		}
		rr := ProcessRefresh(b, c)
		if rr.Relay.IsValid() || rr.Mapped.IsValid() || rr.Alternate.IsValid() || rr.Return == MappedSuccess || rr.Return == AlternateServer {
			t.Fatalf("%v refresh: %+v", c, rr)
		}
		var m stunwire.Message
		parses := stunwire.Parse(b, c.aligned(), &m) == nil
		for _, build := range []func([]byte, Request, Compatibility) ([]byte, error){NewAllocate, NewRefresh} {
			req, err := build(nil, Request{Previous: b, Lifetime: 600, Bandwidth: -1, Username: []byte("u"), Password: []byte("p")}, c)
			if errors.Is(err, ErrPrevious) && !parses {
				continue
			}
			if err != nil {
				if errors.Is(err, ErrTooLarge) {
					continue // a huge REALM or NONCE
				}
				t.Fatalf("%v: %v", c, err)
			}
			if stunwire.Parse(req, c.aligned(), &m) != nil {
				t.Fatalf("%v: our request does not parse: %x", c, req)
			}
			if ProcessAllocate(req, c).Return != Invalid || ProcessRefresh(req, c).Return != Invalid {
				t.Fatalf("%v: a request processed as a response", c)
			}
		}
	})
}

// FuzzChannelData: the parser never panics, and what it accepts re-encodes
// to the same message.
func FuzzChannelData(f *testing.F) {
	f.Add([]byte{0x40, 0x01, 0x00, 0x03, 1, 2, 3}, false)
	f.Add([]byte{0x40, 0x01, 0x00, 0x03, 1, 2, 3, 0}, true)
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff}, false)
	f.Fuzz(func(t *testing.T, b []byte, stream bool) {
		ch, data, n, err := ParseChannelData(b, stream)
		if err != nil {
			return
		}
		if n > len(b) || len(data) > n {
			t.Fatalf("n %d data %d of %d bytes", n, len(data), len(b))
		}
		if ch > MaxChannel {
			return // reserved numbers parse but cannot be sent
		}
		out, err := AppendChannelData(nil, ch, data, stream)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out[:4+len(data)], b[:4+len(data)]) {
			t.Fatalf("re-encoded % x from % x", out, b)
		}
	})
}
