// Workflow expressions: the `${{ ... }}` language of `with`, `when`, `foreach` and
// `outputs` (flow/expr.h).
//
// Each input is parsed twice: as the text between `${{` and `}}` (Expr) and as a string
// that may hold such parts (Template). What parses is evaluated against a context shaped
// like a running job's (inputs, step outputs and statuses, a foreach item, the job), and
// its references listed, as the workflow validator does. A parse error is fine, with a
// message of bounded length (a long expression is quoted around the error, not whole), and
// so is an evaluation refused for the size of a value it builds (toJSON nested deep); an
// escaping exception, a crash, a hang (deep nesting) or unbounded memory is not.
#include "flow/expr.h"
#include "fuzz_util.h"

namespace {

using nlohmann::json;

const json& context() {
  static const json* ctx = new json{
      {"inputs", {{"documents", {"/srv/a.txt", "/srv/b.md"}}, {"max_words", 200}, {"focus", ""},
                  {"questions", {"Who are the parties?", "What is the term?"}}, {"strict", true}}},
      {"steps", {{"extract", {{"status", "succeeded"},
                              {"outputs", {{"findings", json::array({{{"category", "Term"}, {"score", 0.5}}})},
                                           {"count", 1}, {"text", "two years"}}}}},
                 {"review", {{"status", "skipped"}, {"outputs", json::object()}}}}},
      {"item", {{"path", "/srv/a.txt"}, {"index", 0}, {"tags", {"x", "y"}}}},
      {"job", {{"id", 42}, {"workflow", "legal_review"}}}};
  return *ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ream;
  const std::string text(fuzz::bytes(data, size));
  auto bounded = [](const Status& st) {
    fuzz::check(!st.message().empty(), "a refusal without a message");
    fuzz::check(st.message().size() < 512, "a message that quotes too much of the expression");
  };
  if (auto e = flow::Expr::parse(text); e.ok()) {
    if (auto v = e->eval(context()); v.ok()) {
      (void)flow::truthy(*v);
      (void)flow::stringify(*v);
    } else {
      bounded(v.status());
    }
    (void)e->references();
  } else {
    bounded(e.status());
  }
  if (auto t = flow::Template::parse(text); t.ok()) {
    if (auto v = t->eval(context()); v.ok()) {
      (void)flow::stringify(*v);
    } else {
      bounded(v.status());
    }
    (void)t->references();
  } else {
    bounded(t.status());
  }
  return 0;
}
