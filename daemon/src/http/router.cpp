// Router: pattern matching with path parameters.
#include "http/router.h"

#include <map>

namespace ream::http {

namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool match_segments(const Route& route, const std::vector<std::string>& segs,
                    std::map<std::string, std::string>* params) {
  if (route.segments.size() != segs.size()) return false;
  std::map<std::string, std::string> found;
  for (size_t i = 0; i < segs.size(); ++i) {
    const std::string& p = route.segments[i];
    if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      found[p.substr(1, p.size() - 2)] = segs[i];
    } else if (p != segs[i]) {
      return false;
    }
  }
  *params = std::move(found);
  return true;
}

}  // namespace

void Router::add(std::string method, std::string pattern, std::string name, Access access,
                 Handler handler, bool cheap) {
  Route r;
  r.cheap = cheap;
  r.segments = split_path(pattern);
  r.method = std::move(method);
  r.pattern = std::move(pattern);
  r.name = std::move(name);
  r.access = access;
  r.handler = std::move(handler);
  routes_.push_back(std::move(r));
}

Match Router::match(Request& request) const {
  Match m;
  auto segs = split_path(request.path);
  std::map<std::string, std::string> params;
  for (const Route& r : routes_) {
    if (!match_segments(r, segs, &params)) continue;
    bool head_ok = request.method == "HEAD" && r.method == "GET";
    if (r.method == request.method || head_ok) {
      request.params = std::move(params);
      m.route = &r;
      m.allow.clear();
      return m;
    }
    if (m.allow.find(r.method) == std::string::npos) {
      m.allow += m.allow.empty() ? r.method : ", " + r.method;
    }
  }
  return m;
}

}  // namespace ream::http
