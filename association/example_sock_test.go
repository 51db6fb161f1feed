package association_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlstx"
)

// sockOn makes e's DTLS pair a Sock (RIOT: sock_udp_create, then
// sock_dtls_create with the tag, SOCK_DTLS_1_2 and the role).
func sockOn(e *endpoint, tag mediaport.CredTag, role association.Role) *association.Sock {
	if err := e.tx.Config(dtlstx.Config{Local: e.port}); err != nil {
		log.Fatal(err)
	}
	k, err := association.CreateSock(e.rx, e.tx, association.ListenerConfig{Config: association.Config{
		Role: role, Version: association.DTLS12, Tags: []mediaport.CredTag{tag}}})
	if err != nil {
		log.Fatal(err)
	}
	return k
}

// RIOT's DTLS echo server and echo client, call for call: the server
// loops on sock_dtls_recv with SOCK_NO_TIMEOUT and answers each message
// on its session; the client calls sock_dtls_session_init, expects
// -SOCK_DTLS_HANDSHAKE from sock_dtls_recv, sends with timeout 0 and
// reads the echo.
func ExampleSock() {
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer mod.Close()
	const serverTag, clientTag mediaport.CredTag = 10, 20
	for _, tag := range []mediaport.CredTag{serverTag, clientTag} { // credman_add
		err := mod.AddCredential(mediaport.Credential{Tag: tag, Type: mediaport.CredPSK,
			PSK: mediaport.PSK{Identity: []byte("secretID"), Key: []byte("secretPSK")}})
		if err != nil {
			log.Fatal(err)
		}
	}

	// The server.
	srvEnd := newEndpoint(mod)
	server := sockOn(srvEnd, serverTag, association.Server)
	defer server.Close()
	done := make(chan struct{})
	echoed := make(chan int, 8) // the server's lines, printed in order below
	go func() {
		defer close(done)
		buf := make([]byte, 128)
		for {
			n, session, err := server.Recv(context.Background(), buf) // SOCK_NO_TIMEOUT
			if errors.Is(err, association.ErrClosed) {
				return
			}
			if err == nil && n > 0 {
				echoed <- n
				if _, err := server.Send(association.NoWait(), session, buf[:n]); err != nil {
					log.Fatal("server: error sending reply: ", err)
				}
			}
		}
	}()

	// The client.
	client := sockOn(newEndpoint(mod), clientTag, association.Client)
	session, err := client.SessionInit(srvEnd.port)
	if err != nil {
		log.Fatal("error initiating session: ", err)
	}
	rcv := make([]byte, 128)
	if _, _, err := client.Recv(context.Background(), rcv); !errors.Is(err, association.ErrHandshakeDone) {
		log.Fatal("error completing handshake: ", err)
	}
	fmt.Println("client: handshake with the server:", session.UDPEndpoint() == srvEnd.port)
	data := []byte("HELLO")
	n, err := client.Send(association.NoWait(), session, data)
	if err != nil {
		log.Fatal("error sending data: ", err)
	}
	fmt.Printf("client: sent %d bytes: %s\n", n, data[:n])
	n, _, err = client.Recv(context.Background(), rcv)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("server: received %d bytes -- echo!\n", <-echoed)
	fmt.Printf("client: received %d bytes: %s\n", n, rcv[:n])

	client.SessionDestroy(session)
	client.Close()
	server.Close()
	<-done
	// Output:
	// client: handshake with the server: true
	// client: sent 5 bytes: HELLO
	// server: received 5 bytes -- echo!
	// client: received 5 bytes: HELLO
}

// A blocking handshake as RIOT's sock_dtls_send documents it: an empty
// session, sock_dtls_session_set_udp_ep, then a send with a timeout that
// starts the handshake and sends once it completes. Credentials come and
// go at run time: a sock created with CREDMAN_TAG_EMPTY gets its tag
// from sock_dtls_add_credential.
func ExampleSock_Send() {
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer mod.Close()
	const tag mediaport.CredTag = 1
	err = mod.AddCredential(mediaport.Credential{Tag: tag, Type: mediaport.CredPSK,
		PSK: mediaport.PSK{Identity: []byte("id"), Key: []byte("a pre-shared secret")}})
	if err != nil {
		log.Fatal(err)
	}
	srvEnd := newEndpoint(mod)
	server := sockOn(srvEnd, tag, association.Server)
	defer server.Close()

	cliEnd := newEndpoint(mod)
	if err := cliEnd.tx.Config(dtlstx.Config{Local: cliEnd.port}); err != nil {
		log.Fatal(err)
	}
	client, err := association.CreateSock(cliEnd.rx, cliEnd.tx, association.ListenerConfig{
		Config: association.Config{Role: association.Client}}) // CREDMAN_TAG_EMPTY
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	fmt.Println("tags:", client.Credentials())
	if err := client.AddCredential(tag); err != nil {
		log.Fatal(err)
	}
	fmt.Println("tags:", client.Credentials())

	var session association.SockSession
	session.SetUDPEndpoint(srvEnd.port)
	if _, err := client.Send(association.NoWait(), session, []byte("too early")); errors.Is(err, association.ErrNotEstablished) {
		fmt.Println("timeout 0, no session: -ENOTCONN")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := client.Send(ctx, session, []byte("after the handshake"))
	fmt.Println("sent", n, err)

	buf := make([]byte, 64)
	_, from, err := server.Recv(ctx, buf)
	fmt.Println("server:", err, from.UDPEndpoint() == cliEnd.port)
	n, _, _ = server.Recv(ctx, buf)
	fmt.Printf("server: %s\n", buf[:n])
	// Output:
	// tags: []
	// tags: [1]
	// timeout 0, no session: -ENOTCONN
	// sent 19 <nil>
	// server: association: handshake completed (SOCK_DTLS_HANDSHAKE) true
	// server: after the handshake
}
