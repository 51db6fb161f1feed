package turn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/mediaport/mediaport/internal/stunwire"
)

// Response crafting for the tests.
func attr(t uint16, v []byte) stunwire.Attr { return stunwire.Attr{Type: t, Value: v} }

func plain(a netip.AddrPort) []byte {
	v := []byte{0, 1, byte(a.Port() >> 8), byte(a.Port())}
	ip := a.Addr().As4()
	return append(v, ip[:]...)
}

func xored(a netip.AddrPort, key uint32) []byte {
	v := binary.BigEndian.AppendUint16([]byte{0, 1}, a.Port()^uint16(key>>16))
	ip := a.Addr().As4()
	return binary.BigEndian.AppendUint32(v, binary.BigEndian.Uint32(ip[:])^key)
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func errCode(code int, reason string) []byte {
	return append([]byte{0, 0, byte(code / 100), byte(code % 100)}, reason...)
}

// msg builds a message of type typ with the RFC 5389 magic (magic) or the
// 128-bit ID 01020304 4142...; aligned selects padding.
func msg(typ uint16, magic, aligned bool, attrs ...stunwire.Attr) []byte {
	id := [16]byte{1, 2, 3, 4, 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L'}
	if magic {
		binary.BigEndian.PutUint32(id[:4], stunwire.MagicCookie)
	}
	b := stunwire.AppendHeader(nil, typ, id)
	for _, a := range attrs {
		b = stunwire.AppendAttr(b, a.Type, a.Value, aligned)
	}
	return b
}

var (
	relayA  = netip.MustParseAddrPort("192.0.2.15:50000")
	mappedA = netip.MustParseAddrPort("198.51.100.2:40000")
	altA    = netip.MustParseAddrPort("203.0.113.9:3478")
)

func parse(t *testing.T, b []byte, c Compatibility) *stunwire.Message {
	t.Helper()
	var m stunwire.Message
	if err := stunwire.Parse(b, c.aligned(), &m); err != nil {
		t.Fatalf("%v: %v", c, err)
	}
	return &m
}

func types(m *stunwire.Message) []uint16 {
	var out []uint16
	for _, a := range m.Attrs {
		out = append(out, a.Type)
	}
	return out
}

// TestAllocateAttributes: what each dialect emits (CONFORMANCE libnice
// 1–5), first request and after a 401.
func TestAllocateAttributes(t *testing.T) {
	const (
		sw, rt, bw, lt, ep  = stunwire.AttrSoftware, stunwire.AttrRequestedTransport, stunwire.AttrBandwidth, stunwire.AttrLifetime, stunwire.AttrRequestedPortProps
		realm, nonce, token = stunwire.AttrRealm, stunwire.AttrNonce, stunwire.AttrReservationToken
		user, mi, mc, msv   = stunwire.AttrUsername, stunwire.AttrMessageIntegrity, stunwire.AttrMagicCookie, stunwire.AttrMSVersion
	)
	prev := func(c Compatibility) []byte {
		return msg(0x0113, !c.rfc3489(), c.aligned(), attr(stunwire.AttrErrorCode, errCode(401, "Unauthorized")),
			attr(realm, []byte("example.org")), attr(nonce, []byte("abcnonce")), attr(token, []byte("TOKEN123")))
	}
	for _, tc := range []struct {
		c          Compatibility
		first      []uint16 // EVEN_AND_RESERVE, bandwidth 50, lifetime 600, no previous response
		challenged []uint16 // the same after a 401
		refresh    []uint16 // Refresh, lifetime 0, after a 401
	}{
		{DRAFT9, []uint16{sw, rt, bw, lt, ep}, []uint16{sw, rt, bw, lt, ep, realm, nonce, token, user, mi}, []uint16{sw, lt, realm, nonce, user, mi}},
		{RFC5766, []uint16{sw, rt, bw, lt, ep}, []uint16{sw, rt, bw, lt, ep, realm, nonce, token, user, mi}, []uint16{sw, lt, realm, nonce, user, mi}},
		{GOOGLE, []uint16{mc, lt, user, mi}, []uint16{mc, lt, realm, nonce, token, user, mi}, []uint16{mc, lt, realm, nonce, token, user, mi}},
		{MSN, []uint16{mc, lt, user, mi}, []uint16{mc, lt, realm, nonce, token, user, mi}, []uint16{mc, lt, realm, nonce, token, user, mi}},
		{OC2007, []uint16{mc, msv, lt}, []uint16{mc, msv, lt, nonce, realm, token, user, mi}, []uint16{mc, msv, lt, nonce, realm, token, user, mi}},
	} {
		r := Request{Ports: PortEvenAndReserve, Bandwidth: 50, Lifetime: 600, Username: []byte("alice"), Password: []byte("secret")}
		first, err := NewAllocate(nil, r, tc.c)
		if err != nil {
			t.Fatal(err)
		}
		m := parse(t, first, tc.c)
		if got := types(m); !equal16(got, tc.first) {
			t.Errorf("%v first Allocate: %04x, want %04x", tc.c, got, tc.first)
		}
		if m.Type != methodAllocate || m.HasMagic() != !tc.c.rfc3489() {
			t.Errorf("%v: type %04x magic %v", tc.c, m.Type, m.HasMagic())
		}
		r.Previous = prev(tc.c)
		again, _ := NewAllocate(nil, r, tc.c)
		m = parse(t, again, tc.c)
		if got := types(m); !equal16(got, tc.challenged) {
			t.Errorf("%v Allocate after 401: %04x, want %04x", tc.c, got, tc.challenged)
		}
		r.Lifetime = 0
		rf, _ := NewRefresh(nil, r, tc.c)
		rm := parse(t, rf, tc.c)
		if got := types(rm); !equal16(got, tc.refresh) {
			t.Errorf("%v Refresh: %04x, want %04x", tc.c, got, tc.refresh)
		}
		wantMethod := uint16(methodAllocate)
		if tc.c == DRAFT9 || tc.c == RFC5766 {
			wantMethod = methodRefresh
		}
		if rm.Method() != wantMethod {
			t.Errorf("%v Refresh method %04x", tc.c, rm.Method())
		}
		// Values of the dialect-specific attributes.
		if v, ok := m.Get(mc); ok && !bytes.Equal(v, u32(msMagicCookie)) {
			t.Errorf("%v MAGIC-COOKIE % x", tc.c, v)
		}
		if v, ok := m.Get(msv); ok && !bytes.Equal(v, u32(1)) {
			t.Errorf("%v MS-VERSION % x", tc.c, v)
		}
		if v, ok := m.Get(rt); ok && !bytes.Equal(v, u32(transportUDP)) {
			t.Errorf("%v REQUESTED-TRANSPORT % x", tc.c, v)
		}
		if v, _ := m.Get(lt); !bytes.Equal(v, u32(600)) {
			t.Errorf("%v LIFETIME % x", tc.c, v)
		}
		switch tc.c {
		case DRAFT9:
			if v, _ := m.Get(ep); !bytes.Equal(v, u32(0xC0000000)) {
				t.Errorf("DRAFT9 port request % x", v)
			}
		case RFC5766:
			if v, _ := m.Get(ep); !bytes.Equal(v, []byte{0x80}) {
				t.Errorf("RFC5766 EVEN-PORT % x, want the RFC's one byte with R", v)
			}
		case GOOGLE, MSN:
			if v, _ := m.Get(user); string(v) != "alice   " {
				t.Errorf("%v USERNAME %q, want padded with spaces", tc.c, v)
			}
			if !stunwire.CheckIntegrity(m, []byte("secret"), true) {
				t.Errorf("%v: short-term integrity does not verify", tc.c)
			}
		}
		if tc.c != GOOGLE && tc.c != MSN && !stunwire.CheckIntegrity(m, longTermKey([]byte("alice"), []byte("example.org"), []byte("secret")), tc.c.rfc3489()) {
			t.Errorf("%v: long-term integrity does not verify", tc.c)
		}
	}
	// No BANDWIDTH, LIFETIME or port request when not asked.
	b, _ := NewAllocate(nil, Request{Bandwidth: -1, Lifetime: -1}, RFC5766)
	if got := types(parse(t, b, RFC5766)); !equal16(got, []uint16{sw, rt}) {
		t.Errorf("minimal RFC5766 Allocate: %04x", got)
	}
	if _, err := NewAllocate(nil, Request{}, 9); err == nil {
		t.Error("unknown dialect accepted")
	}
}

func equal16(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// processCase is a crafted response and what each dialect makes of it
// (CONFORMANCE libnice 6–8, and what libnice 0.1.21 returns).
type processCase struct {
	name    string
	raw     func(c Compatibility) []byte
	want    map[Compatibility]Return
	refresh map[Compatibility]Return
}

func all(r Return) map[Compatibility]Return {
	return map[Compatibility]Return{DRAFT9: r, GOOGLE: r, MSN: r, OC2007: r, RFC5766: r}
}

func rfc(r, other Return) map[Compatibility]Return {
	return map[Compatibility]Return{DRAFT9: r, RFC5766: r, GOOGLE: other, MSN: other, OC2007: other}
}

var processCases = []processCase{
	{"relay+mapped", func(Compatibility) []byte {
		return msg(0x0103, true, true, attr(stunwire.AttrXORRelayedAddress, xored(relayA, stunwire.MagicCookie)),
			attr(stunwire.AttrXORMappedAddress, xored(mappedA, stunwire.MagicCookie)),
			attr(stunwire.AttrLifetime, u32(600)), attr(stunwire.AttrBandwidth, u32(128)))
	}, rfc(MappedSuccess, Error), rfc(Invalid, RelaySuccess)},
	{"relay only", func(Compatibility) []byte {
		return msg(0x0103, true, true, attr(stunwire.AttrXORRelayedAddress, xored(relayA, stunwire.MagicCookie)))
	}, rfc(RelaySuccess, Error), rfc(Invalid, RelaySuccess)},
	{"no relay", func(Compatibility) []byte {
		return msg(0x0103, true, true, attr(stunwire.AttrXORMappedAddress, xored(mappedA, stunwire.MagicCookie)))
	}, all(Error), rfc(Invalid, RelaySuccess)},
	{"401", func(c Compatibility) []byte {
		return msg(0x0113, true, c.aligned(), attr(stunwire.AttrErrorCode, errCode(401, "Unauthorized")),
			attr(stunwire.AttrRealm, []byte("example.org")), attr(stunwire.AttrNonce, []byte("nonce")))
	}, all(Error), rfc(Invalid, Error)},
	{"438", func(c Compatibility) []byte {
		return msg(0x0113, true, c.aligned(), attr(stunwire.AttrErrorCode, errCode(438, "Stale Nonce")))
	}, all(Error), rfc(Invalid, Error)},
	{"300 with ALTERNATE-SERVER", func(c Compatibility) []byte {
		return msg(0x0113, true, c.aligned(), attr(stunwire.AttrErrorCode, errCode(300, "Try Alternate")),
			attr(stunwire.AttrAlternateServer, plain(altA)))
	}, all(AlternateServer), rfc(Invalid, Error)},
	{"300 without", func(c Compatibility) []byte {
		return msg(0x0113, true, c.aligned(), attr(stunwire.AttrErrorCode, errCode(300, "Try Alternate")))
	}, all(Error), rfc(Invalid, Error)},
	{"OC2007 300 with MS-ALTERNATE-SERVER", func(c Compatibility) []byte {
		return msg(0x0113, false, c.aligned(), attr(stunwire.AttrErrorCode, errCode(300, "Try Alternate")),
			attr(stunwire.AttrMSAlternateServer, plain(altA)))
	}, all(Error), rfc(Invalid, Error)},
	{"error without ERROR-CODE", func(Compatibility) []byte { return msg(0x0113, true, true) }, all(Invalid), all(Invalid)},
	{"wrong method", func(Compatibility) []byte {
		return msg(0x0101, true, true, attr(stunwire.AttrXORRelayedAddress, xored(relayA, stunwire.MagicCookie)))
	}, all(Invalid), all(Invalid)},
	{"request", func(Compatibility) []byte { return msg(0x0003, true, true) }, all(Invalid), all(Invalid)},
	{"indication", func(Compatibility) []byte { return msg(0x0013, true, true) }, all(Invalid), all(Invalid)},
	{"GOOGLE success", func(Compatibility) []byte {
		return msg(0x0103, false, true, attr(stunwire.AttrMappedAddress, plain(relayA)), attr(stunwire.AttrLifetime, u32(600)))
	}, rfc(Error, RelaySuccess), rfc(Invalid, RelaySuccess)},
	{"MSN success", func(Compatibility) []byte {
		return msg(0x0103, false, true, attr(stunwire.AttrMappedAddress, plain(relayA)), attr(stunwire.AttrMSMappedAddress, plain(mappedA)))
	}, map[Compatibility]Return{DRAFT9: Error, RFC5766: Error, GOOGLE: RelaySuccess, MSN: MappedSuccess, OC2007: RelaySuccess}, rfc(Invalid, RelaySuccess)},
	{"OC2007 success", func(Compatibility) []byte {
		return msg(0x0103, false, true, attr(stunwire.AttrMSXORMappedAddress, xored(mappedA, 0x01020304)), attr(stunwire.AttrMappedAddress, plain(relayA)))
	}, map[Compatibility]Return{DRAFT9: Error, RFC5766: Error, GOOGLE: RelaySuccess, MSN: RelaySuccess, OC2007: MappedSuccess}, rfc(Invalid, RelaySuccess)},
	{"refresh success", func(Compatibility) []byte { return msg(0x0104, true, true, attr(stunwire.AttrLifetime, u32(300))) },
		all(Invalid), rfc(RelaySuccess, Invalid)},
	{"refresh error", func(Compatibility) []byte {
		return msg(0x0114, true, true, attr(stunwire.AttrErrorCode, errCode(437, "Allocation Mismatch")))
	}, all(Invalid), rfc(Error, Invalid)},
}

func TestProcess(t *testing.T) {
	for _, pc := range processCases {
		for c := DRAFT9; c <= RFC5766; c++ {
			raw := pc.raw(c)
			got := ProcessAllocate(raw, c)
			if got.Return != pc.want[c] {
				t.Errorf("%s, %v: ProcessAllocate = %v, want %v", pc.name, c, got.Return, pc.want[c])
			}
			if rr := ProcessRefresh(raw, c); rr.Return != pc.refresh[c] {
				t.Errorf("%s, %v: ProcessRefresh = %v, want %v", pc.name, c, rr.Return, pc.refresh[c])
			}
		}
	}
	// The values.
	r := ProcessAllocate(processCases[0].raw(RFC5766), RFC5766)
	if r.Relay != relayA || r.Mapped != mappedA || r.Lifetime != 600 || r.Bandwidth != 128 {
		t.Errorf("RFC5766 success %+v", r)
	}
	r = ProcessAllocate(processCases[1].raw(DRAFT9), DRAFT9)
	if r.Relay != relayA || r.Mapped.IsValid() {
		t.Errorf("relay only %+v", r)
	}
	r = ProcessAllocate(processCases[3].raw(RFC5766), RFC5766)
	if r.Code != 401 {
		t.Errorf("401: %+v", r)
	}
	r = ProcessAllocate(processCases[5].raw(RFC5766), RFC5766)
	if r.Alternate != altA {
		t.Errorf("alternate %+v", r)
	}
	r = ProcessAllocate(processCases[7].raw(OC2007), OC2007)
	if r.Alternate != altA || r.Return != Error {
		t.Errorf("OC2007 MS-ALTERNATE-SERVER %+v: libnice fills the address, returns ERROR", r)
	}
	r = ProcessAllocate(processCases[13].raw(MSN), MSN)
	if r.Relay != relayA || r.Mapped != mappedA {
		t.Errorf("MSN %+v", r)
	}
	r = ProcessAllocate(processCases[14].raw(OC2007), OC2007)
	if r.Relay != relayA || r.Mapped != mappedA {
		t.Errorf("OC2007 %+v", r)
	}
	r = ProcessRefresh(processCases[15].raw(RFC5766), RFC5766)
	if r.Lifetime != 300 {
		t.Errorf("refresh lifetime %+v", r)
	}
	if ProcessAllocate([]byte{1, 2, 3}, RFC5766).Return != Invalid {
		t.Error("garbage not invalid")
	}
}

func TestChannelData(t *testing.T) {
	for _, stream := range []bool{false, true} {
		for _, n := range []int{0, 1, 3, 4, 5, 1200} {
			data := bytes.Repeat([]byte{7}, n)
			b, err := AppendChannelData(nil, 0x4001, data, stream)
			if err != nil {
				t.Fatal(err)
			}
			wantLen := 4 + n
			if stream {
				wantLen = 4 + (n+3)&^3
			}
			if len(b) != wantLen {
				t.Fatalf("stream=%v n=%d: %d bytes", stream, n, len(b))
			}
			if stream {
				b = append(b, 0x40, 0x02) // the start of the next message
			}
			ch, d, used, err := ParseChannelData(b, stream)
			if err != nil || ch != 0x4001 || !bytes.Equal(d, data) || used != wantLen && stream {
				t.Fatalf("stream=%v n=%d: %x %d %d %v", stream, n, ch, len(d), used, err)
			}
		}
	}
	// Padding on a datagram is tolerated, up to 3 bytes.
	b, _ := AppendChannelData(nil, 0x4FFF, []byte{1, 2, 3, 4, 5}, false)
	if _, d, _, err := ParseChannelData(append(b, 0, 0, 0), false); err != nil || len(d) != 5 {
		t.Fatalf("padded datagram: %v", err)
	}
	for name, tc := range map[string]struct {
		b      []byte
		stream bool
		want   error
	}{
		"short datagram":  {[]byte{0x40, 0}, false, ErrChannelData},
		"short stream":    {[]byte{0x40, 0}, true, ErrIncomplete},
		"not a channel":   {[]byte{0x00, 1, 0, 0}, false, ErrChannel},
		"length overruns": {[]byte{0x40, 0, 0, 9, 1, 2}, false, ErrChannelData},
		"too much after":  {[]byte{0x40, 0, 0, 1, 1, 0, 0, 0, 0}, false, ErrChannelData},
		"stream partial":  {[]byte{0x40, 0, 0, 5, 1, 2, 3, 4, 5}, true, ErrIncomplete},
	} {
		if _, _, _, err := ParseChannelData(tc.b, tc.stream); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if _, err := AppendChannelData(nil, 0x3FFF, nil, false); !errors.Is(err, ErrChannel) {
		t.Error("channel 0x3FFF accepted")
	}
	if _, err := AppendChannelData(nil, 0x5000, nil, false); !errors.Is(err, ErrChannel) {
		t.Error("channel 0x5000 accepted for sending")
	}
	buf := make([]byte, 0, 2048)
	data := make([]byte, 1200)
	if a := testingAllocs(func() {
		b, _ := AppendChannelData(buf[:0], 0x4001, data, false)
		ParseChannelData(b, false)
	}); a != 0 {
		t.Errorf("ChannelData encode+parse allocates %v", a)
	}
}

func testingAllocs(f func()) float64 { return testing.AllocsPerRun(100, f) }
