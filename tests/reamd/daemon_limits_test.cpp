// reamd's connection and stream limits (issue 14, item 5), against the real daemon over
// real sockets with small limits set in each test's config: the header deadline applies to
// every request of a keep-alive connection (a drip after a first request is cut off) while
// an idle keep-alive connection waits its idle deadline; the connection after the last a
// client may hold is refused with 503, Retry-After and the limit's name; the stream after
// http.max_streams likewise; a stream ends at its maximum lifetime with its notice and its
// engine requests cancelled; /healthz and /readyz answer all along. The only timing
// bounds are generous ones ("closed within N s" where N is many times the deadline).
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "daemon_harness.h"

namespace ream::testing {
namespace {

using nlohmann::json;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// One client connection on loopback, kept open across requests.
class Conn {
 public:
  explicit Conn(uint16_t port) : sock_(ioc_) {
    beast::error_code ec;
    sock_.connect({net::ip::make_address("127.0.0.1"), port}, ec);
    connected_ = !ec;
    timeval tv{30, 0};
    setsockopt(sock_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  bool connected() const { return connected_; }

  // Sends raw bytes; false once the server has closed the connection.
  bool send(const std::string& bytes) {
    beast::error_code ec;
    net::write(sock_, net::buffer(bytes), ec);
    return !ec;
  }

  // One keep-alive request and its whole response (status 0 when none came).
  HttpResult request(const std::string& method, const std::string& target, const std::string& body = "") {
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    beast::error_code ec;
    bhttp::write(sock_, req, ec);
    return ec ? HttpResult{} : read_response();
  }

  HttpResult read_response() {
    HttpResult out;
    bhttp::response_parser<bhttp::string_body> p;
    beast::error_code ec;
    bhttp::read(sock_, buf_, p, ec);
    if (ec) return out;
    out.status = p.get().result_int();
    for (const auto& f : p.get()) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(f.value());
    }
    out.body = p.get().body();
    return out;
  }

  // Reads until `needle` has arrived (true) or the connection ends or 30 s pass (false).
  bool read_until(const std::string& needle) {
    while (raw_.find(needle) == std::string::npos) {
      char b[4096];
      const ssize_t n = recv(sock_.native_handle(), b, sizeof b, 0);
      if (n <= 0) return false;
      raw_.append(b, static_cast<size_t>(n));
    }
    return true;
  }
  // Reads until the server closes the connection; false if it is still open after `bound_s`.
  bool closed_within(double bound_s) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(bound_s);
    timeval tv{0, 100000};
    setsockopt(sock_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (Clock::now() < deadline) {
      char b[4096];
      const ssize_t n = recv(sock_.native_handle(), b, sizeof b, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return true;
      if (n > 0) raw_.append(b, static_cast<size_t>(n));
    }
    return false;
  }
  const std::string& raw() const { return raw_; }
  void close() {
    beast::error_code ec;
    sock_.shutdown(tcp::socket::shutdown_both, ec);
    sock_.close(ec);
  }

 private:
  net::io_context ioc_;
  tcp::socket sock_;
  beast::flat_buffer buf_;
  std::string raw_;
  bool connected_ = false;
};

// A 503 of a reached limit: Retry-After, code overloaded, error.limit and the message name it.
void expect_limit_error(const HttpResult& r, const std::string& limit, const std::string& value) {
  EXPECT_EQ(r.status, 503u) << r.body;
  EXPECT_TRUE(r.headers.count("retry-after")) << r.body;
  if (r.headers.count("retry-after")) EXPECT_GE(std::stoi(r.headers.at("retry-after")), 1);
  json j = r.json();
  ASSERT_TRUE(j.is_object() && j.contains("error")) << r.body;
  EXPECT_EQ(j["error"]["code"], "overloaded") << r.body;
  EXPECT_EQ(j["error"]["limit"], limit) << r.body;
  EXPECT_NE(j["error"]["message"].get<std::string>().find(limit + " = " + value), std::string::npos) << r.body;
}

std::string chat_stream_body(int max_tokens) {
  return json{{"messages", {{{"role", "user"}, {"content", "Count the rivers."}}}},
              {"stream", true},
              {"max_tokens", max_tokens},
              {"ignore_eos", true}}
      .dump();
}

std::string post_head(const std::string& target, const std::string& body) {
  return "POST " + target + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

double metric_in(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}
double metric(const Daemon& d, const std::string& series) { return metric_in(d.get("/metrics").body, series); }

bool eventually(const std::function<bool()>& ok, double bound_s = 30) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(bound_s);
  while (Clock::now() < deadline) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ok();
}

TEST(DaemonLimits, HeaderDeadlineAppliesToEveryRequestOfAKeepAliveConnection) {
  TempDir tmp;
  Daemon d(tmp.path() + "/data", "http:\n  header_timeout_s: 1\n  idle_timeout_s: 120\n");
  ASSERT_TRUE(d.start()) << d.log();

  // Idle between requests is not a slow header: a connection quiet for longer than the
  // header deadline is still served.
  Conn idle(d.port());
  ASSERT_EQ(idle.request("GET", "/healthz").status, 200u);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(idle.request("GET", "/v1/workflows").status, 200u) << "an idle keep-alive connection waits idle_timeout_s";

  // A drip after a first complete request: cut off at the header deadline (1 s), long
  // before the idle deadline (120 s).
  Conn drip(d.port());
  ASSERT_EQ(drip.request("GET", "/healthz").status, 200u);
  ASSERT_TRUE(drip.send("GET /v1/jobs HTTP/1.1\r\nHost: x\r\nX-Drip: "));
  const auto t0 = Clock::now();
  bool cut = false;
  while (!cut && Clock::now() - t0 < std::chrono::seconds(20)) {
    if (!drip.send("a")) cut = true;
    EXPECT_EQ(d.get("/healthz").status, 200u);
    cut = cut || drip.closed_within(0.3);
  }
  EXPECT_TRUE(cut) << "a partial header after a keep-alive request must be cut off at header_timeout_s";

  // A drip as a connection's first request, the same.
  Conn first(d.port());
  ASSERT_TRUE(first.send("GET /v1/jobs HTTP/1.1\r\nHost: x\r\n"));
  EXPECT_TRUE(first.closed_within(20));
  EXPECT_EQ(d.get("/healthz").status, 200u);
}

TEST(DaemonLimits, PerClientConnectionCapRefusesTheNextAndHealthStillAnswers) {
  TempDir tmp;
  Daemon d(tmp.path() + "/data",
           "http:\n  max_connections_per_client: 4\n  probe_connections: 2\n  idle_timeout_s: 120\n"
           "  header_timeout_s: 30\n  retry_after_s: 7\n");
  ASSERT_TRUE(d.start()) << d.log();

  std::vector<std::unique_ptr<Conn>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<Conn>(d.port()));
    ASSERT_EQ(held.back()->request("GET", "/v1/workflows").status, 200u) << "connection " << i;
  }
  // The fifth from this address: only health is answered, anything else is a 503.
  Conn fifth(d.port());
  HttpResult r = fifth.request("GET", "/v1/workflows");
  expect_limit_error(r, "http.max_connections_per_client", "4");
  EXPECT_EQ(r.headers["retry-after"], "7");
  EXPECT_TRUE(fifth.closed_within(10)) << "a refused connection is closed";

