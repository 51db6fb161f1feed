package turn

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mediaport/mediaport/internal/stunwire"
	"github.com/mediaport/mediaport/internal/testutil"
)

// Differential tests against libnice 0.1.21 itself (Debian's libnice-dev):
// testdata/nice_harness.c, built here with gcc, prints what libnice's
// stun_usage_turn_* build and return for the same inputs.

// niceHarness builds the harness into a temporary directory of t; it skips
// the test when gcc, pkg-config or libnice-dev is missing (and fails under
// MEDIAPORT_REQUIRE_PEERS=1).
func niceHarness(t *testing.T) string {
	t.Helper()
	gcc := testutil.Peer(t, "gcc")
	pkg := testutil.Peer(t, "pkg-config")
	flags, err := exec.Command(pkg, "--cflags", "--libs", "nice").Output()
	if err != nil {
		if testutil.RequirePeers() {
			t.Fatalf("pkg-config nice: %v (libnice-dev not installed?)", err)
		}
		t.Skipf("pkg-config nice: %v (libnice-dev not installed?)", err)
	}
	path := filepath.Join(t.TempDir(), "nice_harness")
	args := append([]string{"-Wall", "-Werror", "-o", path, "testdata/nice_harness.c"}, strings.Fields(string(flags))...)
	if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return path
}

// runHarness sends the commands to the harness in one run and returns its
// answers, one per command. Empty fields are sent as "=".
func runHarness(t *testing.T, path string, cmds [][]string) []string {
	t.Helper()
	var in bytes.Buffer
	for _, c := range cmds {
		for i, f := range c {
			if i > 0 {
				in.WriteByte(' ')
			}
			if f == "" {
				f = "="
			}
			in.WriteString(f)
		}
		in.WriteByte('\n')
	}
	cmd := exec.Command(path)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != len(cmds) {
		t.Fatalf("harness answered %d lines to %d commands", len(lines), len(cmds))
	}
	return lines
}

// TestRequestsAgainstLibnice compares the Allocate and Refresh requests
// libnice and mediaport build from the same parameters and transaction ID,
// in every dialect, for every port request, with and without BANDWIDTH and
// LIFETIME, without a previous response and after several, with and
// without a username: the same attributes in the same order with the same
// values, and both MESSAGE-INTEGRITYs verify with the same key. In GOOGLE,
// MSN and OC2007 the two messages are byte for byte the same; in DRAFT9
// and RFC5766 only padding bytes differ (libnice pads with spaces,
// mediaport with zeros). The one difference, asserted as such: RFC5766's
// EVEN-PORT is the RFC's one byte where libnice sends the draft's four
// (docs/conformance.md, libnice 2).
func TestRequestsAgainstLibnice(t *testing.T) {
	path := niceHarness(t)
	type job struct {
		name  string
		c     Compatibility
		r     Request
		build func([]byte, Request, Compatibility) ([]byte, error)
	}
	var jobs []job
	var cmds [][]string
	for c := RFC5766; c <= OC2007; c++ {
		previous := map[string][]byte{
			"none": nil,
			"401":  challenge(c, "example.org"),
			"438 without REALM": msg(0x0113, !c.rfc3489(), c.aligned(), attr(stunwire.AttrErrorCode, errCode(438, "Stale Nonce")),
				attr(c.nonceAttr(), []byte("fresh"))),
			"success, quoted realm, 4-byte token": msg(0x0103, !c.rfc3489(), c.aligned(), attr(c.realmAttr(), []byte("\"example.org\"")),
				attr(aToken, []byte("TOKN")), attr(c.nonceAttr(), []byte("n"))),
			"401, the other dialect's REALM/NONCE types": msg(0x0113, !c.rfc3489(), c.aligned(), attr(stunwire.AttrErrorCode, errCode(401, "Unauthorized")),
				attr(c.nonceAttr(), []byte("example.org")), attr(c.realmAttr(), []byte("abcnonce"))),
		}
		for pname, prev := range previous {
			for _, user := range []string{"alice", ""} {
				for _, ports := range []RequestPorts{PortNormal, PortEven, PortEvenAndReserve} {
					for _, bw := range []int32{-1, 100} {
						for _, life := range []int32{-1, 0, 600} {
							r := Request{Ports: ports, Bandwidth: bw, Username: []byte(user), Password: []byte("secret"), Software: "libnice", Previous: prev}
							r.SetLibniceLifetime(life) // -1 omits, 0 deletes
							name := fmt.Sprintf("%v ports=%d bw=%d lifetime=%d user=%q previous=%s", c, ports, bw, life, user, pname)
							create := []string{"create", niceCompat(c), fmt.Sprint(int(ports)), fmt.Sprint(bw), fmt.Sprint(life), user, "secret"}
							refresh := []string{"refresh", niceCompat(c), fmt.Sprint(life), user, "secret"}
							if prev != nil {
								create = append(create, hex.EncodeToString(prev))
								refresh = append(refresh, hex.EncodeToString(prev))
							}
							jobs = append(jobs, job{name + " Allocate", c, r, NewAllocate}, job{name + " Refresh", c, r, NewRefresh})
							cmds = append(cmds, create, refresh)
						}
					}
				}
			}
		}
	}
	out := runHarness(t, path, cmds)
	for i, j := range jobs {
		compareWithLibnice(t, j.name, j.c, j.r, out[i], j.build)
	}
	t.Logf("%d requests compared", len(jobs))
}

