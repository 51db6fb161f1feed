package association

import (
	"bytes"
	"encoding/gob"
	"reflect"
	"testing"
)

// TestStateDecoder: streams as pion's State.MarshalBinary writes them (a
// new gob.Encoder each: definitions, then the value) decode through the
// shared decoder to what a fresh decoder gives, zero fields included, one
// after another; a stream whose definitions differ, or that is not gob,
// takes a fresh decoder and the shared one keeps working.
func TestStateDecoder(t *testing.T) {
	stream := func(v any) []byte {
		var b bytes.Buffer
		if err := gob.NewEncoder(&b).Encode(v); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	full := pionState{RemoteSequenceNumber: 7, HandshakeComplete: true, LocalEpoch: 1, RemoteEpoch: 1,
		CipherSuiteID: 0xc02b, MasterSecret: bytes.Repeat([]byte{9}, 48), SequenceNumber: 3,
		SRTPProtectionProfile: 7, PeerCertificates: [][]byte{{1, 2, 3}}, IdentityHint: []byte("hint"), IsClient: true}
	full.LocalRandom[0], full.RemoteRandom[31] = 1, 2
	sparse := pionState{HandshakeComplete: true, LocalEpoch: 1, CipherSuiteID: 0xc0ac} // zero fields omitted by gob
	var d stateDecoder
	for i, want := range []pionState{full, sparse, full, sparse} {
		raw := stream(want)
		if n, ok := gobDefsLen(raw); !ok || n == 0 || n >= len(raw) {
			t.Fatalf("stream %d: definitions %d of %d, %v", i, n, len(raw), ok)
		}
		var got pionState
		if err := d.decode(raw, &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("stream %d: %+v, %v; want %+v", i, got, err, want)
		}
		if i > 0 && d.dec == nil {
			t.Fatalf("stream %d: the shared decoder was dropped", i)
		}
	}
	// Another type's stream: different definitions, a fresh decoder.
	type other struct{ A, B int }
	var got pionState
	if err := d.decode(stream(other{1, 2}), &got); err == nil {
		t.Fatalf("another type decoded as pion's state: %+v", got)
	}
	for _, bad := range [][]byte{nil, {0x80}, {0xff, 1}, {5, 1, 2}} {
		if err := d.decode(bad, &got); err == nil {
			t.Fatalf("%x decoded", bad)
		}
	}
	if err := d.decode(stream(full), &got); err != nil || !reflect.DeepEqual(got, full) {
		t.Fatalf("after the others: %+v, %v", got, err)
	}
}
