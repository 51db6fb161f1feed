package turn

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/stunwire"
	"github.com/mediaport/mediaport/stun"
)

// Response crafting for the tests.
func attr(t uint16, v []byte) stunwire.Attr { return stunwire.Attr{Type: t, Value: v} }

// plain is a MAPPED-ADDRESS-style value.
func plain(a netip.AddrPort) []byte {
	v := []byte{0, 1, byte(a.Port() >> 8), byte(a.Port())}
	if a.Addr().Is6() {
		v[1] = 2
	}
	return append(v, a.Addr().AsSlice()...)
}

// xored is an XOR-MAPPED-ADDRESS-style value for a message whose ID is
// testID (with key in its first 4 bytes, as the message has it).
func xored(a netip.AddrPort, key uint32) []byte {
	v := plain(a)
	binary.BigEndian.PutUint16(v[2:], a.Port()^uint16(key>>16))
	var x [16]byte
	binary.BigEndian.PutUint32(x[:], key)
	copy(x[4:], testID[4:])
	for i := range v[4:] {
		v[4+i] ^= x[i]
	}
	return v
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func errCode(code int, reason string) []byte {
	return append([]byte{0, 0, byte(code / 100), byte(code % 100)}, reason...)
}

// testID is the ID of crafted messages: 01020304 then "ABCDEFGHIJKL", or
// with the magic cookie in the first 4 bytes.
var testID = [16]byte{1, 2, 3, 4, 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L'}

const testKey = 0x01020304 // OC2007's XOR key for testID

// msg builds a message of type typ, with the magic cookie (magic) or not;
// aligned selects padding.
func msg(typ uint16, magic, aligned bool, attrs ...stunwire.Attr) []byte {
	id := testID
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
	relayB  = netip.MustParseAddrPort("192.0.2.16:50002")
	mappedA = netip.MustParseAddrPort("198.51.100.2:40000")
	altA    = netip.MustParseAddrPort("203.0.113.9:3478")
	altB    = netip.MustParseAddrPort("203.0.113.10:3479")
	relay6  = netip.MustParseAddrPort("[2001:db8::15]:50000")
	mapped6 = netip.MustParseAddrPort("[2001:db8:1::2]:40000")
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

// The attribute types, short.
const (
	aSW, aRT, aBW, aLT, aEP = stunwire.AttrSoftware, stunwire.AttrRequestedTransport, stunwire.AttrBandwidth, stunwire.AttrLifetime, stunwire.AttrRequestedPortProps
	aRealm, aNonce, aToken  = stunwire.AttrRealm, stunwire.AttrNonce, stunwire.AttrReservationToken
	aUser, aMI, aMC, aMSV   = stunwire.AttrUsername, stunwire.AttrMessageIntegrity, stunwire.AttrMagicCookie, stunwire.AttrMSVersion
)

// challenge is a 401 with REALM, NONCE and an 8-byte RESERVATION-TOKEN in
// the dialect's framing and attribute types.
func challenge(c Compatibility, realm string) []byte {
	return msg(0x0113, !c.rfc3489(), c.aligned(), attr(stunwire.AttrErrorCode, errCode(401, "Unauthorized")),
		attr(c.realmAttr(), []byte(realm)), attr(c.nonceAttr(), []byte("abcnonce")), attr(aToken, []byte("TOKEN123")))
}

// TestAllocateAttributes: the attributes each dialect emits, their order
// and the values of the dialect-specific ones (docs/conformance.md, libnice 1–5),
// for the first Allocate, the Allocate after a 401, and the Refresh.
func TestAllocateAttributes(t *testing.T) {
	// OC2007's REALM is 0x0015 and NONCE 0x0014 ([MS-TURN]).
	msRealm, msNonce := OC2007.realmAttr(), OC2007.nonceAttr()
	for _, tc := range []struct {
		c          Compatibility
		first      []uint16 // EVEN_AND_RESERVE, bandwidth 50, lifetime 600, no previous response
		challenged []uint16 // the same after a 401
		refresh    []uint16 // Refresh, lifetime 0, after a 401
	}{
		{DRAFT9, []uint16{aSW, aRT, aBW, aLT, aEP}, []uint16{aSW, aRT, aBW, aLT, aEP, aRealm, aNonce, aToken, aUser, aMI}, []uint16{aSW, aLT, aRealm, aNonce, aUser, aMI}},
		{RFC5766, []uint16{aSW, aRT, aBW, aLT, aEP}, []uint16{aSW, aRT, aBW, aLT, aEP, aRealm, aNonce, aToken, aUser, aMI}, []uint16{aSW, aLT, aRealm, aNonce, aUser, aMI}},
		{GOOGLE, []uint16{aMC, aLT, aUser, aMI}, []uint16{aMC, aLT, aRealm, aNonce, aToken, aUser, aMI}, []uint16{aMC, aLT, aRealm, aNonce, aToken, aUser, aMI}},
		{MSN, []uint16{aMC, aLT, aUser, aMI}, []uint16{aMC, aLT, aRealm, aNonce, aToken, aUser, aMI}, []uint16{aMC, aLT, aRealm, aNonce, aToken, aUser, aMI}},
		{OC2007, []uint16{aMC, aMSV, aLT}, []uint16{aMC, aMSV, aLT, msRealm, msNonce, aToken, aUser, aMI}, []uint16{aMC, aMSV, aLT, msRealm, msNonce, aToken, aUser, aMI}},
	} {
		r := Request{Ports: PortEvenAndReserve, Bandwidth: 50, Lifetime: 600, Username: []byte("alice"), Password: []byte("secret")}
		first, err := NewAllocate(nil, r, tc.c)
		if err != nil {
			t.Fatal(err)
		}
		m := parse(t, first, tc.c)
		if got := types(m); !slices.Equal(got, tc.first) {
			t.Errorf("%v first Allocate: %04x, want %04x", tc.c, got, tc.first)
		}
		if m.Type != methodAllocate || m.HasMagic() != !tc.c.rfc3489() {
			t.Errorf("%v: type %04x magic %v", tc.c, m.Type, m.HasMagic())
		}
		r.Previous = challenge(tc.c, "example.org")
		again, err := NewAllocate(nil, r, tc.c)
		if err != nil {
			t.Fatal(err)
		}
		m = parse(t, again, tc.c)
		if got := types(m); !slices.Equal(got, tc.challenged) {
			t.Errorf("%v Allocate after 401: %04x, want %04x", tc.c, got, tc.challenged)
		}
		rr := r
		rr.Delete = true
		rf, err := NewRefresh(nil, rr, tc.c)
		if err != nil {
			t.Fatal(err)
		}
		rm := parse(t, rf, tc.c)
		if got := types(rm); !slices.Equal(got, tc.refresh) {
			t.Errorf("%v Refresh: %04x, want %04x", tc.c, got, tc.refresh)
		}
		wantMethod := uint16(methodAllocate)
		if tc.c.turnMethods() {
			wantMethod = methodRefresh
		}
		if rm.Type != wantMethod {
			t.Errorf("%v Refresh type %04x, want %04x", tc.c, rm.Type, wantMethod)
		}
		if v, _ := rm.Get(aLT); !bytes.Equal(v, u32(0)) {
			t.Errorf("%v Refresh LIFETIME % x", tc.c, v)
		}

		// The values, in the Allocate after the 401.
		pad := func(s string) string { return s }
		if tc.c.shortTerm() {
			// GOOGLE and MSN pad values with spaces, inside the length.
			pad = func(s string) string { return s + strings.Repeat(" ", -len(s)&3) }
		}
		want := map[uint16][]byte{
			aLT:              u32(600),
			tc.c.realmAttr(): []byte(pad("example.org")),
			tc.c.nonceAttr(): []byte(pad("abcnonce")),
			aToken:           []byte("TOKEN123"),
			aUser:            []byte(pad("alice")),
			aSW:              []byte("mediaport"),
			aRT:              u32(transportUDP),
			aBW:              u32(50),
			aMC:              u32(msMagicCookie),
			aMSV:             u32(1),
		}
		switch tc.c {
		case DRAFT9:
			want[aEP] = u32(0xC0000000) // the draft's E and R bits
		case RFC5766:
			want[aEP] = []byte{0x80} // RFC 5766's one byte with R
		}
		for _, a := range m.Attrs {
			if a.Type == aMI {
				continue
			}
			if w, ok := want[a.Type]; !ok || !bytes.Equal(a.Value, w) {
				t.Errorf("%v attribute %04x = %q, want %q", tc.c, a.Type, a.Value, w)
			}
		}
		key := []byte("secret")
		if !tc.c.shortTerm() {
			k := longTermKey([]byte("alice"), []byte("example.org"), []byte("secret"))
			key = k[:]
		}
		for _, mm := range []*stunwire.Message{m, rm} {
			if !stunwire.CheckIntegrity(mm, key, tc.c.rfc3489()) {
				t.Errorf("%v: MESSAGE-INTEGRITY does not verify with the dialect's key", tc.c)
			}
		}
	}
}

// TestPortRequest: PortEven and PortEvenAndReserve in each dialect; only
// DRAFT9 and RFC5766 send a port request, and Refresh never does.
func TestPortRequest(t *testing.T) {
	for _, tc := range []struct {
		c     Compatibility
		ports RequestPorts
		want  []byte
	}{
		{DRAFT9, PortEven, u32(0x80000000)},
		{DRAFT9, PortEvenAndReserve, u32(0xC0000000)},
		{RFC5766, PortEven, []byte{0}},
		{RFC5766, PortEvenAndReserve, []byte{0x80}},
		{DRAFT9, PortNormal, nil},
		{RFC5766, PortNormal, nil},
		{GOOGLE, PortEvenAndReserve, nil},
		{MSN, PortEven, nil},
		{OC2007, PortEvenAndReserve, nil},
	} {
		r := Request{Ports: tc.ports, Bandwidth: -1, Lifetime: -1}
		b, err := NewAllocate(nil, r, tc.c)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := parse(t, b, tc.c).Get(aEP)
		if ok != (tc.want != nil) || !bytes.Equal(v, tc.want) {
			t.Errorf("%v %v: port request % x (present %v), want % x", tc.c, tc.ports, v, ok, tc.want)
		}
		b, _ = NewRefresh(nil, r, tc.c)
		if _, ok := parse(t, b, tc.c).Get(aEP); ok {
			t.Errorf("%v %v: a Refresh with a port request", tc.c, tc.ports)
		}
	}
	// Nothing optional asked: RFC5766 sends SOFTWARE and
	// REQUESTED-TRANSPORT only.
	b, _ := NewAllocate(nil, Request{Bandwidth: -1, Lifetime: -1}, RFC5766)
	if got := types(parse(t, b, RFC5766)); !slices.Equal(got, []uint16{aSW, aRT}) {
		t.Errorf("minimal RFC5766 Allocate: %04x", got)
	}
}

// TestCredentials: when USERNAME and MESSAGE-INTEGRITY are sent
// (docs/conformance.md, libnice 3 and 5), what the previous response gives, and
// the key.
func TestCredentials(t *testing.T) {
	nonceOnly := func(c Compatibility) []byte { // a 438 without REALM
		return msg(0x0113, !c.rfc3489(), c.aligned(), attr(stunwire.AttrErrorCode, errCode(438, "Stale Nonce")),
			attr(c.nonceAttr(), []byte("n2")))
	}
	oddToken := func(c Compatibility) []byte { // a RESERVATION-TOKEN of 4 bytes
		return msg(0x0103, !c.rfc3489(), c.aligned(), attr(aToken, []byte("TOKN")))
	}
	for c := RFC5766; c <= OC2007; c++ {
		for _, tc := range []struct {
			name       string
			user       string
			previous   []byte
			user1, mi1 bool // USERNAME, MESSAGE-INTEGRITY sent
		}{
			{"no previous", "alice", nil, c.shortTerm(), c.shortTerm()},
			{"401", "alice", challenge(c, "example.org"), true, true},
			{"438 without REALM", "alice", nonceOnly(c), true, c.shortTerm()},
			{"no username, 401", "", challenge(c, "example.org"), false, c.shortTerm()},
			{"no username, no previous", "", nil, false, c.shortTerm()},
		} {
			r := Request{Lifetime: -1, Bandwidth: -1, Username: []byte(tc.user), Password: []byte("secret"), Previous: tc.previous}
			for _, build := range []func([]byte, Request, Compatibility) ([]byte, error){NewAllocate, NewRefresh} {
				b, err := build(nil, r, c)
				if err != nil {
					t.Fatal(err)
				}
				m := parse(t, b, c)
				_, u := m.Get(aUser)
				_, mi := m.Get(aMI)
				if u != tc.user1 || mi != tc.mi1 {
					t.Errorf("%v %s: USERNAME %v MESSAGE-INTEGRITY %v, want %v %v", c, tc.name, u, mi, tc.user1, tc.mi1)
				}
			}
		}
		// Only an 8-byte RESERVATION-TOKEN is carried over, and only into
		// an Allocate.
		r := Request{Lifetime: -1, Bandwidth: -1, Previous: oddToken(c)}
		b, _ := NewAllocate(nil, r, c)
		if _, ok := parse(t, b, c).Get(aToken); ok {
			t.Errorf("%v: a 4-byte RESERVATION-TOKEN was copied", c)
		}
		r.Previous = challenge(c, "example.org")
		b, _ = NewRefresh(nil, r, c)
		if _, ok := parse(t, b, c).Get(aToken); ok == c.turnMethods() {
			t.Errorf("%v: RESERVATION-TOKEN in the Refresh: %v", c, ok)
		}
	}
	// A quoted realm ([MS-TURN]) is copied as it is, and keys without its
	// quotes and trailing NULs.
	for _, c := range []Compatibility{OC2007, RFC5766} {
		r := Request{Lifetime: -1, Bandwidth: -1, Username: []byte("alice"), Password: []byte("secret"), Previous: challenge(c, "\"example.org\"\x00")}
		b, _ := NewAllocate(nil, r, c)
		m := parse(t, b, c)
		if v, _ := m.Get(c.realmAttr()); string(v) != "\"example.org\"\x00" {
			t.Errorf("%v: REALM %q", c, v)
		}
		k := longTermKey([]byte("alice"), []byte("example.org"), []byte("secret"))
		if !stunwire.CheckIntegrity(m, k[:], c.rfc3489()) {
			t.Errorf("%v: quoted realm: the key is not MD5(alice:example.org:secret)", c)
		}
	}
	// The long-term key is MD5("alice:example.org:secret"), a known answer.
	k := longTermKey([]byte("alice"), []byte("example.org"), []byte("secret"))
	if hex.EncodeToString(k[:]) != "543e1aec5d3614f03141652d6ada51b2" {
		t.Errorf("longTermKey %x", k)
	}
}

// TestBuildErrors: misuse returns the sentinel (matching
// mediaport.ErrInvalidArgument) and leaves buf as it was.
func TestBuildErrors(t *testing.T) {
	buf := []byte("keep")
	for _, tc := range []struct {
		name string
		r    Request
		c    Compatibility
		want error
	}{
		{"unknown compatibility", Request{}, 5, ErrCompatibility},
		{"negative compatibility", Request{}, -1, ErrCompatibility},
		{"unknown ports", Request{Ports: 3}, RFC5766, ErrRequestPorts},
		{"previous not STUN", Request{Previous: []byte{1, 2, 3}}, RFC5766, ErrPrevious},
		{"previous unaligned for GOOGLE", Request{Previous: msg(0x0113, false, false, attr(aRealm, []byte("x")), attr(aNonce, []byte("y")))}, GOOGLE, ErrPrevious},
		{"username too long", Request{Username: make([]byte, 70000)}, GOOGLE, ErrTooLarge},
		{"request too long", Request{Username: make([]byte, 65500), Previous: challenge(RFC5766, "example.org")}, RFC5766, ErrTooLarge},
	} {
		for _, build := range []func([]byte, Request, Compatibility) ([]byte, error){NewAllocate, NewRefresh} {
			out, err := build(buf, tc.r, tc.c)
			if !errors.Is(err, tc.want) || !errors.Is(err, mediaport.ErrInvalidArgument) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
			if string(out) != "keep" {
				t.Errorf("%s: buf became %q", tc.name, out)
			}
		}
	}
}

// TestAppend: the request is appended after what buf holds, in place when
// buf has room; the given transaction ID is used.
func TestAppend(t *testing.T) {
	id := [16]byte{9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	for c := RFC5766; c <= OC2007; c++ {
		buf := make([]byte, 3, 512)
		copy(buf, "pre")
		r := Request{Lifetime: 600, Bandwidth: -1, Username: []byte("alice"), Password: []byte("secret"), Previous: challenge(c, "example.org"), TransactionID: &id}
		out, err := NewAllocate(buf, r, c)
		if err != nil {
			t.Fatal(err)
		}
		if string(out[:3]) != "pre" || &out[0] != &buf[0] {
			t.Fatalf("%v: prefix %q, in place %v", c, out[:3], &out[0] == &buf[0])
		}
		m := parse(t, out[3:], c)
		want := id
		if !c.rfc3489() {
			binary.BigEndian.PutUint32(want[:4], stunwire.MagicCookie)
		}
		if m.ID != want {
			t.Errorf("%v: ID %x, want %x", c, m.ID, want)
		}
		key := []byte("secret")
		if !c.shortTerm() {
			k := longTermKey([]byte("alice"), []byte("example.org"), []byte("secret"))
			key = k[:]
		}
		if !stunwire.CheckIntegrity(m, key, c.rfc3489()) {
			t.Errorf("%v: MESSAGE-INTEGRITY after a prefix does not verify", c)
		}
		// Too small a buffer: a new one, same content.
		small := []byte("pre")
		out2, _ := NewAllocate(small[:3:3], r, c)
		if !bytes.Equal(out2, out) {
			t.Errorf("%v: reallocated result differs", c)
		}
	}
	// Random IDs differ.
	a, _ := NewAllocate(nil, Request{}, RFC5766)
	b, _ := NewAllocate(nil, Request{}, RFC5766)
	if bytes.Equal(a[8:20], b[8:20]) {
		t.Error("two random transaction IDs are equal")
	}
}

// processCase is a crafted response and what each dialect makes of it
// (docs/conformance.md, libnice 6–8; TestProcessAgainstLibnice checks the same
// against libnice 0.1.21). The response is framed for the dialect it is
// processed in (c.aligned()).
type processCase struct {
	name    string
	raw     func(c Compatibility) []byte
	want    map[Compatibility]Return
	refresh map[Compatibility]Return
	check   func(t *testing.T, c Compatibility, r Response) // optional
}

func all(r Return) map[Compatibility]Return {
	return map[Compatibility]Return{DRAFT9: r, GOOGLE: r, MSN: r, OC2007: r, RFC5766: r}
}

func rfc(r, other Return) map[Compatibility]Return {
	return map[Compatibility]Return{DRAFT9: r, RFC5766: r, GOOGLE: other, MSN: other, OC2007: other}
}

// oc2007Success: MAPPED-ADDRESS and 0x8020 are OC2007's relayed and mapped
// addresses; GOOGLE and MSN see the relay only; the RFC 5389 dialects
// miss XOR-RELAYED-ADDRESS.
var oc2007Success = map[Compatibility]Return{DRAFT9: Error, RFC5766: Error, GOOGLE: RelaySuccess, MSN: RelaySuccess, OC2007: MappedSuccess}

func expect(want Response) func(t *testing.T, c Compatibility, r Response) {
	return func(t *testing.T, c Compatibility, r Response) {
		t.Helper()
		if r != want {
			t.Errorf("%v: %+v, want %+v", c, r, want)
		}
	}
}

// success is an Allocate success in the RFC 5389 dialects' terms.
func success(c Compatibility, attrs ...stunwire.Attr) []byte {
	return msg(0x0103, true, c.aligned(), attrs...)
}

func errorResponse(c Compatibility, typ uint16, code int, attrs ...stunwire.Attr) []byte {
	return msg(typ, true, c.aligned(), append([]stunwire.Attr{attr(stunwire.AttrErrorCode, errCode(code, "Reason"))}, attrs...)...)
}

var (
	xRelay  = attr(stunwire.AttrXORRelayedAddress, xored(relayA, stunwire.MagicCookie))
	xMapped = attr(stunwire.AttrXORMappedAddress, xored(mappedA, stunwire.MagicCookie))
	lt600   = attr(stunwire.AttrLifetime, u32(600))
)

var processCases = []processCase{
	{"relay+mapped", func(c Compatibility) []byte {
		return success(c, xRelay, xMapped, lt600, attr(stunwire.AttrBandwidth, u32(128)))
	}, rfc(MappedSuccess, Error), rfc(Invalid, RelaySuccess), func(t *testing.T, c Compatibility, r Response) {
		if c.turnMethods() {
			expect(Response{Return: MappedSuccess, Relay: relayA, Mapped: mappedA, Lifetime: 600, Bandwidth: 128})(t, c, r)
		} else {
			expect(Response{Return: Error})(t, c, r)
		}
	}},
	{"relay only", func(c Compatibility) []byte { return success(c, xRelay) },
		rfc(RelaySuccess, Error), rfc(Invalid, RelaySuccess), func(t *testing.T, c Compatibility, r Response) {
			if c.turnMethods() {
				expect(Response{Return: RelaySuccess, Relay: relayA})(t, c, r)
			}
		}},
	{"no relay", func(c Compatibility) []byte { return success(c, xMapped, lt600) },
		all(Error), rfc(Invalid, RelaySuccess), expect(Response{Return: Error})},
	{"IPv6 relay+mapped", func(c Compatibility) []byte {
		return success(c, attr(stunwire.AttrXORRelayedAddress, xored(relay6, stunwire.MagicCookie)),
			attr(stunwire.AttrXORMappedAddress, xored(mapped6, stunwire.MagicCookie)))
	}, rfc(MappedSuccess, Error), rfc(Invalid, RelaySuccess), func(t *testing.T, c Compatibility, r Response) {
		if c.turnMethods() {
			expect(Response{Return: MappedSuccess, Relay: relay6, Mapped: mapped6})(t, c, r)
		}
	}},
	{"relay of 12 bytes", func(c Compatibility) []byte {
		return success(c, attr(stunwire.AttrXORRelayedAddress, append(xored(relayA, stunwire.MagicCookie), 0, 0, 0, 0)), xMapped)
	}, all(Error), rfc(Invalid, RelaySuccess), nil},
	{"relay of family 3", func(c Compatibility) []byte {
		v := xored(relayA, stunwire.MagicCookie)
		v[1] = 3
		return success(c, attr(stunwire.AttrXORRelayedAddress, v))
	}, all(Error), rfc(Invalid, RelaySuccess), nil},
	{"IPv6 family with 8 bytes", func(c Compatibility) []byte {
		v := xored(relayA, stunwire.MagicCookie)
		v[1] = 2
		return success(c, attr(stunwire.AttrXORRelayedAddress, v))
	}, all(Error), rfc(Invalid, RelaySuccess), nil},
	{"first relay counts", func(c Compatibility) []byte {
		return success(c, xRelay, attr(stunwire.AttrXORRelayedAddress, xored(relayB, stunwire.MagicCookie)))
	}, rfc(RelaySuccess, Error), rfc(Invalid, RelaySuccess), func(t *testing.T, c Compatibility, r Response) {
		if c.turnMethods() && r.Relay != relayA {
			t.Errorf("%v: relay %v, want the first", c, r.Relay)
		}
	}},
	{"malformed first relay", func(c Compatibility) []byte {
		return success(c, attr(stunwire.AttrXORRelayedAddress, append(xored(relayA, stunwire.MagicCookie), 0, 0, 0, 0)),
			attr(stunwire.AttrXORRelayedAddress, xored(relayB, stunwire.MagicCookie)))
	}, all(Error), rfc(Invalid, RelaySuccess), nil},
	{"LIFETIME of 8 bytes", func(c Compatibility) []byte {
		return success(c, xRelay, attr(stunwire.AttrLifetime, []byte{0, 0, 0, 1, 0, 0, 0, 2}), attr(stunwire.AttrBandwidth, []byte{0, 0, 1}))
	}, rfc(RelaySuccess, Error), rfc(Invalid, RelaySuccess), func(t *testing.T, c Compatibility, r Response) {
		if r.Lifetime != 0 || r.Bandwidth != 0 {
			t.Errorf("%v: lifetime %d bandwidth %d from attributes of the wrong size", c, r.Lifetime, r.Bandwidth)
		}
	}},
	{"after MESSAGE-INTEGRITY", func(c Compatibility) []byte {
		return success(c, xRelay, attr(stunwire.AttrMessageIntegrity, make([]byte, 20)), xMapped, lt600)
	}, rfc(RelaySuccess, Error), rfc(Invalid, RelaySuccess), func(t *testing.T, c Compatibility, r Response) {
		if c.turnMethods() {
			expect(Response{Return: RelaySuccess, Relay: relayA})(t, c, r)
		}
	}},
	{"after FINGERPRINT", func(c Compatibility) []byte {
		return success(c, attr(stunwire.AttrFingerprint, make([]byte, 4)), xRelay)
	}, all(Error), rfc(Invalid, RelaySuccess), nil},
	{"401", func(c Compatibility) []byte {
		return errorResponse(c, 0x0113, 401, attr(stunwire.AttrRealm, []byte("example.org")), attr(stunwire.AttrNonce, []byte("nonce")))
	}, all(Error), rfc(Invalid, Error), expect(Response{Return: Error, Code: 401, Reason: "Reason"})},
	{"438", func(c Compatibility) []byte { return errorResponse(c, 0x0113, 438) },
		all(Error), rfc(Invalid, Error), expect(Response{Return: Error, Code: 438, Reason: "Reason"})},
	{"300 with ALTERNATE-SERVER", func(c Compatibility) []byte {
		return errorResponse(c, 0x0113, 300, attr(stunwire.AttrAlternateServer, plain(altA)))
	}, all(AlternateServer), rfc(Invalid, Error), expect(Response{Return: AlternateServer, Alternate: altA, Code: 300, Reason: "Reason"})},
	{"301 with IPv6 ALTERNATE-SERVER", func(c Compatibility) []byte {
		return errorResponse(c, 0x0113, 301, attr(stunwire.AttrAlternateServer, plain(relay6)))
	}, all(AlternateServer), rfc(Invalid, Error), expect(Response{Return: AlternateServer, Alternate: relay6, Code: 301, Reason: "Reason"})},
	{"300 without", func(c Compatibility) []byte { return errorResponse(c, 0x0113, 300) },
		all(Error), rfc(Invalid, Error), expect(Response{Return: Error, Code: 300, Reason: "Reason"})},
	{"300 with malformed ALTERNATE-SERVER", func(c Compatibility) []byte {
		return errorResponse(c, 0x0113, 300, attr(stunwire.AttrAlternateServer, append(plain(altA), 0, 0, 0, 0)))
	}, all(Error), rfc(Invalid, Error), expect(Response{Return: Error, Code: 300, Reason: "Reason"})},
	{"400 with ALTERNATE-SERVER", func(c Compatibility) []byte {
		return errorResponse(c, 0x0113, 400, attr(stunwire.AttrAlternateServer, plain(altA)))
	}, all(Error), rfc(Invalid, Error), expect(Response{Return: Error, Code: 400, Reason: "Reason"})},
	{"300 with MS-ALTERNATE-SERVER", func(c Compatibility) []byte {
		return errorResponse(c, 0x0113, 300, attr(stunwire.AttrMSAlternateServer, plain(altA)))
	}, all(Error), rfc(Invalid, Error), func(t *testing.T, c Compatibility, r Response) {
		want := Response{Return: Error, Code: 300, Reason: "Reason"}
		if c == OC2007 {
			want.Alternate = altA // libnice fills it, and returns ERROR
		}
		expect(want)(t, c, r)
	}},
	{"300 with both", func(c Compatibility) []byte {
		return errorResponse(c, 0x0113, 300, attr(stunwire.AttrMSAlternateServer, plain(altA)), attr(stunwire.AttrAlternateServer, plain(altB)))
	}, all(AlternateServer), rfc(Invalid, Error), expect(Response{Return: AlternateServer, Alternate: altB, Code: 300, Reason: "Reason"})},
	{"401 with MS-ALTERNATE-SERVER", func(c Compatibility) []byte {
		return errorResponse(c, 0x0113, 401, attr(stunwire.AttrMSAlternateServer, plain(altA)))
	}, all(Error), rfc(Invalid, Error), func(t *testing.T, c Compatibility, r Response) {
		if (c == OC2007) != (r.Alternate == altA) {
			t.Errorf("%v: alternate %v", c, r.Alternate)
		}
	}},
	{"ERROR-CODE class 2", func(c Compatibility) []byte { return errorResponse(c, 0x0113, 299) }, all(Invalid), all(Invalid), nil},
	{"ERROR-CODE class 7", func(c Compatibility) []byte {
		return msg(0x0113, true, c.aligned(), attr(stunwire.AttrErrorCode, []byte{0, 0, 7, 0}))
	}, all(Invalid), all(Invalid), nil},
	{"ERROR-CODE number 100", func(c Compatibility) []byte {
		return msg(0x0113, true, c.aligned(), attr(stunwire.AttrErrorCode, []byte{0, 0, 4, 100}))
	}, all(Invalid), all(Invalid), nil},
	{"ERROR-CODE of 3 bytes", func(c Compatibility) []byte {
		return msg(0x0113, true, c.aligned(), attr(stunwire.AttrErrorCode, []byte{0, 0, 4}))
	}, all(Invalid), all(Invalid), nil},
	{"ERROR-CODE high bits", func(c Compatibility) []byte {
		return msg(0x0113, true, c.aligned(), attr(stunwire.AttrErrorCode, []byte{0xff, 0xff, 0xfe, 1}))
	}, all(Error), rfc(Invalid, Error), expect(Response{Return: Error, Code: 601})},
	{"error without ERROR-CODE", func(c Compatibility) []byte { return msg(0x0113, true, c.aligned()) }, all(Invalid), all(Invalid), nil},
	{"wrong method", func(c Compatibility) []byte { return msg(0x0101, true, c.aligned(), xRelay) }, all(Invalid), all(Invalid), nil},
	{"request", func(c Compatibility) []byte { return msg(0x0003, true, c.aligned(), xRelay) }, all(Invalid), all(Invalid), nil},
	{"indication", func(c Compatibility) []byte { return msg(0x0013, true, c.aligned()) }, all(Invalid), all(Invalid), nil},
	{"GOOGLE success", func(c Compatibility) []byte {
		return msg(0x0103, false, c.aligned(), attr(stunwire.AttrMappedAddress, plain(relayA)), lt600)
	}, rfc(Error, RelaySuccess), rfc(Invalid, RelaySuccess), func(t *testing.T, c Compatibility, r Response) {
		if !c.turnMethods() {
			expect(Response{Return: RelaySuccess, Relay: relayA, Lifetime: 600})(t, c, r)
		}
	}},
	{"MSN success", func(c Compatibility) []byte {
		return msg(0x0103, false, c.aligned(), attr(stunwire.AttrMappedAddress, plain(relayA)), attr(stunwire.AttrMSMappedAddress, plain(mappedA)))
	}, map[Compatibility]Return{DRAFT9: Error, RFC5766: Error, GOOGLE: RelaySuccess, MSN: MappedSuccess, OC2007: RelaySuccess}, rfc(Invalid, RelaySuccess),
		func(t *testing.T, c Compatibility, r Response) {
			if c == MSN {
				expect(Response{Return: MappedSuccess, Relay: relayA, Mapped: mappedA})(t, c, r)
			}
		}},
	{"MSN IPv6 success", func(c Compatibility) []byte {
		return msg(0x0103, false, c.aligned(), attr(stunwire.AttrMSMappedAddress, plain(mapped6)), attr(stunwire.AttrMappedAddress, plain(relay6)))
	}, map[Compatibility]Return{DRAFT9: Error, RFC5766: Error, GOOGLE: RelaySuccess, MSN: MappedSuccess, OC2007: RelaySuccess}, rfc(Invalid, RelaySuccess),
		func(t *testing.T, c Compatibility, r Response) {
			if c == MSN {
				expect(Response{Return: MappedSuccess, Relay: relay6, Mapped: mapped6})(t, c, r)
			}
		}},
	{"OC2007 success", func(c Compatibility) []byte {
		return msg(0x0103, false, c.aligned(), attr(stunwire.AttrMSXORMappedAddress, xored(mappedA, testKey)), attr(stunwire.AttrMappedAddress, plain(relayA)),
			attr(stunwire.AttrBandwidth, u32(64)))
	}, oc2007Success, rfc(Invalid, RelaySuccess), func(t *testing.T, c Compatibility, r Response) {
		if c == OC2007 {
			expect(Response{Return: MappedSuccess, Relay: relayA, Mapped: mappedA, Bandwidth: 64})(t, c, r)
		}
	}},
	{"OC2007 IPv6 success", func(c Compatibility) []byte {
		return msg(0x0103, false, c.aligned(), attr(stunwire.AttrMSXORMappedAddress, xored(mapped6, testKey)), attr(stunwire.AttrMappedAddress, plain(relayA)))
	}, oc2007Success, rfc(Invalid, RelaySuccess), func(t *testing.T, c Compatibility, r Response) {
		if c == OC2007 {
			expect(Response{Return: MappedSuccess, Relay: relayA, Mapped: mapped6})(t, c, r)
		}
	}},
	{"refresh success", func(c Compatibility) []byte {
		return msg(0x0104, true, c.aligned(), attr(stunwire.AttrLifetime, u32(300)))
	},
		all(Invalid), rfc(RelaySuccess, Invalid), func(t *testing.T, c Compatibility, r Response) {
			if r.Return == RelaySuccess {
				expect(Response{Return: RelaySuccess, Lifetime: 300})(t, c, r)
			}
		}},
	{"refresh error", func(c Compatibility) []byte { return errorResponse(c, 0x0114, 437) },
		all(Invalid), rfc(Error, Invalid), nil},
	{"refresh error without ERROR-CODE", func(c Compatibility) []byte { return msg(0x0114, true, c.aligned()) },
		all(Invalid), all(Invalid), nil},
	{"refresh request", func(c Compatibility) []byte { return msg(0x0004, true, c.aligned(), lt600) },
		all(Invalid), all(Invalid), nil},
}

// TestProcess runs every crafted response through ProcessAllocate and
// ProcessRefresh in every dialect.
func TestProcess(t *testing.T) {
	for _, pc := range processCases {
		for c := RFC5766; c <= OC2007; c++ {
			raw := pc.raw(c)
			got := ProcessAllocate(raw, c)
			if got.Return != pc.want[c] {
				t.Errorf("%s, %v: ProcessAllocate = %v, want %v", pc.name, c, got.Return, pc.want[c])
			}
			if pc.check != nil {
				t.Run(pc.name, func(t *testing.T) { pc.check(t, c, got) })
			}
			rr := ProcessRefresh(raw, c)
			if rr.Return != pc.refresh[c] {
				t.Errorf("%s, %v: ProcessRefresh = %v, want %v", pc.name, c, rr.Return, pc.refresh[c])
			}
			if rr.Relay.IsValid() || rr.Mapped.IsValid() || rr.Alternate.IsValid() || rr.Bandwidth != 0 {
				t.Errorf("%s, %v: ProcessRefresh gave addresses: %+v", pc.name, c, rr)
			}
		}
	}
	for _, b := range [][]byte{nil, {1, 2, 3}, make([]byte, 20), msg(0x0103, true, true)[:19]} {
		for c := DRAFT9; c <= RFC5766+1; c++ {
			if ProcessAllocate(b, c).Return != Invalid || ProcessRefresh(b, c).Return != Invalid {
				t.Errorf("%v: % x is not Invalid", c, b)
			}
		}
	}
	// An unknown dialect processes nothing.
	if r := ProcessAllocate(processCases[0].raw(RFC5766), 7); r.Return != Invalid {
		t.Errorf("unknown dialect: %v", r.Return)
	}
}

// TestResponseErr: the error of each Return, for errors.Is and errors.As.
func TestResponseErr(t *testing.T) {
	r := ProcessAllocate(processCases[0].raw(RFC5766), RFC5766)
	if r.Err() != nil {
		t.Errorf("success: %v", r.Err())
	}
	var se *stun.StatusError
	r = ProcessAllocate(errorResponse(RFC5766, 0x0113, 438), RFC5766)
	if !errors.As(r.Err(), &se) || se.Code != 438 || se.Reason != "Reason" {
		t.Errorf("438: %v", r.Err())
	}
	r = ProcessAllocate(errorResponse(RFC5766, 0x0113, 300, attr(stunwire.AttrAlternateServer, plain(altA))), RFC5766)
	if !errors.As(r.Err(), &se) || se.Code != 300 {
		t.Errorf("300: %v", r.Err())
	}
	if err := ProcessAllocate(success(RFC5766, xMapped), RFC5766).Err(); !errors.Is(err, ErrNoRelay) {
		t.Errorf("no relay: %v", err)
	}
	if err := ProcessAllocate([]byte{1}, RFC5766).Err(); !errors.Is(err, ErrInvalidResponse) {
		t.Errorf("invalid: %v", err)
	}
	for _, s := range []interface{ String() string }{RelaySuccess, AlternateServer, Return(9), RFC5766, OC2007, Compatibility(-1), PortEvenAndReserve, RequestPorts(7)} {
		if s.String() == "" {
			t.Errorf("%#v: empty String", s)
		}
	}
	if RFC5766.String() != "RFC5766" || AlternateServer.String() != "AlternateServer" || Return(9).String() != "Return(9)" {
		t.Error("String")
	}
}

// TestProcessNoAllocs: processing a success response does not allocate.
func TestProcessNoAllocs(t *testing.T) {
	raw := processCases[0].raw(RFC5766)
	if a := testing.AllocsPerRun(100, func() { ProcessAllocate(raw, RFC5766) }); a != 0 {
		t.Errorf("ProcessAllocate allocates %v times", a)
	}
	raw = processCases[len(processCases)-4].raw(RFC5766)
	if a := testing.AllocsPerRun(100, func() { ProcessRefresh(raw, RFC5766) }); a != 0 {
		t.Errorf("ProcessRefresh allocates %v times", a)
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
			if len(b) != wantLen || binary.BigEndian.Uint16(b[2:]) != uint16(n) {
				t.Fatalf("stream=%v n=%d: %d bytes, length field %d", stream, n, len(b), binary.BigEndian.Uint16(b[2:]))
			}
			if stream {
				b = append(b, 0x40, 0x02) // the start of the next message
			}
			ch, d, used, err := ParseChannelData(b, stream)
			if err != nil || ch != 0x4001 || !bytes.Equal(d, data) || used != wantLen {
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
		"0x8000":          {[]byte{0x80, 0, 0, 0}, false, ErrChannel},
		"length overruns": {[]byte{0x40, 0, 0, 9, 1, 2}, false, ErrChannelData},
		"too much after":  {[]byte{0x40, 0, 0, 1, 1, 0, 0, 0, 0}, false, ErrChannelData},
		"stream partial":  {[]byte{0x40, 0, 0, 5, 1, 2, 3, 4, 5}, true, ErrIncomplete},
	} {
		if _, _, _, err := ParseChannelData(tc.b, tc.stream); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	for _, ch := range []uint16{0x3FFF, 0x5000, 0x7FFF, 0xFFFF} {
		if _, err := AppendChannelData(nil, ch, nil, false); !errors.Is(err, ErrChannel) {
			t.Errorf("channel %#x accepted for sending", ch)
		}
	}
	if _, err := AppendChannelData(nil, 0x4000, make([]byte, 0x10000), false); !errors.Is(err, ErrTooLong) {
		t.Errorf("65536 bytes: %v", err)
	}
	buf := make([]byte, 0, 2048)
	data := make([]byte, 1200)
	if a := testing.AllocsPerRun(100, func() {
		b, _ := AppendChannelData(buf[:0], 0x4001, data, false)
		ParseChannelData(b, false)
	}); a != 0 {
		t.Errorf("ChannelData encode+parse allocates %v", a)
	}
}