  // Drip sockets past the cap take the probe places (2) and push each other out; health
  // probes still get through, on fresh connections, again and again.
  std::vector<std::unique_ptr<Conn>> drips;
  for (int i = 0; i < 6; ++i) {
    drips.push_back(std::make_unique<Conn>(d.port()));
    drips.back()->send("GET /v1/jobs HTTP/1.1\r\nHost: x\r\nX-Drip: a");
  }
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(d.get("/healthz").status, 200u) << i;
    HttpResult ready = d.get("/readyz");
    EXPECT_EQ(ready.status, 200u) << i << ready.body;
  }
  int evicted = 0;
  for (auto& c : drips) evicted += c->closed_within(0.2) ? 1 : 0;
  EXPECT_GE(evicted, 4) << "drips past the probe places are evicted for newer connections";
  // (A fresh connection would only be answered for health: ask on a held one.)
  EXPECT_GE(metric_in(held[1]->request("GET", "/metrics").body,
                      "reamd_http_connections_rejected_total{limit=\"http.max_connections_per_client\"}"),
            1);

  // The held connections still work; once one closes, a new connection gets its place.
  EXPECT_EQ(held[0]->request("GET", "/v1/plugins").status, 200u);
  held[3]->close();
  EXPECT_TRUE(eventually([&] { return d.get("/v1/workflows").status == 200; }));
}

TEST(DaemonLimits, StreamsOverTheCapAre503sAndHealthAnswers) {
  TempDir tmp;
  Daemon d(tmp.path() + "/data", "http:\n  max_streams: 2\n");
  ASSERT_TRUE(d.start()) << d.log();
  // A finished job, whose event stream ends by itself.
  auto job = d.post("/v1/jobs", {{"workflow", "summarize"},
                                 {"inputs", {{"documents", json::array({{{"text", "alpha beta gamma. delta."}}})},
                                             {"max_tokens", 4}}}});
  ASSERT_EQ(job.status, 202u) << job.body << d.log();
  const int64_t id = job.json()["id"];
  ASSERT_TRUE(wait_job(d, id).is_object());
  const std::string events = "/v1/jobs/" + std::to_string(id) + "/events";
  EXPECT_EQ(d.get(events).status, 200u);

  // Two chat streams that would run for a long time hold both slots.
  std::vector<std::unique_ptr<Conn>> streams;
  for (int i = 0; i < 2; ++i) {
    streams.push_back(std::make_unique<Conn>(d.port()));
    ASSERT_TRUE(streams.back()->send(post_head("/v1/chat/completions", chat_stream_body(200000))));
    ASSERT_TRUE(streams.back()->read_until("data: ")) << streams.back()->raw();
  }
  EXPECT_EQ(metric(d, "reamd_http_streams"), 2);
  Conn third(d.port());
  HttpResult r = third.request("POST", "/v1/chat/completions", chat_stream_body(16));
  expect_limit_error(r, "http.max_streams", "2");
  expect_limit_error(d.get(events), "http.max_streams", "2");
  EXPECT_EQ(d.get("/healthz").status, 200u);
  EXPECT_EQ(d.get("/readyz").status, 200u);
  EXPECT_EQ(d.get("/v1/jobs/" + std::to_string(id)).status, 200u) << "requests that do not stream are served";
  EXPECT_GE(metric(d, "reamd_http_streams_refused_total"), 2);

  // A client that leaves gives its slot back.
  streams[0]->close();
  EXPECT_TRUE(eventually([&] { return d.get(events).status == 200; }));
  streams[1]->close();
  EXPECT_TRUE(eventually([&] { return metric(d, "reamd_engine_requests_running") == 0; }))
      << "streams that were refused or left have no engine request";
}

TEST(DaemonLimits, AStreamEndsAtItsMaximumLifetime) {
  TempDir tmp;
  Daemon d(tmp.path() + "/data", "http:\n  max_stream_lifetime_s: 1.5\n");
  ASSERT_TRUE(d.start()) << d.log();
  Conn chat(d.port());
  ASSERT_TRUE(chat.send(post_head("/v1/chat/completions", chat_stream_body(200000))));
  ASSERT_TRUE(chat.read_until("data: ")) << chat.raw();
  EXPECT_TRUE(chat.closed_within(30)) << "the stream is cut at http.max_stream_lifetime_s";
  // OpenAI's shape for an error after the head, then the end of the stream.
  EXPECT_NE(chat.raw().find("\"code\":\"stream_expired\""), std::string::npos) << chat.raw().substr(0, 2000);
  EXPECT_NE(chat.raw().find("http.max_stream_lifetime_s"), std::string::npos);
  EXPECT_NE(chat.raw().find("data: [DONE]"), std::string::npos);
  EXPECT_NE(chat.raw().find("\r\n0\r\n\r\n"), std::string::npos) << "the chunked body is ended, not cut";
  EXPECT_TRUE(eventually([&] { return metric(d, "reamd_engine_requests_running") == 0; }))
      << "the expired stream's engine request is cancelled";
  EXPECT_GE(metric(d, "reamd_http_streams_expired_total"), 1);
  EXPECT_EQ(metric(d, "reamd_http_streams"), 0);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct YamlSetting {
  std::string section, key, value;  // value: up to a space, '#' or '[' ("" for lists)
};

// The `  key: value` settings of etc/reamd.yaml (whose values are the embedded defaults).
std::vector<YamlSetting> reamd_yaml_settings() {
  const std::string yaml = read_file(std::string(REAM_SOURCE_DIR) + "/etc/reamd.yaml");
  const std::regex section(R"(^([a-z_]+):\s*(#.*)?$)"), entry(R"(^  ([a-z_]+): ?([^ #\[]*))");
  std::vector<YamlSetting> out;
  std::string current;
  std::istringstream in(yaml);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, section)) current = m[1];
    else if (std::regex_search(line, m, entry)) out.push_back({current, m[1], m[2]});
  }
  return out;
}

