package turn

import (
	"encoding/binary"
	"errors"
)

// ChannelData framing (RFC 8656 §12.4): a 2-byte channel number, a 2-byte
// length, the data, and over stream transports padding to a multiple of 4.
const (
	// MinChannel and MaxChannel bound the channel numbers a client may bind.
	MinChannel = 0x4000
	MaxChannel = 0x4FFF
	// ChannelDataHeader is the size of the ChannelData header.
	ChannelDataHeader = 4
)

// ChannelData errors.
var (
	ErrChannel     = errors.New("turn: channel number outside 0x4000–0x4FFF")
	ErrChannelData = errors.New("turn: malformed ChannelData")
	ErrTooLong     = errors.New("turn: ChannelData payload over 65535 bytes")
	ErrIncomplete  = errors.New("turn: incomplete ChannelData")
)

// AppendChannelData appends a ChannelData message to b, padded to 4 bytes
// when stream is true. It does not allocate when b has room.
func AppendChannelData(b []byte, channel uint16, data []byte, stream bool) ([]byte, error) {
	if channel < MinChannel || channel > MaxChannel {
		return b, ErrChannel
	}
	if len(data) > 0xFFFF {
		return b, ErrTooLong
	}
	b = binary.BigEndian.AppendUint16(b, channel)
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	b = append(b, data...)
	if stream {
		for i := len(data); i%4 != 0; i++ {
			b = append(b, 0)
		}
	}
	return b, nil
}

// ParseChannelData parses the ChannelData message at the start of b. The
// channel is any number with the top bits 01 (0x4000–0x7FFF, what tells
// ChannelData from STUN on the wire; the caller drops channels it has not
// bound, reserved ones included), else ErrChannel. On a datagram (stream
// false) the message is the whole of b: the length field must fit, and at
// most 3 bytes of padding may follow (ErrChannelData). On a stream the
// message is padded to 4 bytes and may be followed by more; n is the bytes
// it takes (ErrIncomplete when b holds less). data aliases b. It never
// allocates.
func ParseChannelData(b []byte, stream bool) (channel uint16, data []byte, n int, err error) {
	if len(b) < ChannelDataHeader {
		if stream {
			return 0, nil, 0, ErrIncomplete
		}
		return 0, nil, 0, ErrChannelData
	}
	channel = binary.BigEndian.Uint16(b[0:2])
	if channel < MinChannel || channel > 0x7FFF {
		return 0, nil, 0, ErrChannel
	}
	l := int(binary.BigEndian.Uint16(b[2:4]))
	end := ChannelDataHeader + l
	if stream {
		n = ChannelDataHeader + (l+3)&^3
		if len(b) < n {
			return 0, nil, 0, ErrIncomplete
		}
		return channel, b[ChannelDataHeader:end], n, nil
	}
	if end > len(b) || len(b)-end > 3 {
		return 0, nil, 0, ErrChannelData
	}
	return channel, b[ChannelDataHeader:end], len(b), nil
}
