// Units of the HTTP layer: router, API-key auth, metrics text format, multipart,
// SSE framing, URL decoding, connection and stream limits.
#include <gtest/gtest.h>
#include <openssl/rand.h>

#include <random>

#include "http/auth.h"
#include "http/errors.h"
#include "http/limits.h"
#include "http/multipart.h"
#include "http/router.h"
#include "http/server.h"
#include "http/sse.h"
#include "metrics/metrics.h"
#include "ream/common/sha256.h"

namespace ream::http {
namespace {

std::string random_token() {
  unsigned char b[24];
  RAND_bytes(b, sizeof b);
  std::string s;
  for (unsigned char c : b) s += "0123456789abcdef"[c & 15];
  return s;
}

TEST(Router, PathParamsMethodsAnd404) {
  Router r;
  r.add("GET", "/v1/jobs/{id}", "job", Access::kRead, [](Request& q) {
    Response res;
    res.body = q.params["id"];
    return res;
  });
  r.add("DELETE", "/v1/jobs/{id}", "job_delete", Access::kSubmit, nullptr);
  r.add("GET", "/v1/jobs/{id}/events", "job_events", Access::kRead, nullptr);
  Request q;
  q.method = "GET";
  q.path = "/v1/jobs/42";
  Match m = r.match(q);
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->name, "job");
  EXPECT_EQ(q.params["id"], "42");
  q.path = "/v1/jobs/42/events/";
  EXPECT_EQ(r.match(q).route->name, "job_events");
  q.method = "PUT";
  q.path = "/v1/jobs/7";
  m = r.match(q);
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allow, "GET, DELETE");
  q.path = "/v1/nothing";
  m = r.match(q);
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.allow.empty());
}

TEST(Auth, HashedKeysRolesAndPolicy) {
  std::string admin = random_token(), reader = random_token();
  std::vector<ApiKey> keys = {
      {"ops", parse_key_digest(sha256_hex(admin)).value(), Role::kAdmin},
      {"dash", parse_key_digest("sha256:" + sha256_hex(reader)).value(), Role::kRead}};
  Authenticator required(keys, true);
  using O = Authenticator::Outcome;
  EXPECT_EQ(required.check("", Access::kRead).outcome, O::kMissing);
  EXPECT_EQ(required.check("", Access::kPublic).outcome, O::kAllowed);
  EXPECT_EQ(required.check("Basic " + admin, Access::kRead).outcome, O::kMissing);
  EXPECT_EQ(required.check("Bearer " + admin + "x", Access::kRead).outcome, O::kInvalid);
  auto d = required.check("Bearer " + admin, Access::kAdmin);
  EXPECT_EQ(d.outcome, O::kAllowed);
  EXPECT_EQ(d.principal, "ops");
  EXPECT_EQ(required.check("bearer " + reader, Access::kRead).outcome, O::kAllowed);
  EXPECT_EQ(required.check("Bearer " + reader, Access::kSubmit).outcome, O::kForbidden);
  Authenticator open(keys, false);
  EXPECT_EQ(open.check("", Access::kAdmin).outcome, O::kAllowed);
  EXPECT_FALSE(parse_key_digest("abc").ok());
  // The digest is SHA-256 as everyone computes it (FIPS 180-4 test vector "abc").
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Loopback, Hosts) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.0.0.2"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("::"));
  EXPECT_FALSE(is_loopback_host("10.1.2.3"));
}

