package association_test

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/internal/testutil"
)

// opensslRecord is the payload of record id of TestSendPacketsOpenSSL:
// a line s_server prints, its filler's length and letter following id.
func opensslRecord(id int) []byte {
	return fmt.Appendf(nil, "<%05d:%s>\n", id, strings.Repeat(string(rune('a'+id%26)), id*13%400))
}

var reOpensslRecord = regexp.MustCompile(`<(\d{5}):([a-z]*)>`)

// TestSendPacketsOpenSSL: SendPackets batches sealed on mediaport's
// record path reach openssl s_server, which decrypts and prints them:
// every record whole and once. After each batch the sender waits until
// every record sent so far was printed or counted dropped by the kernel
// on s_server's socket (/proc/net/udp), and halves its batch when the
// kernel dropped.
func TestSendPacketsOpenSSL(t *testing.T) {
	testutil.Peer(t, "openssl")
	ours, theirs := testutil.SelfSignedCert(t, "mediaport"), testutil.SelfSignedCert(t, "openssl")
	for _, name := range []string{"ECDHE-ECDSA-AES128-GCM-SHA256", "PSK-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-CCM8"} {
		t.Run(name, func(t *testing.T) {
			psk := strings.HasPrefix(name, "PSK")
			s := newSide(t, interopModule(t, psk, ours))
			addr := netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
			args := []string{"s_server", "-dtls1_2", "-accept", addr.String(), "-cipher", name}
			if psk {
				args = append(args, "-nocert", "-psk_hint", "serverhint", "-psk", pskHex, "-psk_identity", "alice")
			} else {
				args = append(args, "-cert", theirs.CertPath, "-key", theirs.KeyPath)
			}
			p := testutil.StartProc(t, "openssl", args...)
			if !p.WaitOutput("ACCEPT", testutil.Patience) {
				t.Fatalf("s_server: %s", p.Output())
			}
			s.bind(t, addr, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}, HandshakeTimeout: 15 * time.Second})
			checkRecordPath(t, s, p, opensslSuites[name], nil, true)
			const total, batch = 256, 16
			pkts := make([][]byte, batch)
			window := batch
			var drops uint64
			seen := map[int]bool{}
			printed := func() {
				for _, m := range reOpensslRecord.FindAllStringSubmatch(p.Output(), -1) {
					id, _ := strconv.Atoi(m[1])
					if m[0]+"\n" != string(opensslRecord(id)) {
						t.Fatalf("s_server printed %q, not a record sent", m[0])
					}
					seen[id] = true
				}
			}
			for sent := 0; sent < total; {
				n := min(window, total-sent)
				for i := range n {
					pkts[i] = opensslRecord(sent + i)
				}
				if k, err := s.tx.SendPackets(pkts[:n]); k != n || err != nil {
					t.Fatalf("SendPackets of %d: %d, %v", n, k, err)
				}
				sent += n
				ok := testutil.Poll(testutil.Patience, func() bool {
					clear(seen)
					printed()
					if len(seen) >= sent {
						return true
					}
					d, ok, err := testutil.PortDrops(addr)
					if err != nil {
						t.Fatal(err)
					}
					if ok && d > drops {
						drops = d
						window = max(1, window/2) // pace
					}
					return ok && len(seen)+int(drops) >= sent
				})
				if !ok {
					t.Fatalf("%d of %d records printed, %d dropped\n%s", len(seen), sent, drops, p.Output())
				}
			}
			if len(seen)+int(drops) != total || len(seen) == 0 {
				t.Fatalf("%d records printed, %d dropped by the kernel, %d sent", len(seen), drops, total)
			}
			if got := len(reOpensslRecord.FindAllString(p.Output(), -1)); got != len(seen) {
				t.Fatalf("%d records printed for %d sent once", got, len(seen))
			}
			if drops > 0 {
				t.Logf("the kernel dropped %d of %d records", drops, total)
			}
		})
	}
}
