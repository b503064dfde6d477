// Package mcp is lockd's MCP facade: a Model Context Protocol server whose
// tools let an agent take leases, read and stage state, query, attach
// files, use queues and run multi-key transactions on a lockd cluster. It
// is a client of the lockd HTTP API through package sdk, so it works
// against a local node or a remote cluster alike. `lockd mcp` serves it
// over streamable HTTP (with OAuth 2.1, package oauth) or stdio.
//
// Guarantees:
//   - Every tool has JSON-schema'd input and output. A failure is a tool
//     error (isError) whose text is JSON: the lockd error code, the
//     server's detail and a sentence on what to do next (ToolError).
//   - Leases belong to the MCP session that took them. They get no
//     background keepalive: a lease the agent stops renewing expires at its
//     TTL on the server. When the session ends (the client disconnects, the
//     HTTP session idles out, stdin closes, the facade stops) its leases are
//     rolled back (nothing staged is committed), its unsettled queue
//     deliveries are nacked for redelivery and its transfers are aborted.
//   - Payloads larger than the inline limit never pass through memory
//     whole: downloads are read in bounded chunks (download_read) from the
//     open lockd response, uploads are written in chunks (upload_write)
//     into the request lockd is reading. Memory is bounded by the chunk
//     size, whatever the payload's size.
//   - With OAuth, a client's namespace claims bound what its tools touch:
//     every namespace a call names is checked (read, write or both, as
//     lockd's own mTLS claims are) before anything is sent to lockd.
package mcp
