#pragma once
// Which request and response headers cross the edge, and how. The edge is a transparent hop:
// every end-to-end header (the tracer's identity and accounting headers, Datadog-Meta-*, the
// Agent's Datadog-Agent-Version / -State, ...) passes unchanged, in order and with its spelling;
// hop-by-hop headers (RFC 9110 §7.6.1 and those named in Connection) stay on their hop, and
// framing (Content-Length / Transfer-Encoding) is recomputed for the next hop.

#include <string_view>

#include <boost/beast/http/fields.hpp>

namespace llmobs_edge::http {

// Connection, Keep-Alive, Proxy-Connection, Proxy-Authenticate, Proxy-Authorization, TE, Trailer,
// Transfer-Encoding, Upgrade, or any header the message's Connection header names.
bool IsHopByHop(const boost::beast::http::fields& message, std::string_view name);

// Copies the end-to-end headers of `from` into `to` (appended, order and spelling kept).
// Content-Length is dropped too when `drop_content_length` (the body is about to change), and
// `Expect` is always dropped (the edge answers 100-continue itself).
void CopyEndToEndHeaders(const boost::beast::http::fields& from, boost::beast::http::fields* to,
                         bool drop_content_length);

// Removes the hop-by-hop headers (and Expect) from `message` in place, keeping Content-Length
// and the chunked framing the parser saw (the relaying serializer re-emits it).
void StripHopByHop(boost::beast::http::fields* message);

}  // namespace llmobs_edge::http
