package token

// Confirmation is the `cnf` claim (RFC 7800) of a sender-constrained token:
// the thumbprint of the client certificate it is bound to (RFC 8705) or of
// the DPoP proof key (RFC 9449).
type Confirmation struct {
	// X5TS256 is the base64url SHA-256 thumbprint of the DER certificate.
	X5TS256 string `json:"x5t#S256,omitempty"`
	// JKT is the base64url SHA-256 JWK thumbprint (RFC 7638) of the proof key.
	JKT string `json:"jkt,omitempty"`
}
