package testutil

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v3"
)

// TestCoturnAnswers checks the launcher against the real server: an
// unauthenticated Allocate gets 401 with REALM and NONCE.
func TestCoturnAnswers(t *testing.T) {
	c := StartCoturn(t, CoturnOptions{})
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(c.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest),
		stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}}, stun.Fingerprint)
	buf := make([]byte, 1500)
	for i := 0; ; i++ {
		conn.Write(req.Raw)
		conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := conn.Read(buf)
		if err != nil {
			if i < 10 {
				continue
			}
			t.Fatalf("no answer: %v\n%s", err, c.Log())
		}
		var res stun.Message
		res.Raw = buf[:n]
		if err := res.Decode(); err != nil {
			t.Fatal(err)
		}
		var code stun.ErrorCodeAttribute
		var realm stun.Realm
		if err := code.GetFrom(&res); err != nil || code.Code != 401 {
			t.Fatalf("Allocate without credentials: %v %v", code, err)
		}
		if err := realm.GetFrom(&res); err != nil || !strings.EqualFold(realm.String(), c.Realm) {
			t.Fatalf("REALM = %q %v", realm, err)
		}
		return
	}
}

func TestTurnutilsPeerEchoes(t *testing.T) {
	_ = StartTurnutilsPeer(t) // fails unless it echoes
}

func TestPionTURNAnswers(t *testing.T) {
	s := StartPionTURN(t)
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(s.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	conn.Write(req.Raw)
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1500)
	n, err := conn.Read(buf)
	if err != nil || !stun.IsMessage(buf[:n]) {
		t.Fatalf("pion/turn did not answer a Binding request: %v", err)
	}
}

func TestPoll(t *testing.T) {
	n := 0
	if !Poll(Patience, func() bool { n++; return n == 5 }) || n != 5 {
		t.Fatalf("Poll stopped after %d calls, want 5", n)
	}
	if Poll(10*time.Millisecond, func() bool { return false }) {
		t.Fatal("Poll of a condition that never holds returned true")
	}
}

func TestWaitBlocked(t *testing.T) {
	ch := make(chan struct{})
	done := make(chan struct{})
	go func() { blockHere(ch); close(done) }()
	WaitBlocked(t, "testutil.blockHere")
	close(ch)
	<-done
	if blockedIn("testutil.blockHere") {
		t.Fatal("blockedIn reports a goroutine that has returned")
	}
}

//go:noinline
func blockHere(ch chan struct{}) { <-ch }
