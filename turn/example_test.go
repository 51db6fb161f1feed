package turn_test

import (
	"fmt"
	"log"
	"net"

	pionstun "github.com/pion/stun/v3"

	"github.com/mediaport/mediaport/turn"
)

// The usage builds an Allocate request and processes its response at
// message level; sending it, retransmitting and matching the response to
// the request are the caller's (a stun.Session's, say).
func ExampleProcessAllocate() {
	req, err := turn.NewAllocate(nil, turn.Request{
		Lifetime:  600, // seconds
		Bandwidth: -1,  // send no BANDWIDTH
	}, turn.RFC5766)
	if err != nil {
		log.Fatal(err)
	}
	var m pionstun.Message
	if err := pionstun.Decode(req, &m); err != nil {
		log.Fatal(err)
	}
	fmt.Println("request:", m.Type)

	// What a server would answer: the relayed and the reflexive address,
	// and the lifetime granted.
	res, err := pionstun.Build(
		pionstun.NewTransactionIDSetter(m.TransactionID),
		pionstun.NewType(pionstun.MethodAllocate, pionstun.ClassSuccessResponse),
		setAddr(pionstun.AttrXORRelayedAddress, "192.0.2.15", 49152),
		setAddr(pionstun.AttrXORMappedAddress, "198.51.100.7", 32000),
		pionstun.RawAttribute{Type: pionstun.AttrLifetime, Value: []byte{0, 0, 0x02, 0x58}},
	)
	if err != nil {
		log.Fatal(err)
	}

	r := turn.ProcessAllocate(res.Raw, turn.RFC5766)
	fmt.Println("return:", r.Return)
	fmt.Println("relayed:", r.Relay, "mapped:", r.Mapped, "lifetime:", r.Lifetime)
	// Output:
	// request: Allocate request
	// return: MappedSuccess
	// relayed: 192.0.2.15:49152 mapped: 198.51.100.7:32000 lifetime: 600
}

// xorAddr is an XOR-address attribute of type t.
type xorAddr struct {
	t    pionstun.AttrType
	addr pionstun.XORMappedAddress
}

func (a xorAddr) AddTo(m *pionstun.Message) error { return a.addr.AddToAs(m, a.t) }

// setAddr returns a setter adding an XOR-address attribute of type t.
func setAddr(t pionstun.AttrType, ip string, port int) pionstun.Setter {
	return xorAddr{t, pionstun.XORMappedAddress{IP: net.ParseIP(ip), Port: port}}
}