// docs/operations.md's limits table lists every http, documents and queue setting of
// etc/reamd.yaml with the same default.
TEST(DaemonLimitsDocs, TheLimitsTableListsEverySettingWithItsDefault) {
  const std::string doc = read_file(std::string(REAM_SOURCE_DIR) + "/docs/operations.md");
  int checked = 0;
  for (const YamlSetting& s : reamd_yaml_settings()) {
    if ((s.section != "http" && s.section != "documents" && s.section != "queue") || s.value.empty()) continue;
    const std::string row = "| `" + s.section + "." + s.key + "` | " + s.value;
    EXPECT_NE(doc.find(row), std::string::npos) << row;
    ++checked;
  }
  EXPECT_GE(checked, 20);
}

// Every engine option etc/reamd.yaml lists is named in docs/operations.md's paragraph
// on the engine's options (engine.* settings that are limits are in the table above too).
TEST(DaemonLimitsDocs, EveryEngineSettingOfReamdYamlIsDocumented) {
  const std::string doc = read_file(std::string(REAM_SOURCE_DIR) + "/docs/operations.md");
  int checked = 0;
  for (const YamlSetting& s : reamd_yaml_settings()) {
    if (s.section != "engine") continue;
    EXPECT_NE(doc.find("`" + s.key + "`"), std::string::npos) << "engine." << s.key;
    ++checked;
  }
  EXPECT_GE(checked, 14);
}

}  // namespace
}  // namespace ream::testing
