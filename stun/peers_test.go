package stun

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v3"
	"go.uber.org/goleak"

	"github.com/mediaport/mediaport/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// result collects OnRequestComplete on a real socket.
type result struct {
	status error
	res    *stun.Message
}

func udpSession(t *testing.T, cb Callbacks, name string) (*Session, *UDPTransport, chan result) {
	t.Helper()
	tr, err := ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan result, 4)
	cb.OnSendMsg = tr.Send
	if cb.OnRequestComplete == nil {
		cb.OnRequestComplete = func(_ *Session, status error, _ any, _ *TxData, res *stun.Message, _ netip.AddrPort) {
			var r result
			r.status = status
			if res != nil {
				r.res = new(stun.Message)
				res.CloneTo(r.res)
			}
			done <- r
		}
	}
	s, err := Create(Config{}, name, cb, true)
	if err != nil {
		t.Fatal(err)
	}
	tr.Serve(s)
	t.Cleanup(func() { s.Destroy(); tr.Close() })
	return s, tr, done
}

func wait(t *testing.T, done chan result) result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(testutil.Patience):
		t.Fatal("request did not complete")
		return result{}
	}
}

// turnutils_stunclient against our Binding server prints its reflexive
// address as we report it.
func TestTurnutilsStunclient(t *testing.T) {
	bin := testutil.Peer(t, "turnutils_stunclient")
	var mu sync.Mutex
	var seen []netip.AddrPort
	srv, tr, _ := udpSession(t, Callbacks{OnRxRequest: func(s *Session, _ []byte, rdata *RxData, token any, src netip.AddrPort) error {
		mu.Lock()
		seen = append(seen, src)
		mu.Unlock()
		res, err := s.CreateRes(rdata, 0, "")
		if err != nil {
			return err
		}
		res.AddXORMappedAddress(src)
		return s.SendMsg(token, true, false, src, res)
	}}, "binding-server")
	srv.SetServerName("mediaport")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-p", fmt.Sprint(tr.LocalAddr().Port()), "127.0.0.1").CombinedOutput()
	if err != nil {
		t.Fatalf("turnutils_stunclient: %v\n%s", err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatalf("no request reached the server:\n%s", out)
	}
	want := "UDP reflexive addr: " + seen[0].String()
	if !strings.Contains(string(out), want) {
		t.Fatalf("turnutils_stunclient printed\n%s\nwant %q", out, want)
	}
}

// Our client's Binding request to coturn succeeds and reports our socket's
// address.
func TestBindingToCoturn(t *testing.T) {
	c := testutil.StartCoturn(t, testutil.CoturnOptions{})
	cli, tr, done := udpSession(t, Callbacks{}, "binding-client")
	td, err := cli.CreateReq(stun.MethodBinding, MagicCookie, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.SendMsg(nil, false, true, c.Addr, td); err != nil {
		t.Fatal(err)
	}
	r := wait(t, done)
	if r.status != nil || r.res == nil {
		t.Fatalf("Binding to coturn: %v", r.status)
	}
	if a, ok := XORAddress(r.res, stun.AttrXORMappedAddress); !ok || a != tr.LocalAddr() {
		t.Fatalf("coturn says we are %v, we are %v", a, tr.LocalAddr())
	}
}

// Our long-term client authenticates to coturn: the Allocate gets 401, the
// session retries with REALM and NONCE on its own, and the allocation
// succeeds; a Refresh with LIFETIME 0 then releases it.
func TestLongTermAllocateToCoturn(t *testing.T) {
	c := testutil.StartCoturn(t, testutil.CoturnOptions{})
	cli, _, done := udpSession(t, Callbacks{}, "turn-client")
	cli.SetCredential(AuthLongTerm, &Credential{Username: c.User, Password: []byte(c.Password)})
	td, _ := cli.CreateReq(stun.MethodAllocate, MagicCookie, nil)
	td.Add(stun.AttrRequestedTransport, []byte{17, 0, 0, 0})
	if err := cli.SendMsg(nil, false, true, c.Addr, td); err != nil {
		t.Fatal(err)
	}
	r := wait(t, done)
	if r.status != nil {
		t.Fatalf("Allocate: %v\n%s", r.status, c.Log())
	}
	relay, ok := XORAddress(r.res, stun.AttrXORRelayedAddress)
	if !ok || !relay.Addr().IsLoopback() {
		t.Fatalf("relayed address %v", relay)
	}
	if cli.realm != c.Realm || cli.nonce == "" {
		t.Fatalf("learned realm %q nonce %q", cli.realm, cli.nonce)
	}
	if !checkIntegrity(r.res.Raw, LongTermKey(c.User, c.Realm, c.Password)) {
		t.Fatal("coturn's success response did not verify with the long-term key")
	}
	rf, _ := cli.CreateReq(stun.MethodRefresh, MagicCookie, nil)
	rf.Add(stun.AttrLifetime, []byte{0, 0, 0, 0})
	cli.SendMsg(nil, false, true, c.Addr, rf)
	if r := wait(t, done); r.status != nil {
		t.Fatalf("Refresh(0): %v", r.status)
	}
	// A wrong password: the challenge repeats and reaches the user as 401.
	bad, _, done2 := udpSession(t, Callbacks{}, "bad-client")
	bad.SetCredential(AuthLongTerm, &Credential{Username: c.User, Password: []byte("wrong")})
	td2, _ := bad.CreateReq(stun.MethodAllocate, MagicCookie, nil)
	td2.Add(stun.AttrRequestedTransport, []byte{17, 0, 0, 0})
	bad.SendMsg(nil, false, true, c.Addr, td2)
	r2 := wait(t, done2)
	var se *StatusError
	if !errors.As(r2.status, &se) || se.Code != 401 {
		t.Fatalf("wrong password: %v", r2.status)
	}
}
