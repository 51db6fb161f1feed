package turn

import (
	"encoding/binary"
	"testing"

	pionstun "github.com/pion/stun/v3"

	"github.com/mediaport/mediaport/internal/benchpair"
)

// BenchmarkChannelData: framing and parsing a 1200-byte ChannelData
// message (0 allocs/op).
func BenchmarkChannelData(b *testing.B) {
	buf := make([]byte, 0, 2048)
	data := make([]byte, 1200)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(1200)
		for b.Loop() {
			if _, err := AppendChannelData(buf[:0], 0x4001, data, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	m, _ := AppendChannelData(buf[:0], 0x4001, data, false)
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(1200)
		for b.Loop() {
			if _, d, _, err := ParseChannelData(m, false); err != nil || len(d) != 1200 {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkProcessAllocate: processing a coturn-like Allocate success
// response (XOR-RELAYED-ADDRESS, XOR-MAPPED-ADDRESS, LIFETIME, BANDWIDTH):
// mediaport's ProcessAllocate (0 allocs/op), and as the baseline the same
// reading with pion/stun v3 (Decode into a reused message, then the
// attributes).
func BenchmarkProcessAllocate(b *testing.B) {
	raw := processCases[0].raw(RFC5766)
	benchpair.Run(b, func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := ProcessAllocate(raw, RFC5766)
			if r.Return != MappedSuccess || r.Lifetime != 600 {
				b.Fatal("not a success")
			}
		}
	}, func(b *testing.B) {
		m := new(pionstun.Message)
		b.ReportAllocs()
		for b.Loop() {
			m.Raw = append(m.Raw[:0], raw...)
			if err := m.Decode(); err != nil {
				b.Fatal(err)
			}
			if m.Type.Method != pionstun.MethodAllocate || m.Type.Class != pionstun.ClassSuccessResponse {
				b.Fatal("not an Allocate success")
			}
			var relay, mapped pionstun.XORMappedAddress
			if err := relay.GetFromAs(m, pionstun.AttrXORRelayedAddress); err != nil {
				b.Fatal(err)
			}
			if err := mapped.GetFromAs(m, pionstun.AttrXORMappedAddress); err != nil {
				b.Fatal(err)
			}
			lt, err := m.Get(pionstun.AttrLifetime)
			if err != nil || binary.BigEndian.Uint32(lt) != 600 {
				b.Fatal(err)
			}
			if bw, err := m.Get(pionstun.AttrType(0x0010)); err != nil || len(bw) != 4 {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkNewAllocate: building the Allocate that answers a 401 (REALM,
// NONCE, long-term MESSAGE-INTEGRITY) into a reused buffer.
func BenchmarkNewAllocate(b *testing.B) {
	buf := make([]byte, 0, 512)
	r := Request{Lifetime: 600, Bandwidth: -1, Username: []byte("alice"), Password: []byte("secret"), Previous: challenge(RFC5766, "example.org")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewAllocate(buf[:0], r, RFC5766); err != nil {
			b.Fatal(err)
		}
	}
}
