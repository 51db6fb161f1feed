package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

// The offers in testdata are what Chromium 156 and aiortc 1.4 sent in the
// browser tests.

func readOffer(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseOffer(t *testing.T) {
	for _, tc := range []struct {
		file          string
		ufrag, fp     string
		kind          string
		pt            int
		codec         string
		ssrc          uint32
		sctp, formats string
	}{
		{"chromium_audio.sdp", "Bgct", "sha-256 A2:08:47:6C", "audio", 111, "opus/48000/2", 825204969, "", "111"},
		{"aiortc_audio.sdp", "", "sha-256 68:DD:FE:62", "audio", 96, "opus/48000/2", 1618502041, "", "96"},
		{"chromium_data.sdp", "DUkW", "sha-256 FD:22:EB:F1", "application", -1, "", 0, "5000", "webrtc-datachannel"},
		{"aiortc_data.sdp", "V1Oj", "sha-256 21:3B:6C:F0", "application", -1, "", 0, "", "5000"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			o, err := parseOffer(readOffer(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ufrag != "" && o.ufrag != tc.ufrag || o.pwd == "" || o.setup != "actpass" {
				t.Errorf("ufrag %q pwd %q setup %q", o.ufrag, o.pwd, o.setup)
			}
			if len(o.fingerprints) != 1 || !strings.HasPrefix(o.fingerprints[0], tc.fp) {
				t.Errorf("fingerprints %q, want one starting %q", o.fingerprints, tc.fp)
			}
			if len(o.media) != 1 {
				t.Fatalf("%d media", len(o.media))
			}
			m := o.media[0]
			if m.kind != tc.kind || m.audioPT != tc.pt || m.codec != tc.codec || m.ssrc != tc.ssrc || m.sctpPort != tc.sctp || m.mid != "0" {
				t.Errorf("media %+v", m)
			}

			answer, accepted, err := buildAnswer(o, answerParams{
				ufrag: "ourU", pwd: "our-password-0123456789", fingerprint: "sha-256 00:11",
				setup: "passive", candidate: "127.0.0.1 40000", ssrc: 0x01020304, cname: "c",
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(accepted) != 1 || accepted[0] != tc.kind {
				t.Errorf("accepted %v", accepted)
			}
			var sd sdp.SessionDescription
			if err := sd.UnmarshalString(answer); err != nil {
				t.Fatalf("answer does not parse: %v\n%s", err, answer)
			}
			if _, lite := sd.Attribute("ice-lite"); !lite {
				t.Error("no a=ice-lite")
			}
			if g, _ := sd.Attribute("group"); g != "BUNDLE 0" {
				t.Errorf("group %q", g)
			}
			md := sd.MediaDescriptions[0]
			if md.MediaName.Media != tc.kind || md.MediaName.Port.Value != 40000 || strings.Join(md.MediaName.Formats, " ") != tc.formats {
				t.Errorf("m= line %v", md.MediaName)
			}
			for key, want := range map[string]string{
				"ice-ufrag": "ourU", "ice-pwd": "our-password-0123456789", "fingerprint": "sha-256 00:11",
				"setup": "passive", "mid": "0", "candidate": "1 1 udp 2130706431 127.0.0.1 40000 typ host",
			} {
				if v, _ := md.Attribute(key); v != want {
					t.Errorf("a=%s:%q, want %q", key, v, want)
				}
			}
			if tc.kind == "audio" {
				if v, _ := md.Attribute("ssrc"); v != "16909060 cname:c" {
					t.Errorf("a=ssrc:%s", v)
				}
				if _, mux := md.Attribute("rtcp-mux"); !mux {
					t.Error("no a=rtcp-mux")
				}
				if c, err := sd.GetCodecForPayloadType(uint8(tc.pt)); err != nil || c.Name != "opus" {
					t.Errorf("codec of PT %d: %v %v", tc.pt, c, err)
				}
			}
		})
	}
}

// TestAnswerRejectsVideo: an m= line we do not accept is answered with
// port 0 and left out of the bundle.
func TestAnswerRejectsVideo(t *testing.T) {
	text := strings.Replace(readOffer(t, "chromium_audio.sdp"), "a=group:BUNDLE 0", "a=group:BUNDLE 0 1", 1) +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=rtpmap:96 VP8/90000\r\na=sendrecv\r\n"
	o, err := parseOffer(text)
	if err != nil {
		t.Fatal(err)
	}
	answer, accepted, err := buildAnswer(o, answerParams{ufrag: "ourU", pwd: "p", fingerprint: "sha-256 00",
		setup: "active", candidate: "127.0.0.1 40000", ssrc: 1, cname: "c"})
	if err != nil {
		t.Fatal(err)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(answer); err != nil {
		t.Fatal(err)
	}
	if len(accepted) != 1 || len(sd.MediaDescriptions) != 2 {
		t.Fatalf("accepted %v, %d m= lines:\n%s", accepted, len(sd.MediaDescriptions), answer)
	}
	video := sd.MediaDescriptions[1]
	if video.MediaName.Media != "video" || video.MediaName.Port.Value != 0 {
		t.Errorf("video answered %v", video.MediaName)
	}
	if g, _ := sd.Attribute("group"); g != "BUNDLE 0" {
		t.Errorf("group %q", g)
	}
}

func TestParseOfferRefuses(t *testing.T) {
	good := readOffer(t, "chromium_audio.sdp")
	for name, text := range map[string]string{
		"not SDP":        "hello",
		"no fingerprint": dropLines(good, "a=fingerprint:"),
		"no ice-pwd":     dropLines(good, "a=ice-pwd:"),
		"no setup":       dropLines(good, "a=setup:"),
	} {
		if _, err := parseOffer(text); !errors.Is(err, errOffer) {
			t.Errorf("%s: err %v, want errOffer", name, err)
		}
	}
	o, err := parseOffer(dropCodecs(good))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := buildAnswer(o, answerParams{candidate: "127.0.0.1 1"}); !errors.Is(err, errOffer) {
		t.Errorf("an audio offer with neither Opus nor PCMU: %v, want errOffer", err)
	}
}

func dropLines(text, prefix string) string {
	var keep []string
	for _, l := range strings.Split(text, "\r\n") {
		if !strings.HasPrefix(l, prefix) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\r\n")
}

// dropCodecs renames Opus and PCMU in text's rtpmaps and drops the static
// payload type 0 (PCMU even without an rtpmap) from its m= line.
func dropCodecs(text string) string {
	return strings.NewReplacer(" opus/", " xopus/", " PCMU/", " xPCMU/", " 9 0 8 ", " 9 8 ").Replace(text)
}

// TestServeOffer: the HTTP side, with no browser. An offer that cannot be
// answered is a 400 with the reason; a good one gets an SDP answer and a
// call whose media port is the answer's candidate.
func TestServeOffer(t *testing.T) {
	srv := newServer(t, nil)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	post := func(path, body string) (int, string) {
		resp, err := http.Post(hs.URL+path, "application/sdp", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, _ = io.Copy(b, resp.Body)
		return resp.StatusCode, b.String()
	}
	if code, body := post("/offer?id=x", "v=0"); code != http.StatusBadRequest || !strings.Contains(body, "unusable offer") {
		t.Errorf("bad offer: %d %q", code, body)
	}
	if code, _ := post("/offer?id=x&setup=both", readOffer(t, "chromium_audio.sdp")); code != http.StatusBadRequest {
		t.Errorf("setup=both: %d", code)
	}
	passive := strings.Replace(readOffer(t, "chromium_audio.sdp"), "a=setup:actpass", "a=setup:passive", 1)
	if code, body := post("/offer?id=x&setup=passive", passive); code != http.StatusBadRequest || !strings.Contains(body, "a=setup:passive") {
		t.Errorf("passive answer to a passive offer: %d %q", code, body)
	}
	code, answer := post("/offer?id=ok", readOffer(t, "chromium_audio.sdp"))
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, answer)
	}
	c := srv.Call("ok")
	if c == nil {
		t.Fatal("no call")
	}
	port := c.State().Port
	if !strings.Contains(answer, "a=candidate:1 1 udp 2130706431 127.0.0.1 "+strconv.Itoa(int(port.Port()))+" typ host") ||
		!strings.Contains(answer, "a=setup:passive") {
		t.Errorf("answer for port %v:\n%s", port, answer)
	}
	if code, _ := post("/offer?id=ok", readOffer(t, "chromium_audio.sdp")); code != http.StatusConflict {
		t.Errorf("a second offer with the same id: %d", code)
	}
	resp, err := http.Get(hs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
