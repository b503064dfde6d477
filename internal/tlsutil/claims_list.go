package tlsutil

// ClaimsOf builds the Claims that a list of claims grants, as ParseClaims
// does for a certificate: permissions on one namespace add up, and ALL
// applies where a namespace has no claim of its own.
func ClaimsOf(list ...Claim) Claims {
	var c Claims
	for _, cl := range list {
		c.add(cl)
	}
	return c
}