TEST(Metrics, PrometheusTextFormat) {
  metrics::Registry reg;
  auto& c = reg.counter("reamd_test_total", "A counter.", {"route", "code"});
  auto& g = reg.gauge("reamd_test_depth", "A gauge.");
  auto& h = reg.histogram("reamd_test_seconds", "A histogram.", {"step"}, {0.1, 1});
  std::mt19937 rng(std::random_device{}());
  int n = 1 + static_cast<int>(rng() % 50);
  for (int i = 0; i < n; ++i) c.add({"jobs", "202"});
  c.add({"say \"hi\"\n", "500"});
  reg.on_scrape([&] { g.set({}, n * 2); });
  h.observe({"ask"}, 0.05);
  h.observe({"ask"}, 0.5);
  h.observe({"ask"}, 5);
  std::string text = reg.render();
  EXPECT_NE(text.find("# TYPE reamd_test_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("reamd_test_total{route=\"jobs\",code=\"202\"} " + std::to_string(n) + "\n"),
            std::string::npos);
  EXPECT_NE(text.find("reamd_test_total{route=\"say \\\"hi\\\"\\n\",code=\"500\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("reamd_test_depth " + std::to_string(n * 2) + "\n"), std::string::npos);
  EXPECT_NE(text.find("reamd_test_seconds_bucket{step=\"ask\",le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("reamd_test_seconds_bucket{step=\"ask\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("reamd_test_seconds_bucket{step=\"ask\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("reamd_test_seconds_count{step=\"ask\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("reamd_test_seconds_sum{step=\"ask\"} 5.55\n"), std::string::npos);
}

TEST(Multipart, CurlShapedBody) {
  std::string payload = random_token() + "\r\nline two --not-a-boundary\r\n";
  std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a b.md\"\r\n"
      "Content-Type: text/markdown\r\n\r\n" + payload + "\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XyZ--\r\n";
  auto parts = parse_multipart("multipart/form-data; boundary=XyZ", body);
  ASSERT_TRUE(parts.ok()) << parts.status().message();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "file");
  EXPECT_EQ((*parts)[0].filename, "a b.md");
  EXPECT_EQ((*parts)[0].content_type, "text/markdown");
  EXPECT_EQ((*parts)[0].data, payload);
  EXPECT_EQ((*parts)[1].data, "hello");
  EXPECT_FALSE(parse_multipart("multipart/form-data", body).ok());
  EXPECT_FALSE(parse_multipart("multipart/form-data; boundary=XyZ", body.substr(0, 60)).ok());
}

TEST(Sse, FramingAndQueue) {
  EXPECT_EQ(format_sse(7, "step", "a\nb"), "id: 7\nevent: step\ndata: a\ndata: b\n\n");
  EXPECT_EQ(format_sse(0, "", "{}"), "data: {}\n\n");
  QueueStream q;
  int woken = 0, closed = 0;
  q.set_waker([&] { ++woken; });
  q.on_close([&] { ++closed; });
  q.push("x");
  q.push("y");
  auto c = q.poll();
  EXPECT_EQ(c.data, "xy");
  EXPECT_FALSE(c.done);
  q.finish();
  EXPECT_TRUE(q.poll().done);
  EXPECT_EQ(woken, 3);
  q.close();
  q.close();
  EXPECT_EQ(closed, 1);
}

TEST(Url, DecodeAndQuery) {
  std::string out;
  EXPECT_TRUE(url_decode("/v1/a%20b", false, &out));
  EXPECT_EQ(out, "/v1/a b");
  EXPECT_FALSE(url_decode("%4", false, &out));
  EXPECT_FALSE(url_decode("%zz", false, &out));
  auto q = parse_query("status=queued&limit=5&w=long+qa&bad=%&x");
  EXPECT_EQ(q["status"], "queued");
  EXPECT_EQ(q["w"], "long qa");
  EXPECT_EQ(q.count("bad"), 0u);
  EXPECT_EQ(q["x"], "");
}

}  // namespace
}  // namespace ream::http

namespace ream::http {
namespace {

// A deferred response completes once; the client leaving first runs on_close and records
// the exchange as 499; a later completion is then dropped.
TEST(Deferred, CompleteOnceOrCloseFirst) {
  DeferredResponse d;
  int woken = 0, closed = 0;
  std::vector<unsigned> recorded;
  d.set_waker([&] { ++woken; });
  d.on_close([&] { ++closed; });
  d.on_complete([&](unsigned status) { recorded.push_back(status); });
  EXPECT_FALSE(d.take().has_value());
  Response r;
  r.status = 201;
  r.body = "first";
  d.complete(r);
  r.body = "second";
  d.complete(r);
  auto got = d.take();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->body, "first");
  EXPECT_FALSE(d.take().has_value()) << "taken once";
  d.close();
  EXPECT_EQ(woken, 1);
  EXPECT_EQ(closed, 0) << "closing after completion cancels nothing";
  EXPECT_EQ(recorded, std::vector<unsigned>{201});

  DeferredResponse gone;
  std::vector<unsigned> gone_recorded;
  int gone_closed = 0;
  gone.on_complete([&](unsigned status) { gone_recorded.push_back(status); });
  gone.on_close([&] { ++gone_closed; });
  gone.close();
  gone.complete(Response{});
  EXPECT_EQ(gone_closed, 1);
  EXPECT_EQ(gone_recorded, std::vector<unsigned>{DeferredResponse::kClientClosedRequest});
  DeferredResponse early;  // the client left before the work was wired up
  early.close();
  int late = 0;
  early.on_close([&] { ++late; });
  EXPECT_EQ(late, 1) << "on_close after the client left runs at once";
}

// Errors carry OpenAI's keys besides reamd's code and field.
TEST(Errors, OpenAIShapeWithReamdCodeAndField) {
  auto body = nlohmann::json::parse(json_error(400, "invalid_request", "bad", "temperature").body);
  EXPECT_EQ(body["error"]["message"], "bad");
  EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  EXPECT_EQ(body["error"]["param"], "temperature");
  EXPECT_EQ(body["error"]["field"], "temperature");
  EXPECT_EQ(body["error"]["code"], "invalid_request");
  auto none = nlohmann::json::parse(json_error(401, "unauthenticated", "no key").body);
  EXPECT_EQ(none["error"]["param"], nullptr);
  EXPECT_FALSE(none["error"].contains("field"));
  EXPECT_EQ(none["error"]["type"], "authentication_error");
  EXPECT_EQ(nlohmann::json::parse(json_error(503, "draining", "x").body)["error"]["type"], "server_error");
  EXPECT_EQ(nlohmann::json::parse(json_error(429, "queue_full", "x").body)["error"]["type"], "rate_limit_error");
}


TEST(Limits, FullPlacesPerClientThenProbePlacesWithEviction) {
  Limits limits({/*max_connections=*/3, /*max_per_client=*/2, /*probe_connections=*/2, /*max_streams=*/1});
  std::vector<int> evicted;
  auto admit = [&](const std::string& client, int tag) {
    return limits.admit(client, [&evicted, tag] { evicted.push_back(tag); });
  };
  Limits::Admission a1 = admit("10.0.0.1", 1), a2 = admit("10.0.0.1", 2);
  EXPECT_EQ(a1.place, Limits::Place::kFull);
  EXPECT_EQ(a2.place, Limits::Place::kFull);
  Limits::Admission a3 = admit("10.0.0.1", 3);  // this client's cap
  EXPECT_EQ(a3.place, Limits::Place::kProbe);
  EXPECT_EQ(a3.limit, "http.max_connections_per_client");
  EXPECT_NE(a3.message.find("10.0.0.1"), std::string::npos) << a3.message;
  Limits::Admission b1 = admit("10.0.0.2", 4);  // another client: the last full place
  EXPECT_EQ(b1.place, Limits::Place::kFull);
  Limits::Admission b2 = admit("10.0.0.2", 5);  // all places: the global cap
  EXPECT_EQ(b2.place, Limits::Place::kProbe);
  EXPECT_EQ(b2.limit, "http.max_connections");
  EXPECT_EQ(limits.full_connections(), 3);
  EXPECT_EQ(limits.probe_connections(), 2);
  // Probe places full: the oldest still waiting for its head is evicted for the new one.
  Limits::Admission c1 = admit("10.0.0.3", 6);
  EXPECT_EQ(c1.place, Limits::Place::kProbe);
  EXPECT_EQ(evicted, std::vector<int>{3});
  // A probe whose head arrived gives its place back at once (the session drops its ticket
  // before answering): the next probe takes it without evicting anyone, however long the
  // answer takes to be written.
  b2.ticket = {};
  EXPECT_EQ(limits.probe_connections(), 1);
  Limits::Admission c2 = admit("10.0.0.3", 7);
  EXPECT_EQ(c2.place, Limits::Place::kProbe);
  EXPECT_EQ(c2.limit, "http.max_connections");
  EXPECT_EQ(evicted, std::vector<int>{3});
  // The evicted ticket gives back nothing twice; a closed full place is free again.
  { Limits::Admission gone = std::move(a3); }
  EXPECT_EQ(limits.probe_connections(), 2);
  { Limits::Admission gone = std::move(a1); }
  EXPECT_EQ(limits.full_connections(), 2);
  EXPECT_EQ(admit("10.0.0.1", 8).place, Limits::Place::kFull);  // and released at once
  EXPECT_EQ(limits.full_connections(), 2);
  { Limits::Admission gone = std::move(c1); }
  EXPECT_EQ(limits.probe_connections(), 1);
}

// No probe places: past the caps a connection is refused outright.
TEST(Limits, NoProbePlacesRefusesPastTheCaps) {
  Limits limits({/*max_connections=*/1, /*max_per_client=*/0, /*probe_connections=*/0, /*max_streams=*/1});
  int evicted = 0;
  Limits::Admission a = limits.admit("10.0.0.1", [&] { ++evicted; });
  EXPECT_EQ(a.place, Limits::Place::kFull);
  Limits::Admission b = limits.admit("10.0.0.2", [&] { ++evicted; });
  EXPECT_EQ(b.place, Limits::Place::kRefused);
  EXPECT_EQ(b.limit, "http.max_connections");
  EXPECT_EQ(evicted, 0);
  EXPECT_EQ(limits.probe_connections(), 0);
}

TEST(Limits, PerClientCapZeroMeansNoneAndStreamSlotsComeBack) {
  Limits limits({/*max_connections=*/100, /*max_per_client=*/0, /*probe_connections=*/0, /*max_streams=*/2});
  std::vector<Limits::Admission> held;
  for (int i = 0; i < 100; ++i) held.push_back(limits.admit("::1", [] {}));
  for (const auto& a : held) EXPECT_EQ(a.place, Limits::Place::kFull);
  Limits::Admission over = limits.admit("::1", [] {});
  EXPECT_EQ(over.place, Limits::Place::kRefused) << "no probe places configured";
  auto s1 = limits.try_stream(), s2 = limits.try_stream();
  ASSERT_TRUE(s1 && s2);
  EXPECT_EQ(limits.try_stream(), nullptr);
  EXPECT_EQ(limits.streams(), 2);
  s1.reset();
  EXPECT_NE(limits.try_stream(), nullptr);
  EXPECT_EQ(limits.streams(), 1);
}

}  // namespace
}  // namespace ream::http
