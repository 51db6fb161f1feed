package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// The signalling of this example: the browser's SDP offer is parsed and the
// answer built with pion/sdp. mediaport itself knows nothing of SDP; what it
// needs from the offer is the peer's ICE credentials, its certificate
// fingerprints and its DTLS role, and the answer carries ours.

// offer is what the answer needs from a browser's offer.
type offer struct {
	ufrag, pwd   string
	fingerprints []string // "sha-256 AB:CD:…", one per a=fingerprint line
	setup        string   // actpass, active or passive
	media        []offeredMedia
}

// offeredMedia is one m= line of the offer.
type offeredMedia struct {
	kind     string // audio, video, application
	mid      string
	protos   []string
	audioPT  int    // the payload type of the audio codec we answer, -1 if none
	codec    string // its rtpmap, "opus/48000/2"
	fmtp     string
	ssrc     uint32   // the first a=ssrc of the m= line, 0 if none
	sctpPort string   // application: a=sctp-port (RFC 8841)
	sctpmap  []string // application: a=sctpmap (the older draft's form)
	formats  []string // the m= line's formats
}

// errOffer wraps every reason an offer is refused.
var errOffer = errors.New("webrtc: unusable offer")

// parseOffer reads the parts of an SDP offer an ICE-lite, DTLS-SRTP answerer
// needs. Session-level ICE credentials and fingerprints apply to every m=
// line that has none of its own (RFC 8839, RFC 8122); with BUNDLE all m=
// lines share the transport of the first, whose attributes win.
func parseOffer(text string) (*offer, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(text); err != nil {
		return nil, fmt.Errorf("%w: %v", errOffer, err)
	}
	o := &offer{}
	session := func(key string) string { v, _ := sd.Attribute(key); return v }
	for _, a := range sd.Attributes {
		if a.Key == "fingerprint" {
			o.fingerprints = append(o.fingerprints, a.Value)
		}
	}
	o.ufrag, o.pwd, o.setup = session("ice-ufrag"), session("ice-pwd"), session("setup")
	for i, md := range sd.MediaDescriptions {
		m := offeredMedia{kind: md.MediaName.Media, protos: md.MediaName.Protos, audioPT: -1, formats: md.MediaName.Formats}
		m.mid, _ = md.Attribute("mid")
		m.sctpPort, _ = md.Attribute("sctp-port")
		var fps []string
		for _, a := range md.Attributes {
			switch a.Key {
			case "fingerprint":
				fps = append(fps, a.Value)
			case "sctpmap":
				m.sctpmap = append(m.sctpmap, a.Value)
			case "ssrc":
				if m.ssrc == 0 {
					id, _, _ := strings.Cut(a.Value, " ")
					if v, err := strconv.ParseUint(id, 10, 32); err == nil {
						m.ssrc = uint32(v)
					}
				}
			}
		}
		if i == 0 { // the bundle's transport
			if v, ok := md.Attribute("ice-ufrag"); ok {
				o.ufrag = v
			}
			if v, ok := md.Attribute("ice-pwd"); ok {
				o.pwd = v
			}
			if v, ok := md.Attribute("setup"); ok {
				o.setup = v
			}
			if len(fps) > 0 {
				o.fingerprints = fps
			}
		}
		if m.kind == "audio" {
			m.audioPT, m.codec, m.fmtp = chooseAudio(md)
		}
		o.media = append(o.media, m)
	}
	switch {
	case len(o.media) == 0:
		return nil, fmt.Errorf("%w: no m= line", errOffer)
	case o.ufrag == "" || o.pwd == "":
		return nil, fmt.Errorf("%w: no a=ice-ufrag / a=ice-pwd", errOffer)
	case len(o.fingerprints) == 0:
		return nil, fmt.Errorf("%w: no a=fingerprint", errOffer)
	case o.setup != "actpass" && o.setup != "active" && o.setup != "passive":
		return nil, fmt.Errorf("%w: a=setup:%q", errOffer, o.setup)
	}
	return o, nil
}

// chooseAudio picks the audio codec to answer: Opus if offered, else PCMU.
// Echoing needs no transcoding, so any codec the browser sends works; Opus
// and PCMU are the two every browser has.
func chooseAudio(md *sdp.MediaDescription) (int, string, string) {
	for _, want := range []string{"opus", "PCMU"} {
		for _, f := range md.MediaName.Formats {
			pt, err := strconv.ParseUint(f, 10, 8)
			if err != nil {
				continue
			}
			c, err := codecOf(md, uint8(pt))
			if err != nil || !strings.EqualFold(c.Name, want) {
				continue
			}
			rtpmap := fmt.Sprintf("%s/%d", c.Name, c.ClockRate)
			if c.EncodingParameters != "" {
				rtpmap += "/" + c.EncodingParameters
			}
			return int(pt), rtpmap, c.Fmtp
		}
	}
	return -1, "", ""
}

