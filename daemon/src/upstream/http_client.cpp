// HttpCall over Boost.Beast's synchronous client; SseReader.
#include "upstream/http_client.h"

#include <sys/socket.h>

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>

namespace ream::upstream {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string parse_endpoint(const std::string& url, Endpoint* out) {
  const bool tls = url.rfind("https://", 0) == 0;
  const std::string scheme = tls ? "https://" : "http://";
  if (url.rfind(scheme, 0) != 0) return "'" + url + "' is not an http:// or https:// URL";
  std::string rest = url.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.pop_back();
  // A base URL ending in /v1 (as OpenAI clients take it) names the same server: routes
  // are sent with their /v1 already.
  if (path.size() >= 3 && path.compare(path.size() - 3, 3, "/v1") == 0) path.resize(path.size() - 3);
  Endpoint e;
  e.tls = tls;
  e.port = tls ? 443 : 80;
  std::string port;
  if (!hostport.empty() && hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string::npos) return "'" + url + "': unclosed [ in the host";
    e.host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') return "'" + url + "': expected :PORT after the host";
      port = hostport.substr(close + 2);
    }
  } else {
    size_t colon = hostport.rfind(':');
    e.host = hostport.substr(0, colon);
    if (colon != std::string::npos) port = hostport.substr(colon + 1);
  }
  if (e.host.empty()) return "'" + url + "' names no host";
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535 ||
        std::stoi(port) == 0) {
      return "'" + url + "': '" + port + "' is not a port number";
    }
    e.port = static_cast<uint16_t>(std::stoi(port));
  }
  e.base_path = path;
  *out = e;
  return "";
}

namespace {

std::chrono::steady_clock::duration secs(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

HttpOutcome fail(HttpOutcome::Stage stage, const std::string& what, unsigned status = 0) {
  HttpOutcome o;
  o.stage = stage;
  o.error = what;
  o.status = status;
  return o;
}

}  // namespace

void HttpCall::cancel() {
  cancelled_ = true;
  std::lock_guard lock(mu_);
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

namespace {

// The request and the response over a connected (and, for https, handshaken) stream.
template <class Stream>
HttpOutcome exchange_on(Stream& stream, const Endpoint& endpoint, const std::string& where, const HttpCallOptions& options,
                        const std::atomic<bool>& cancelled, const std::string& method, const std::string& target,
                        const std::string& body, const std::map<std::string, std::string>& headers,
                        const std::function<void(unsigned)>& on_head,
                        const std::function<bool(std::string_view)>& on_data) {
  beast::error_code ec;
  auto& tcp_layer = beast::get_lowest_layer(stream);
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), endpoint.base_path + target, 11};
  req.set(bhttp::field::host, endpoint.host + ":" + std::to_string(endpoint.port));
  req.set(bhttp::field::user_agent, "reamd-upstream");
  for (const auto& [name, value] : headers) req.set(name, value);
  if (!body.empty() || method == "POST") {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
  }
  tcp_layer.expires_after(secs(options.io_timeout_s));
  bhttp::write(stream, req, ec);
  if (cancelled) return fail(HttpOutcome::Stage::kCancelled, "cancelled");
  if (ec) return fail(HttpOutcome::Stage::kSend, "sending to " + where + ": " + ec.message());

  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(std::uint64_t{1} << 40);  // streams are long; health bodies are capped by the caller
  tcp_layer.expires_after(secs(options.io_timeout_s));
  bhttp::read_header(stream, buffer, parser, ec);
  if (cancelled) return fail(HttpOutcome::Stage::kCancelled, "cancelled");
  if (ec) {
    // A connection closed or reset before any byte of the response: the upstream died or
    // dropped the request before working on it.
    if (ec == beast::error::timeout) {
      return fail(HttpOutcome::Stage::kHead, where + " sent no response within " +
                                                 std::to_string(options.io_timeout_s) + " s");
    }
    return fail(HttpOutcome::Stage::kSend, where + " closed the connection before answering: " + ec.message());
  }
  const unsigned status = parser.get().result_int();
  if (on_head) on_head(status);
  char chunk[16384];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    tcp_layer.expires_after(secs(options.io_timeout_s));
    bhttp::read(stream, buffer, parser, ec);
    if (ec == bhttp::error::need_buffer) ec = {};
    const size_t n = sizeof chunk - parser.get().body().size;
    if (n > 0 && on_data && !on_data(std::string_view(chunk, n))) {
      return fail(HttpOutcome::Stage::kOk, "", status);
    }
    if (cancelled) return fail(HttpOutcome::Stage::kCancelled, "cancelled", status);
    if (ec) {
      const std::string why = ec == beast::error::timeout
                                  ? "silent for " + std::to_string(options.io_timeout_s) + " s"
                                  : ec == bhttp::error::partial_message || ec == asio::error::eof ||
                                            ec == asio::ssl::error::stream_truncated
                                        ? "closed the connection mid-response"
                                        : ec.message();
      return fail(HttpOutcome::Stage::kBody, where + " " + why, status);
    }
  }
  HttpOutcome ok;
  ok.status = status;
  return ok;
}

