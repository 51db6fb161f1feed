package stun

import (
	"bytes"
	"fmt"

	"github.com/pion/stun/v3"

	"github.com/mediaport/mediaport"
)

// AuthType is the kind of credential (pj_stun_auth_type).
type AuthType int

const (
	// AuthNone disables authentication.
	AuthNone AuthType = iota
	// AuthShortTerm: USERNAME + MESSAGE-INTEGRITY keyed by the password
	// (ICE, RFC 5389 §10.1).
	AuthShortTerm
	// AuthLongTerm: REALM + NONCE challenge, key MD5(username:realm:password)
	// (RFC 5389 §10.2, TURN).
	AuthLongTerm
)

// Credential is a session's credential (pj_stun_auth_cred): static fields,
// or callbacks for dynamic credentials (a callback set makes that part
// dynamic).
type Credential struct {
	// Realm: the server's realm (long-term); ignored by clients, which
	// learn it from the 401.
	Realm string
	// Username sent by a client, expected by a server with a static
	// credential.
	Username string
	// Password: the password, or with Hashed the long-term key itself.
	Password []byte
	Hashed   bool
	// Nonce: a server's static nonce (long-term). Empty: any nonce the
	// server issued is accepted (the server issues Nonce, or a fixed one).
	Nonce string

	// GetAuth returns, for a long-term server, the realm and nonce to put
	// in a 401 or 438.
	GetAuth func() (realm, nonce string)
	// GetCred returns a client's username and password for a request.
	GetCred func() (username string, password []byte, err error)
	// GetPassword returns a server's password for username (and realm,
	// long-term); an error answers 401. The slices are valid only during
	// the call.
	GetPassword func(msg *stun.Message, realm, username []byte) ([]byte, error)
	// VerifyNonce reports whether a long-term server accepts nonce; false
	// answers 438. The slices are valid only during the call.
	VerifyNonce func(msg *stun.Message, realm, username, nonce []byte) bool
}

// SetCredential sets the session's credential (pj_stun_session_set_credential):
// from then on requests carry the credential and incoming requests are
// authenticated. A nil cred (or AuthNone) disables authentication. The
// session keeps a copy of Password, which it zeroes when the credential is
// replaced and when the session is destroyed; what the callbacks return
// stays the caller's.
func (s *Session) SetCredential(typ AuthType, cred *Credential) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.lock.Unlock()
	if typ != AuthNone && typ != AuthShortTerm && typ != AuthLongTerm {
		return fmt.Errorf("stun: %w: auth type %d", mediaport.ErrInvalidArgument, typ)
	}
	s.wipeCredLocked()
	if cred == nil || typ == AuthNone {
		s.authType = AuthNone
		return nil
	}
	c := *cred
	c.Password = bytes.Clone(cred.Password) // zeroed when replaced or destroyed
	s.authType, s.cred = typ, &c
	s.realm, s.nonce = "", ""
	return nil
}

// serverRealmNonce returns what a long-term server puts in a challenge.
func (s *Session) serverRealmNonce() (string, string) {
	if s.cred.GetAuth != nil {
		return s.cred.GetAuth()
	}
	nonce := s.cred.Nonce
	if nonce == "" {
		nonce = "mediaport-nonce"
	}
	return s.cred.Realm, nonce
}

// clientCred returns the username and integrity key for an outgoing
// request, or ok=false when the request goes unauthenticated (no
// credential, or long-term before the first challenge).
func (s *Session) clientCred() (username string, key []byte, ok bool, err error) {
	if s.cred == nil {
		return "", nil, false, nil
	}
	if s.authType == AuthLongTerm && (s.realm == "" || s.nonce == "") {
		return "", nil, false, nil
	}
	username, password := s.cred.Username, s.cred.Password
	if s.cred.GetCred != nil {
		if username, password, err = s.cred.GetCred(); err != nil {
			return "", nil, false, err
		}
	}
	if s.authType == AuthShortTerm || s.cred.Hashed {
		// A copy: the session's is zeroed when the credential changes,
		// and the request's response is checked with this one.
		return username, bytes.Clone(password), true, nil
	}
	return username, LongTermKey(username, s.realm, string(password)), true, nil
}

// authResult is the outcome of authenticating a request.
type authResult struct {
	code         int    // 0: accepted
	key          []byte // integrity key of the request
	realm, nonce string // for a long-term 401 or 438
}

// authenticate checks an incoming request against the credential
// (docs/conformance.md, pjnath 15): no MESSAGE-INTEGRITY → 401 (long-term, with
// REALM and NONCE) or 400; integrity without USERNAME → 400; long-term
// without REALM or NONCE → 400; unknown user, wrong realm or HMAC → 401;
// stale nonce → 438.
func (s *Session) authenticate(m *stun.Message) authResult {
	lt := s.authType == AuthLongTerm
	challenge := func(code int) authResult {
		r := authResult{code: code}
		if lt {
			r.realm, r.nonce = s.serverRealmNonce()
		}
		return r
	}
	if !m.Contains(stun.AttrMessageIntegrity) {
		if lt {
			return challenge(401)
		}
		return authResult{code: 400}
	}
	username, err := m.Get(stun.AttrUsername)
	if err != nil {
		return authResult{code: 400}
	}
	var realm, nonce []byte
	if lt {
		var err1, err2 error
		realm, err1 = m.Get(stun.AttrRealm)
		nonce, err2 = m.Get(stun.AttrNonce)
		if err1 != nil || err2 != nil {
			return authResult{code: 400}
		}
		if wantRealm, _ := s.serverRealmNonce(); string(realm) != wantRealm {
			return challenge(401)
		}
	}
	var password []byte
	switch {
	case s.cred.GetPassword != nil:
		if password, err = s.cred.GetPassword(m, realm, username); err != nil {
			return challenge(401)
		}
	case string(username) == s.cred.Username:
		password = s.cred.Password
	default:
		return challenge(401)
	}
	if lt {
		ok := true
		switch {
		case s.cred.VerifyNonce != nil:
			ok = s.cred.VerifyNonce(m, realm, username, nonce)
		default:
			_, want := s.serverRealmNonce()
			ok = string(nonce) == want
		}
		if !ok {
			return challenge(438)
		}
	}
	key := password
	if lt && !s.cred.Hashed {
		key = LongTermKey(string(username), string(realm), string(password))
	}
	if !checkIntegrity(m.Raw, key) {
		return challenge(401)
	}
	return authResult{key: key}
}