func compareWithLibnice(t *testing.T, name string, c Compatibility, r Request, niceHex string,
	build func([]byte, Request, Compatibility) ([]byte, error)) {
	t.Helper()
	nb, err := hex.DecodeString(niceHex)
	if err != nil {
		t.Fatalf("%s: harness output %q", name, niceHex)
	}
	var nm, om stunwire.Message
	if err := stunwire.Parse(nb, c.aligned(), &nm); err != nil {
		t.Fatalf("%s: libnice's message does not parse: %v", name, err)
	}
	id := nm.ID
	r.TransactionID = &id
	ob, err := build(nil, r, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := stunwire.Parse(ob, c.aligned(), &om); err != nil {
		t.Fatalf("%s: ours does not parse: %v", name, err)
	}
	if nm.Type != om.Type || nm.ID != om.ID {
		t.Fatalf("%s: header %04x %x, libnice %04x %x", name, om.Type, om.ID, nm.Type, nm.ID)
	}
	if len(nm.Attrs) != len(om.Attrs) {
		t.Fatalf("%s: attributes %04x, libnice %04x", name, types(&om), types(&nm))
	}
	evenPortDiffers := false
	for i := range nm.Attrs {
		n, o := nm.Attrs[i], om.Attrs[i]
		if n.Type != o.Type {
			t.Fatalf("%s: attribute %d is %04x, libnice %04x", name, i, o.Type, n.Type)
		}
		switch {
		case n.Type == stunwire.AttrMessageIntegrity:
		case n.Type == stunwire.AttrRequestedPortProps && c == RFC5766:
			// The decided difference: the RFC's EVEN-PORT.
			want := []byte{0}
			if r.Ports == PortEvenAndReserve {
				want = []byte{0x80}
			}
			nice := []byte{0x80, 0, 0, 0}
			if r.Ports == PortEvenAndReserve {
				nice = []byte{0xC0, 0, 0, 0}
			}
			if !bytes.Equal(o.Value, want) || !bytes.Equal(n.Value, nice) {
				t.Fatalf("%s: EVEN-PORT ours % x, libnice % x; want % x and % x", name, o.Value, n.Value, want, nice)
			}
			evenPortDiffers = true
		case !bytes.Equal(n.Value, o.Value):
			t.Fatalf("%s: attribute %04x is %q, libnice %q", name, n.Type, o.Value, n.Value)
		}
	}
	if _, ok := nm.Get(stunwire.AttrMessageIntegrity); ok {
		key := r.Password
		if !c.shortTerm() {
			realm, _ := nm.Get(c.realmAttr())
			k := longTermKey(r.Username, realm, r.Password)
			key = k[:]
		}
		if !stunwire.CheckIntegrity(&nm, key, c.rfc3489()) {
			t.Fatalf("%s: libnice's MESSAGE-INTEGRITY does not verify with our key", name)
		}
		if !stunwire.CheckIntegrity(&om, key, c.rfc3489()) {
			t.Fatalf("%s: our MESSAGE-INTEGRITY does not verify", name)
		}
	}
	if c.rfc3489() && !bytes.Equal(nb, ob) {
		t.Fatalf("%s: ours\n%x\nlibnice\n%x", name, ob, nb)
	}
	if !c.rfc3489() && !evenPortDiffers && len(nb) != len(ob) {
		t.Fatalf("%s: %d bytes, libnice %d", name, len(ob), len(nb))
	}
}

func addrString(a netip.AddrPort) string {
	if !a.IsValid() {
		return "-"
	}
	return a.String()
}

// compareProcess compares our Response with libnice's answer: the return
// value always, and the out-parameters libnice documents as filled for it
// (relay and mapped address, bandwidth and lifetime of a success; the
// alternate server of an error).
func compareProcess(t *testing.T, name string, refresh bool, got Response, out string) {
	t.Helper()
	var ret int
	var relay, mapped, alt string
	var bw, life uint32
	if _, err := fmt.Sscanf(out, "ret=%d relay=%s mapped=%s alternate=%s bandwidth=%d lifetime=%d", &ret, &relay, &mapped, &alt, &bw, &life); err != nil {
		t.Fatalf("%s: harness output %q: %v", name, out, err)
	}
	if Return(ret) != got.Return {
		t.Errorf("%s: ours %v, libnice %v", name, got.Return, Return(ret))
		return
	}
	switch got.Return {
	case RelaySuccess, MappedSuccess:
		if !refresh && (relay != addrString(got.Relay) || mapped != addrString(got.Mapped) || bw != got.Bandwidth) {
			t.Errorf("%s: relay %v mapped %v bandwidth %d, libnice %s %s %d", name, got.Relay, got.Mapped, got.Bandwidth, relay, mapped, bw)
		}
		if life != got.Lifetime {
			t.Errorf("%s: lifetime %d, libnice %d", name, got.Lifetime, life)
		}
	case Error, AlternateServer:
		if !refresh && alt != addrString(got.Alternate) {
			t.Errorf("%s: alternate %v, libnice %s", name, got.Alternate, alt)
		}
	}
}

// TestProcessAgainstLibnice runs every crafted response through
// stun_usage_turn_process and stun_usage_turn_refresh_process in every
// dialect and compares.
func TestProcessAgainstLibnice(t *testing.T) {
	path := niceHarness(t)
	var cmds [][]string
	type job struct {
		name    string
		refresh bool
		got     Response
	}
	var jobs []job
	for _, pc := range processCases {
		for c := RFC5766; c <= OC2007; c++ {
			raw := pc.raw(c)
			h := hex.EncodeToString(raw)
			cmds = append(cmds, []string{"process", niceCompat(c), h}, []string{"refresh_process", niceCompat(c), h})
			jobs = append(jobs, job{fmt.Sprintf("%s %v process", pc.name, c), false, ProcessAllocate(raw, c)},
				job{fmt.Sprintf("%s %v refresh_process", pc.name, c), true, ProcessRefresh(raw, c)})
		}
	}
	out := runHarness(t, path, cmds)
	for i, j := range jobs {
		compareProcess(t, j.name, j.refresh, j.got, out[i])
	}
}

// TestProcessRandomAgainstLibnice: responses put together at random (a
// fixed seed) from the attributes the usage reads — well-formed and
// malformed addresses, lifetimes, error codes, alternate servers,
// MESSAGE-INTEGRITY and FINGERPRINT in the way — processed by both.
func TestProcessRandomAgainstLibnice(t *testing.T) {
	path := niceHarness(t)
	rng := rand.New(rand.NewPCG(6, 2026))
	pick := func(vs ...[]byte) []byte { return vs[rng.IntN(len(vs))] }
	addrs := func(xor bool, key uint32) []byte {
		a := []netip.AddrPort{relayA, mappedA, relay6, mapped6}[rng.IntN(4)]
		v := plain(a)
		if xor {
			v = xored(a, key)
		}
		switch rng.IntN(8) {
		case 0:
			v = append(v, 0, 0, 0, 0) // wrong length
		case 1:
			v[1] = byte(rng.IntN(4)) // family 0..3
		}
		return v
	}
	var cmds [][]string
	type job struct {
		name    string
		refresh bool
		got     Response
	}
	var jobs []job
	for i := range 3000 {
		c := Compatibility(rng.IntN(5))
		magic := rng.IntN(2) == 0
		key := uint32(testKey)
		if magic {
			key = stunwire.MagicCookie
		}
		typ := []uint16{0x0103, 0x0103, 0x0113, 0x0113, 0x0104, 0x0114, 0x0003, 0x0111}[rng.IntN(8)]
		var attrs []stunwire.Attr
		if typ&0x0110 == 0x0110 && rng.IntN(5) > 0 {
			// Mostly a plausible ERROR-CODE first, 3xx often.
			class := []byte{3, 3, 3, 4, 4, 5, 2, 7}[rng.IntN(8)]
			number := []byte{0, 0, 1, 38, 99, 100}[rng.IntN(6)]
			attrs = append(attrs, attr(stunwire.AttrErrorCode, []byte{0, 0, class, number, 'r'}))
		}
		for range rng.IntN(7) {
			var a stunwire.Attr
			switch rng.IntN(13) {
			case 0:
				a = attr(stunwire.AttrXORRelayedAddress, addrs(true, stunwire.MagicCookie))
			case 1:
				a = attr(stunwire.AttrXORMappedAddress, addrs(true, stunwire.MagicCookie))
			case 2:
				a = attr(stunwire.AttrMappedAddress, addrs(false, 0))
			case 3:
				a = attr(stunwire.AttrMSMappedAddress, addrs(false, 0))
			case 4:
				a = attr(stunwire.AttrMSXORMappedAddress, addrs(true, key))
			case 5:
				a = attr(stunwire.AttrLifetime, pick(u32(600), u32(0), []byte{0, 0, 1}, u32(1)[:2]))
			case 6:
				a = attr(stunwire.AttrBandwidth, pick(u32(64), []byte{0, 0, 0, 0, 0, 1}))
			case 7:
				a = attr(stunwire.AttrErrorCode, []byte{0, 0, byte(rng.IntN(9)), byte(rng.IntN(110)), 'r'})
			case 8:
				a = attr(stunwire.AttrAlternateServer, addrs(false, 0))
			case 9:
				a = attr(stunwire.AttrMSAlternateServer, addrs(false, 0))
			case 10:
				a = attr(stunwire.AttrMessageIntegrity, make([]byte, 20))
			case 11:
				a = attr(stunwire.AttrFingerprint, make([]byte, 4))
			default:
				a = attr(0x8055, pick([]byte("x"), []byte("unknown")))
			}
			attrs = append(attrs, a)
		}
		raw := msg(typ, magic, c.aligned(), attrs...)
		h := hex.EncodeToString(raw)
		cmds = append(cmds, []string{"process", niceCompat(c), h}, []string{"refresh_process", niceCompat(c), h})
		name := fmt.Sprintf("random %d %v %x", i, c, raw)
		jobs = append(jobs, job{name + " process", false, ProcessAllocate(raw, c)}, job{name + " refresh_process", true, ProcessRefresh(raw, c)})
	}
	out := runHarness(t, path, cmds)
	returns := map[Return]int{}
	for i, j := range jobs {
		compareProcess(t, j.name, j.refresh, j.got, out[i])
		returns[j.got.Return]++
	}
	// The generator reaches every branch.
	for r := RelaySuccess; r <= AlternateServer; r++ {
		if returns[r] == 0 {
			t.Errorf("no random response gave %v", r)
		}
	}
	t.Logf("returns: %v", returns)
}

// niceCompat is libnice's number for the dialect (StunUsageTurnCompatibility
// counts DRAFT9 = 0 … RFC5766 = 4).
// niceCompat is the mode argument of the harness, which passes it to
// libnice as the StunUsageTurnCompatibility value: a wrong Libnice number
// would run another dialect there and fail the comparisons.
func niceCompat(c Compatibility) string {
	return fmt.Sprint(c.Libnice())
}
