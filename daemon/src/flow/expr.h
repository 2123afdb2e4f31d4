// Workflow expressions: the `${{ ... }}` language of `with`, `when`, `foreach` and
// `outputs`, in the spirit of GitHub Actions expressions.
//
//   literals     'text' (a '' inside is a quote), 12, 1.5, true, false, null
//   references   inputs.name, steps.<id>.outputs.<name>, steps.<id>.status, item,
//                item.field, job.id; a[0] and a['key'] index lists and objects
//   operators    ! (not), == != < <= > >= (numbers; strings compare case-sensitively),
//                && || (yield one of their operands, as in JavaScript), ( )
//   functions    length(x), contains(list_or_string, x), join(list, sep), toJSON(x)
//
// A missing property evaluates to null. Values are JSON values.
//
// Nesting is limited to kMaxExprDepth levels, so that parsing, evaluating and
// freeing an expression stay within the stack: each '(', '!', index, member,
// call and binary operator counts one level (a chain `a || b || c` is as deep
// as it is long). A deeper expression is refused at the column where it goes
// past the limit.
//
// A value an expression builds is at most kMaxExprValueBytes: toJSON escapes what it
// is given, so toJSON(toJSON(...)) doubles a string at each level (six times for
// control characters), and join(list, join(list, sep)) multiplies; an evaluation that
// goes past the cap is an error that names the call and its column, not a process out
// of memory.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "ream/engine/status.h"

namespace ream::flow {

struct ExprNode;

inline constexpr int kMaxExprDepth = 256;
inline constexpr size_t kMaxExprValueBytes = size_t{16} << 20;

// A reference path such as {"steps", "a", "outputs", "x"}, as written.
using RefPath = std::vector<std::string>;

class Expr {
 public:
  // Parses the text between `${{` and `}}`. Errors say what was expected where.
  // On an error, *error_at (when given) is the offset in `text` where it was found.
  static Result<Expr> parse(const std::string& text, size_t* error_at = nullptr);
  // The expression's value; an error when a value it builds passes kMaxExprValueBytes.
  Result<nlohmann::json> eval(const nlohmann::json& context) const;
  // Every reference, longest static prefix (stops at a computed index).
  std::vector<RefPath> references() const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::shared_ptr<const ExprNode> root_;
};

// A string that may contain `${{ ... }}` parts. A string that is exactly one
// expression evaluates to the expression's value (any JSON type); otherwise the
// parts are stringified and concatenated.
class Template {
 public:
  static Result<Template> parse(const std::string& text);
  bool is_literal() const { return exprs_.empty(); }
  Result<nlohmann::json> eval(const nlohmann::json& context) const;
  std::vector<RefPath> references() const;

 private:
  std::vector<std::string> literals_;  // literals_.size() == exprs_.size() + 1
  std::vector<Expr> exprs_;
  bool whole_ = false;
};

// Truthiness: false, null, 0, "" and NaN are false; everything else is true.
bool truthy(const nlohmann::json& value);
// How a value is written into a string: strings as is, null as "", others as JSON.
std::string stringify(const nlohmann::json& value);

// At most about `width` bytes of `text` around byte `at`, cut at character boundaries,
// with "…" where it was cut, always valid UTF-8: how an error message quotes text
// that may be long (a 100 KB expression).
std::string excerpt(std::string_view text, size_t at = 0, size_t width = 64);

}  // namespace ream::flow
