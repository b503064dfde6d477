// Package oauth is the local OAuth 2.1 authorization server of the MCP
// facade, and the bearer-token verifier of its HTTP transport.
//
// There are no end users: the principal is a confidential client that an
// operator registered with `lockd mcp admin create` (package state keeps
// it, encrypted). A client proves itself with its secret at the token
// endpoint (client_secret_basic or client_secret_post) and gets an access
// token by either grant:
//   - client_credentials, for agents and services;
//   - authorization_code with PKCE (S256 only), for desktop agents that
//     speak the MCP authorization flow. /authorize approves a registered
//     client at once and redirects to one of its registered redirect URIs
//     (exact match): the code is useless without the client's secret and
//     the PKCE verifier, so there is nothing for a person to consent to.
//
// Guarantees:
//   - Access tokens are JWTs (HS256, key in the encrypted state) naming
//     the issuer, the client (sub), the audience (the MCP resource URL, RFC
//     8707 resource indicators), the expiry and the client's secret
//     generation. Verify refuses a token that is expired, for another
//     audience or issuer, badly signed, of a revoked or unknown client, or
//     issued before the client's last secret rotation. Client state is read
//     at every verification, so revocation takes effect at the next
//     request, also when another process (lockd mcp admin) revoked.
//   - Authorization codes live in memory for a minute, are bound to the
//     client, redirect URI, PKCE challenge and resource, and are single use.
//   - Discovery: RFC 8414 authorization server metadata and RFC 9728
//     protected resource metadata; a refused request carries a
//     WWW-Authenticate challenge naming the resource metadata.
//   - The namespaces a token's client may touch are its claims (Principal);
//     the facade checks them on every tool call.
package oauth
