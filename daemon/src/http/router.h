// Router: maps (method, path pattern) to a handler.
//
// Patterns are literal segments and `{name}` parameters that match one non-empty
// segment: "/v1/jobs/{id}/events". A path that matches a pattern under another
// method gets 405 with an Allow header; no match at all gets 404. Every route has
// a short name used as the `route` label of the HTTP metrics (so that label's
// cardinality stays bounded whatever clients send).
//
// Thread-safety: add() before the server starts; match() from any thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "http/message.h"

namespace ream::http {

using Handler = std::function<Response(Request&)>;

enum class Access {
  kPublic,  // no key needed, even beyond loopback (/healthz)
  kRead,    // any valid key
  kSubmit,  // keys with role submit or admin
  kAdmin,   // keys with role admin
};

struct Route {
  std::string method;
  std::string pattern;
  std::string name;     // metrics label
  Access access = Access::kRead;
  Handler handler;
  std::vector<std::string> segments;  // pattern split on '/'
  // Never blocks and costs microseconds: runs on the I/O thread, so it answers even while
  // every handler thread is busy (/healthz).
  bool cheap = false;
};

struct Match {
  const Route* route = nullptr;      // null: see allow
  std::string allow;                 // "GET, DELETE" when only the method was wrong
};

class Router {
 public:
  void add(std::string method, std::string pattern, std::string name, Access access,
           Handler handler, bool cheap = false);
  // Fills request.params on a match.
  Match match(Request& request) const;

 private:
  std::vector<Route> routes_;
};

}  // namespace ream::http
