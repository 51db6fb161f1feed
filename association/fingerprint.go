package association

import (
	"crypto"
	"crypto/sha1" //nolint:gosec // RFC 8122 lists SHA-1 for a=fingerprint
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"strings"

	"github.com/mediaport/mediaport"
)

// The hash functions of RFC 8122 §5 an a=fingerprint line may name, by
// their SDP names (compared case-insensitively). MD2 and MD5, which RFC
// 8122 forbids, and any other name are unknown.
var fingerprintHashes = [...]struct {
	name string
	hash crypto.Hash
}{
	{"sha-1", crypto.SHA1},
	{"sha-224", crypto.SHA224},
	{"sha-256", crypto.SHA256},
	{"sha-384", crypto.SHA384},
	{"sha-512", crypto.SHA512},
}

// fingerprint is one usable a=fingerprint line: a known hash and its
// digest.
type fingerprint struct {
	hash   crypto.Hash
	digest []byte
}

// digest hashes der with h (one of fingerprintHashes).
func digest(h crypto.Hash, der []byte) []byte {
	switch h {
	case crypto.SHA1:
		s := sha1.Sum(der) //nolint:gosec // RFC 8122
		return s[:]
	case crypto.SHA224:
		s := sha256.Sum224(der)
		return s[:]
	case crypto.SHA256:
		s := sha256.Sum256(der)
		return s[:]
	case crypto.SHA384:
		s := sha512.Sum384(der)
		return s[:]
	case crypto.SHA512:
		s := sha512.Sum512(der)
		return s[:]
	}
	return nil
}

// hashByName returns the hash an SDP hash name stands for.
func hashByName(name string) (crypto.Hash, bool) {
	for _, h := range fingerprintHashes {
		if strings.EqualFold(name, h.name) {
			return h.hash, true
		}
	}
	return 0, false
}

// Fingerprint returns the SHA-256 fingerprint of a DER certificate in SDP
// a=fingerprint form: "sha-256 " and the upper-case hex bytes joined by
// colons. It is FingerprintHash(der, "sha-256").
func Fingerprint(der []byte) string {
	fp, _ := FingerprintHash(der, "sha-256")
	return fp
}

// FingerprintHash returns the fingerprint of a DER certificate with the
// named hash function of RFC 8122 (sha-1, sha-224, sha-256, sha-384,
// sha-512; the name is case-insensitive) in SDP a=fingerprint form: the
// lower-case hash name, a space, and the upper-case hex bytes joined by
// colons. Another name returns an error matching
// mediaport.ErrInvalidArgument.
func FingerprintHash(der []byte, hash string) (string, error) {
	h, ok := hashByName(hash)
	if !ok {
		return "", fmt.Errorf("association: %w: unknown fingerprint hash %q", mediaport.ErrInvalidArgument, hash)
	}
	const hexdigits = "0123456789ABCDEF"
	sum := digest(h, der)
	b := make([]byte, 0, len(hash)+1+3*len(sum))
	b = append(b, strings.ToLower(hash)...)
	b = append(b, ' ')
	for i, x := range sum {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexdigits[x>>4], hexdigits[x&15])
	}
	return string(b), nil
}

// parseFingerprint parses an a=fingerprint line of RFC 8122 §5 — the hash
// name, white space, the digest as hex bytes (either case) joined by
// colons — optionally prefixed "a=fingerprint:". A line of that form whose
// hash name is unknown returns known false and no error. A line that is
// not of that form, or whose digest does not fit its known hash, is an
// error matching mediaport.ErrInvalidArgument.
func parseFingerprint(line string) (fp fingerprint, known bool, err error) {
	s := strings.TrimSpace(line)
	if len(s) >= len("a=fingerprint:") && strings.EqualFold(s[:len("a=fingerprint:")], "a=fingerprint:") {
		s = s[len("a=fingerprint:"):]
	}
	name, value, ok := strings.Cut(s, " ")
	value = strings.TrimSpace(value)
	if !ok || name == "" || value == "" || strings.ContainsAny(name, "\t\r\n") {
		return fingerprint{}, false, fmt.Errorf("association: %w: fingerprint %q: want \"hash AB:CD:…\"", mediaport.ErrInvalidArgument, line)
	}
	h, ok := hashByName(name)
	if !ok {
		return fingerprint{}, false, nil
	}
	d, ok := parseHexBytes(value)
	if !ok || len(d) != h.Size() {
		return fingerprint{}, false, fmt.Errorf("association: %w: fingerprint %q: want %d hex bytes joined by colons for %s",
			mediaport.ErrInvalidArgument, line, h.Size(), strings.ToLower(name))
	}
	return fingerprint{hash: h, digest: d}, true, nil
}

// parseHexBytes parses "AB:cd:…": pairs of hex digits of either case
// joined by single colons.
func parseHexBytes(s string) ([]byte, bool) {
	if (len(s)+1)%3 != 0 {
		return nil, false
	}
	out := make([]byte, 0, (len(s)+1)/3)
	for i := 0; i < len(s); i += 3 {
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 || (i+2 < len(s) && s[i+2] != ':') {
			return nil, false
		}
		out = append(out, hi<<4|lo)
	}
	return out, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseFingerprints parses the lines of Config.PeerFingerprints into the
// usable ones. A malformed line fails; lines naming an unknown hash are
// skipped, and if every line does, it fails with ErrNoUsableFingerprint.
// No lines return nil and no error.
func parseFingerprints(lines []string) ([]fingerprint, error) {
	if len(lines) == 0 {
		return nil, nil
	}
	var usable []fingerprint
	for _, l := range lines {
		fp, known, err := parseFingerprint(l)
		if err != nil {
			return nil, err
		}
		if known {
			usable = append(usable, fp)
		}
	}
	if len(usable) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrNoUsableFingerprint, lines)
	}
	return usable, nil
}

// matchFingerprint reports whether the DER certificate matches one of
// fps, hashing it once per hash function used.
func matchFingerprint(der []byte, fps []fingerprint) bool {
	var sums [len(fingerprintHashes)][]byte
	for _, fp := range fps {
		i := 0
		for fingerprintHashes[i].hash != fp.hash {
			i++
		}
		if sums[i] == nil {
			sums[i] = digest(fp.hash, der)
		}
		if string(sums[i]) == string(fp.digest) {
			return true
		}
	}
	return false
}
