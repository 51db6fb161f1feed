package stunwire

import (
	"bytes"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, aligned := range []bool{true, false} {
		id := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
		b := AppendHeader(nil, 0x0003, id)
		b = AppendAttr(b, AttrRealm, []byte("example.org"), aligned)
		b = AppendAttr(b, AttrLifetime, []byte{0, 0, 2, 0x58}, aligned)
		b = AppendIntegrity(b, []byte("key"), !aligned)
		var m Message
		if err := Parse(b, aligned, &m); err != nil {
			t.Fatal(err)
		}
		if m.Type != 0x0003 || m.ID != id || m.Method() != 0x0003 || m.Class() != ClassRequest || m.HasMagic() {
			t.Fatalf("header %+v", m)
		}
		if v, ok := m.Get(AttrRealm); !ok || string(v) != "example.org" {
			t.Fatalf("REALM %q", v)
		}
		if v, _ := m.Get(AttrLifetime); !bytes.Equal(v, []byte{0, 0, 2, 0x58}) {
			t.Fatalf("LIFETIME % x (aligned %v)", v, aligned)
		}
		if !CheckIntegrity(&m, []byte("key"), !aligned) || CheckIntegrity(&m, []byte("other"), !aligned) || CheckIntegrity(&m, []byte("key"), aligned) {
			t.Fatal("integrity")
		}
		wantLen := 20 + 4 + 11 + 4 + 4 + 24
		if aligned {
			wantLen++
		}
		if len(b) != wantLen {
			t.Fatalf("aligned=%v: %d bytes, want %d", aligned, len(b), wantLen)
		}
	}
}

func TestParseErrors(t *testing.T) {
	var m Message
	good := AppendAttr(AppendHeader(nil, 0x0101, [16]byte{}), AttrLifetime, []byte{0, 0, 0, 1}, true)
	for name, b := range map[string][]byte{
		"short":          good[:19],
		"not STUN":       append([]byte{0xc0}, good[1:]...),
		"length":         append(append([]byte(nil), good...), 0),
		"attr overrun":   append(append([]byte(nil), good[:2]...), append([]byte{0, 5}, good[4:21]...)...),
		"padding cut":    append(AppendHeader(nil, 1, [16]byte{}), 0, 6, 0, 1, 7),
		"header partial": append(AppendHeader(nil, 1, [16]byte{}), 0, 6),
	} {
		b := append([]byte(nil), b...)
		if len(b) >= 20 && name != "length" {
			b[2], b[3] = byte((len(b)-20)>>8), byte(len(b)-20)
		}
		if err := Parse(b, true, &m); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// FuzzParse: Parse never panics, and what it accepts re-encodes to the
// same bytes when it was aligned with zero padding.
func FuzzParse(f *testing.F) {
	f.Add(AppendAttr(AppendHeader(nil, 0x0103, [16]byte{0x21, 0x12, 0xa4, 0x42}), AttrXORRelayedAddress, []byte{0, 1, 2, 3, 4, 5, 6, 7}, true), true)
	f.Add(AppendAttr(AppendHeader(nil, 0x0113, [16]byte{}), AttrErrorCode, []byte{0, 0, 4, 1, 'x'}, false), false)
	f.Fuzz(func(t *testing.T, b []byte, aligned bool) {
		var m Message
		if err := Parse(b, aligned, &m); err != nil {
			return
		}
		out := AppendHeader(nil, m.Type, m.ID)
		for _, a := range m.Attrs {
			if a.Offset < HeaderSize || a.Offset+4+len(a.Value) > len(b) {
				t.Fatalf("attribute outside the message: %+v", a)
			}
			out = AppendAttr(out, a.Type, a.Value, aligned)
		}
		if len(out) != len(b) {
			t.Fatalf("re-encoded %d bytes from %d", len(out), len(b))
		}
		CheckIntegrity(&m, []byte("k"), aligned)
	})
}

// TestParseReusesAttrs: Parse fills the array m.Attrs already has while it
// is big enough — the same array, nothing allocated — and otherwise gives
// m.Attrs a new one holding every attribute, in order; a failed Parse
// leaves no attributes behind.
func TestParseReusesAttrs(t *testing.T) {
	msg := func(n int) []byte {
		b := AppendHeader(nil, 0x0101, [16]byte{})
		for i := range n {
			b = AppendAttr(b, uint16(0x8000+i), []byte{byte(i)}, true)
		}
		return b
	}
	var arr [4]Attr
	m := Message{Attrs: arr[:0]}
	if err := Parse(msg(3), true, &m); err != nil || len(m.Attrs) != 3 || &m.Attrs[0] != &arr[0] {
		t.Fatalf("3 attributes in an array of 4: %v, %d attributes, same array %v", err, len(m.Attrs), len(m.Attrs) > 0 && &m.Attrs[0] == &arr[0])
	}
	if err := Parse(msg(20), true, &m); err != nil || len(m.Attrs) != 20 {
		t.Fatalf("20 attributes: %v, %d", err, len(m.Attrs))
	}
	for i, a := range m.Attrs {
		if a.Type != uint16(0x8000+i) || !bytes.Equal(a.Value, []byte{byte(i)}) || a.Offset != 20+8*i {
			t.Fatalf("attribute %d: %+v", i, a)
		}
	}
	four := msg(4)
	if allocs := testing.AllocsPerRun(100, func() {
		var onStack [4]Attr // stays there unless Parse lets it escape
		m := Message{Attrs: onStack[:0]}
		Parse(four, true, &m)
	}); allocs != 0 {
		t.Fatalf("Parse into a big enough array allocates %v times", allocs)
	}
	bad := msg(2)
	bad[len(bad)-5] = 9 // the last attribute's length overruns the message
	if err := Parse(bad, true, &m); err == nil || len(m.Attrs) != 0 {
		t.Fatalf("bad attribute length: %v, %d attributes left", err, len(m.Attrs))
	}
}