// codecOf returns the codec of payload type pt in one m= line (pion's
// GetCodecForPayloadType looks across the whole session, and a payload
// type may mean different codecs on different m= lines).
func codecOf(md *sdp.MediaDescription, pt uint8) (sdp.Codec, error) {
	one := sdp.SessionDescription{MediaDescriptions: []*sdp.MediaDescription{md}}
	return one.GetCodecForPayloadType(pt)
}

// answerParams is what the answer says about our side.
type answerParams struct {
	ufrag, pwd  string
	fingerprint string // "sha-256 AB:CD:…"
	setup       string // active or passive
	candidate   string // "127.0.0.1 40000": the media port
	ssrc        uint32 // of the RTP we send
	cname       string
}

// buildAnswer answers o: the first audio m= line (sendrecv, its codec, our
// SSRC) and the first application m= line (SCTP over DTLS) are accepted and
// bundled on one ICE-lite transport with rtcp-mux; any other m= line is
// rejected with port 0 (RFC 8829 §5.3.1). It also returns which kinds were
// accepted.
func buildAnswer(o *offer, p answerParams) (string, []string, error) {
	sd, err := sdp.NewJSEPSessionDescription(false)
	if err != nil {
		return "", nil, err
	}
	host, port, _ := strings.Cut(p.candidate, " ")
	portNum, err := strconv.Atoi(port)
	if err != nil {
		return "", nil, err
	}
	sd.Origin.UnicastAddress = host
	sd.WithPropertyAttribute("ice-lite")
	var bundle, accepted []string
	haveAudio, haveData := false, false
	for _, m := range o.media {
		md := &sdp.MediaDescription{
			MediaName: sdp.MediaName{Media: m.kind, Port: sdp.RangedPort{Value: portNum}, Protos: m.protos},
			ConnectionInformation: &sdp.ConnectionInformation{
				NetworkType: "IN", AddressType: "IP4", Address: &sdp.Address{Address: host},
			},
		}
		ok := false
		switch {
		case m.kind == "audio" && !haveAudio && m.audioPT >= 0:
			haveAudio, ok = true, true
			md.MediaName.Formats = []string{strconv.Itoa(m.audioPT)}
			md.WithValueAttribute("rtpmap", fmt.Sprintf("%d %s", m.audioPT, m.codec))
			if m.fmtp != "" {
				md.WithValueAttribute("fmtp", fmt.Sprintf("%d %s", m.audioPT, m.fmtp))
			}
		case m.kind == "application" && !haveData:
			haveData, ok = true, true
			if strings.Join(m.protos, "/") == "DTLS/SCTP" {
				// The older form (aiortc offers it): the format is the
				// SCTP port, described by a=sctpmap.
				md.MediaName.Formats = m.formats
				for _, v := range m.sctpmap {
					md.WithValueAttribute("sctpmap", v)
				}
			} else {
				md.MediaName.Formats = []string{"webrtc-datachannel"}
				if m.sctpPort != "" {
					md.WithValueAttribute("sctp-port", m.sctpPort)
				}
			}
		}
		if m.mid != "" {
			md.WithValueAttribute("mid", m.mid)
		}
		if !ok {
			md.MediaName.Port.Value = 0
			if len(md.MediaName.Formats) == 0 {
				md.MediaName.Formats = []string{"0"}
			}
			sd.WithMedia(md)
			continue
		}
		accepted = append(accepted, m.kind)
		if m.mid != "" {
			bundle = append(bundle, m.mid)
		}
		md.WithICECredentials(p.ufrag, p.pwd)
		md.WithValueAttribute("fingerprint", p.fingerprint)
		md.WithValueAttribute("setup", p.setup)
		if m.kind == "audio" {
			md.WithPropertyAttribute("rtcp-mux")
			md.WithPropertyAttribute("sendrecv")
			md.WithValueAttribute("msid", "mediaport echo")
			md.WithValueAttribute("ssrc", fmt.Sprintf("%d cname:%s", p.ssrc, p.cname))
		}
		md.WithValueAttribute("candidate", "1 1 udp 2130706431 "+p.candidate+" typ host")
		md.WithPropertyAttribute("end-of-candidates")
		sd.WithMedia(md)
	}
	if len(accepted) == 0 {
		return "", nil, fmt.Errorf("%w: no audio (Opus or PCMU) or data channel to accept", errOffer)
	}
	if len(bundle) > 0 {
		sd.Attributes = append([]sdp.Attribute{sdp.NewAttribute("group", "BUNDLE "+strings.Join(bundle, " "))}, sd.Attributes...)
	}
	b, err := sd.Marshal()
	if err != nil {
		return "", nil, err
	}
	return string(b), accepted, nil
}