bool is_ip_literal(const std::string& host) {
  beast::error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

HttpOutcome HttpCall::perform(const std::string& method, const std::string& target, const std::string& body,
                              const std::map<std::string, std::string>& headers,
                              const std::function<void(unsigned)>& on_head,
                              const std::function<bool(std::string_view)>& on_data) {
  const std::string where = endpoint_.host + ":" + std::to_string(endpoint_.port);
  asio::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto addrs = resolver.resolve(endpoint_.host, std::to_string(endpoint_.port), ec);
  if (ec) return fail(HttpOutcome::Stage::kConnect, "cannot resolve " + endpoint_.host + ": " + ec.message());
  stream.expires_after(secs(options_.connect_timeout_s));
  stream.connect(addrs, ec);
  if (ec) {
    const std::string why = ec == beast::error::timeout ? "no connection within " +
                                                              std::to_string(options_.connect_timeout_s) + " s"
                                                        : ec.message();
    return fail(HttpOutcome::Stage::kConnect, "cannot connect to " + where + ": " + why);
  }
  {
    std::lock_guard lock(mu_);
    fd_ = stream.socket().native_handle();
  }
  struct Forget {
    HttpCall* self;
    ~Forget() {
      std::lock_guard lock(self->mu_);
      self->fd_ = -1;
    }
  } forget{this};
  if (cancelled_) return fail(HttpOutcome::Stage::kCancelled, "cancelled");
  if (!endpoint_.tls) {
    HttpOutcome out =
        exchange_on(stream, endpoint_, where, options_, cancelled_, method, target, body, headers, on_head, on_data);
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return out;
  }

  // https: the server's certificate must chain to ca_file (or the system's CAs) and name
  // the host; the handshake has the connect deadline. Nothing is sent before it succeeds.
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  if (endpoint_.ca_file.empty()) {
    ctx.set_default_verify_paths(ec);
  } else {
    ctx.load_verify_file(endpoint_.ca_file, ec);
  }
  if (ec) {
    return fail(HttpOutcome::Stage::kConnect,
                "cannot load the CA certificates " +
                    (endpoint_.ca_file.empty() ? std::string("of the system") : "from " + endpoint_.ca_file) + ": " +
                    ec.message());
  }
  ctx.set_verify_mode(asio::ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), ctx);
  tls.set_verify_callback(asio::ssl::host_name_verification(endpoint_.host));
  if (!is_ip_literal(endpoint_.host)) SSL_set_tlsext_host_name(tls.native_handle(), endpoint_.host.c_str());
  beast::get_lowest_layer(tls).expires_after(secs(options_.connect_timeout_s));
  tls.handshake(asio::ssl::stream_base::client, ec);
  if (cancelled_) return fail(HttpOutcome::Stage::kCancelled, "cancelled");
  if (ec) {
    std::string why = ec == beast::error::timeout ? "no TLS handshake within " +
                                                        std::to_string(options_.connect_timeout_s) + " s"
                                                  : ec.message();
    const long verify = SSL_get_verify_result(tls.native_handle());
    if (verify != X509_V_OK) why += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
    return fail(HttpOutcome::Stage::kConnect, "TLS handshake with " + where + " failed: " + why);
  }
  HttpOutcome out =
      exchange_on(tls, endpoint_, where, options_, cancelled_, method, target, body, headers, on_head, on_data);
  // The connection just closes: the response is whole (or the call failed), and a TLS
  // shutdown would wait for the peer's close_notify. Servers take that as a truncated stream.
  beast::get_lowest_layer(tls).socket().shutdown(tcp::socket::shutdown_both, ec);
  return out;
}

HttpOutcome http_fetch(const Endpoint& endpoint, const std::string& method, const std::string& target,
                       const std::string& body, const std::map<std::string, std::string>& headers,
                       HttpCallOptions options, std::string* response_body) {
  HttpCall call(endpoint, options);
  response_body->clear();
  return call.perform(method, target, body, headers, nullptr, [&](std::string_view piece) {
    response_body->append(piece);
    return response_body->size() < (8u << 20);  // health and model lists are small
  });
}

bool SseReader::feed(std::string_view bytes, const std::function<bool(const std::string&)>& on_event) {
  for (char c : bytes) {
    if (c != '\n') {
      line_ += c;
      continue;
    }
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    if (line_.empty()) {
      // A blank line ends the event.
      if (has_data_) {
        std::string data = std::move(data_);
        data_.clear();
        has_data_ = false;
        if (!on_event(data)) return false;
      }
    } else if (line_.rfind("data:", 0) == 0) {
      std::string_view v = std::string_view(line_).substr(5);
      if (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      if (has_data_) data_ += '\n';
      data_.append(v);
      has_data_ = true;
    }
    line_.clear();
  }
  return true;
}

}  // namespace ream::upstream
