package association

import "encoding/binary"

// DTLS record content types (RFC 6347) an association accepts.
const (
	ctChangeCipherSpec = 20
	ctAlert            = 21
	ctHandshake        = 22
	ctApplicationData  = 23
)

// ValidRecords reports whether datagram is a sequence of whole DTLS 1.0 or
// 1.2 records of the four content types a DTLS 1.2 association uses, as
// RFC 6347 §4.1 frames them: each a 13-byte header (type, version, epoch,
// sequence number, length) and exactly length bytes, with nothing left
// over. It reads only the headers and never allocates.
func ValidRecords(datagram []byte) bool {
	if len(datagram) == 0 {
		return false
	}
	for b := datagram; len(b) > 0; {
		if len(b) < 13 {
			return false
		}
		if b[0] < ctChangeCipherSpec || b[0] > ctApplicationData {
			return false
		}
		if v := binary.BigEndian.Uint16(b[1:3]); v != 0xfefd && v != 0xfeff {
			return false
		}
		n := int(binary.BigEndian.Uint16(b[11:13]))
		if n > len(b)-13 {
			return false
		}
		b = b[13+n:]
	}
	return true
}

// acceptableEstablished reports whether an established DTLS 1.2
// association (epoch 1, no renegotiation) can take the records of a
// datagram that ValidRecords accepted: epoch 1 records, and epoch 0
// handshake and ChangeCipherSpec records (the peer retransmitting its last
// flight; a ChangeCipherSpec must be well formed). An alert or application
// data in epoch 0 is unauthenticated, and
// pion/dtls would act on such an alert and end the association; a later
// epoch cannot occur without renegotiation.
func acceptableEstablished(datagram []byte) bool {
	for b := datagram; len(b) >= 13; {
		epoch := binary.BigEndian.Uint16(b[3:5])
		switch {
		case epoch > 1:
			return false
		case epoch == 0 && b[0] != ctHandshake && b[0] != ctChangeCipherSpec:
			return false
		case b[0] == ctChangeCipherSpec && (b[11] != 0 || b[12] != 1 || b[13] != 1):
			return false // a ChangeCipherSpec is the single byte 1
		}
		b = b[13+int(binary.BigEndian.Uint16(b[11:13])):]
	}
	return true
}

// onlyApplicationData reports whether every record of a datagram that
// ValidRecords accepted is application data.
func onlyApplicationData(datagram []byte) bool {
	for b := datagram; len(b) >= 13; b = b[13+int(binary.BigEndian.Uint16(b[11:13])):] {
		if b[0] != ctApplicationData {
			return false
		}
	}
	return len(datagram) > 0
}

// forRead reports whether a datagram that ValidRecords accepted holds a
// record that pion may hand to Read: application data, or an alert
// (Read returns a warning alert as an error).
func forRead(datagram []byte) bool {
	for b := datagram; len(b) >= 13; b = b[13+int(binary.BigEndian.Uint16(b[11:13])):] {
		if b[0] == ctApplicationData || b[0] == ctAlert {
			return true
		}
	}
	return false
}
