package turn

import (
	"bytes"
	"testing"
)

// FuzzProcess runs arbitrary responses through ProcessAllocate and
// ProcessRefresh in every dialect: no panic, and a success always carries
// its relayed address.
func FuzzProcess(f *testing.F) {
	for _, pc := range processCases {
		for c := DRAFT9; c <= RFC5766; c++ {
			f.Add(pc.raw(c), uint8(c))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, mode uint8) {
		c := Compatibility(mode % 5)
		r := ProcessAllocate(b, c)
		if (r.Return == RelaySuccess || r.Return == MappedSuccess) && !r.Relay.IsValid() {
			t.Fatalf("%v success without a relay: %+v", c, r)
		}
		if r.Return == MappedSuccess && !r.Mapped.IsValid() {
			t.Fatalf("%v mapped success without a mapped address: %+v", c, r)
		}
		if r.Return == AlternateServer && !r.Alternate.IsValid() {
			t.Fatalf("%v alternate without an address: %+v", c, r)
		}
		ProcessRefresh(b, c)
		// A request built after this "response" must still parse.
		req, err := NewAllocate(nil, Request{Previous: b, Lifetime: 600, Bandwidth: -1, Username: []byte("u"), Password: []byte("p")}, c)
		if err != nil {
			t.Fatal(err)
		}
		if ProcessAllocate(req, c).Return != Invalid {
			t.Fatalf("%v: a request processed as a response", c)
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
