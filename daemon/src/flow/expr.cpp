// Workflow expressions: tokenizer, recursive-descent parser and evaluator.
#include "flow/expr.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

#include "ream/common/utf8.h"

namespace ream::flow {

using nlohmann::json;

struct ExprNode {
  enum Kind { kLiteral, kName, kMember, kIndex, kNot, kBinary, kCall } kind;
  json value;                                   // kLiteral
  std::string name;                             // kName, kMember, kBinary op, kCall
  std::vector<std::shared_ptr<const ExprNode>> kids;
  int depth = 0;  // levels below this node (0 for a leaf); at most kMaxExprDepth
  size_t at = 0;  // where it starts in the expression's text (a call: its name)
};

namespace {

using NodePtr = std::shared_ptr<const ExprNode>;

struct ParseError : std::runtime_error {
  ParseError(const std::string& what, size_t at) : std::runtime_error(what), at(at) {}
  size_t at;
};

// Thrown inside one evaluation and caught by Expr::eval, which turns it into a Status.
struct EvalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::shared_ptr<ExprNode> make(ExprNode::Kind kind, std::string name = {}, std::vector<NodePtr> kids = {},
                               json value = nullptr) {
  auto n = std::make_shared<ExprNode>();
  n->kind = kind;
  n->name = std::move(name);
  n->kids = std::move(kids);
  n->value = std::move(value);
  for (const NodePtr& k : n->kids) n->depth = std::max(n->depth, k->depth + 1);
  return n;
}

std::string too_deep() {
  return "expression nested deeper than " + std::to_string(kMaxExprDepth) + " levels";
}

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}

  NodePtr parse() {
    skip();
    if (pos_ >= s_.size()) fail("empty expression");
    NodePtr n = parse_or();
    skip();
    if (pos_ < s_.size()) fail("unexpected " + char_here());
    return n;
  }

 private:
  // One level of the parser's own recursion ('(', '[', a call's arguments, '!'),
  // refused at `at` past kMaxExprDepth before it recurses: the recursion, the
  // evaluation and the destruction of the tree all go as deep as the nesting.
  class Nested {
   public:
    Nested(Parser& p, size_t at) : p_(p) {
      if (p_.nesting_ >= kMaxExprDepth) p_.fail_at(at, too_deep());
      ++p_.nesting_;
    }
    ~Nested() { --p_.nesting_; }
    Nested(const Nested&) = delete;
    Nested& operator=(const Nested&) = delete;

   private:
    Parser& p_;
  };

  [[noreturn]] void fail_at(size_t at, const std::string& what) {
    throw ParseError(what + " at column " + std::to_string(at + 1), at);
  }
  [[noreturn]] void fail(const std::string& what) { fail_at(pos_, what); }
  // The character at pos_, quoted: a whole UTF-8 sequence, or a byte that starts none
  // as U+FFFD, so that the message stays valid UTF-8.
  std::string char_here() const {
    const size_t len = std::max<size_t>(1, utf8::sequence_length(s_, pos_));
    std::string out = "'";  // appended, not `"'" + ...`: GCC 12 warns falsely (-Wrestrict) on that
    out += utf8::repair(std::string_view(s_).substr(pos_, len));
    out += '\'';
    return out;
  }
  // A node of the operator at `at`; refused there when the tree would grow deeper
  // than kMaxExprDepth (chains: a.b.c, a[0][1], a || b || c).
  NodePtr node(size_t at, ExprNode::Kind kind, std::string name, std::vector<NodePtr> kids) {
    std::shared_ptr<ExprNode> n = make(kind, std::move(name), std::move(kids));
    if (n->depth > kMaxExprDepth) fail_at(at, too_deep());
    n->at = at;
    return n;
  }
  void skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool eat(const char* op) {
    skip();
    size_t n = std::char_traits<char>::length(op);
    if (s_.compare(pos_, n, op) == 0) {
      pos_ += n;
      return true;
    }
    return false;
  }
  // eat, with the operator's position in *at.
  bool eat_at(const char* op, size_t* at) {
    skip();
    *at = pos_;
    return eat(op);
  }

  NodePtr parse_or() {
    NodePtr left = parse_and();
    for (size_t at; eat_at("||", &at);) left = node(at, ExprNode::kBinary, "||", {left, parse_and()});
    return left;
  }
  NodePtr parse_and() {
    NodePtr left = parse_cmp();
    for (size_t at; eat_at("&&", &at);) left = node(at, ExprNode::kBinary, "&&", {left, parse_cmp()});
    return left;
  }
  NodePtr parse_cmp() {
    NodePtr left = parse_unary();
    for (const char* op : {"==", "!=", "<=", ">=", "<", ">"}) {
      size_t at;
      if (eat_at(op, &at)) return node(at, ExprNode::kBinary, op, {left, parse_unary()});
    }
    return left;
  }
  NodePtr parse_unary() {
    skip();
    if (pos_ < s_.size() && s_[pos_] == '!' && s_.compare(pos_, 2, "!=") != 0) {
      const size_t at = pos_++;
      Nested nested(*this, at);
      return node(at, ExprNode::kNot, "", {parse_unary()});
    }
    return parse_postfix();
  }
  NodePtr parse_postfix() {
    NodePtr n = parse_primary();
    for (size_t at;;) {
      if (eat_at(".", &at)) {
        std::string name = ident();
        if (name.empty()) fail("expected a name after '.'");
        n = node(at, ExprNode::kMember, name, {n});
      } else if (eat_at("[", &at)) {
        NodePtr index;
        {
          Nested nested(*this, at);
          index = parse_or();
        }
        if (!eat("]")) fail("expected ']'");
        n = node(at, ExprNode::kIndex, "", {n, index});
      } else {
        return n;
      }
    }
  }
  std::string ident() {
    skip();
    size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) ||
                                s_[pos_] == '_' || s_[pos_] == '-')) {
      ++pos_;
    }
    return s_.substr(start, pos_ - start);
  }
  NodePtr parse_primary() {
    skip();
    if (pos_ >= s_.size()) fail("unexpected end of expression");
    char c = s_[pos_];
    if (c == '(') {
      Nested nested(*this, pos_);
      ++pos_;
      NodePtr n = parse_or();
      if (!eat(")")) fail("expected ')'");
      return n;
    }
    if (c == '\'') return make(ExprNode::kLiteral, "", {}, string_literal());
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '-') return number();
    if (!std::isalpha(static_cast<unsigned char>(c)) && c != '_') {
      fail("unexpected " + char_here());
    }
    const size_t start = pos_;
    std::string name = ident();
    if (name == "true") return make(ExprNode::kLiteral, "", {}, true);
    if (name == "false") return make(ExprNode::kLiteral, "", {}, false);
    if (name == "null") return make(ExprNode::kLiteral, "", {}, nullptr);
    if (size_t at; eat_at("(", &at)) return call(name, start, at);
    return make(ExprNode::kName, name);
  }
  json string_literal() {
    std::string out;
    ++pos_;
    for (;;) {
      if (pos_ >= s_.size()) fail("unterminated string");
      char c = s_[pos_++];
      if (c == '\'') {
        if (pos_ < s_.size() && s_[pos_] == '\'') {
          out += '\'';
          ++pos_;
          continue;
        }
        return out;
      }
      out += c;
    }
  }
  NodePtr number() {
    size_t start = pos_;
    if (s_[pos_] == '-') ++pos_;
    while (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.')) {
      ++pos_;
    }
    std::string text = s_.substr(start, pos_ - start);
    json v = json::parse(text, nullptr, false);
    if (v.is_discarded() || !v.is_number()) {
      pos_ = start;
      fail("bad number '" + excerpt(text) + "'");
    }
    return make(ExprNode::kLiteral, "", {}, v);
  }
  // A call of `name` (which starts at `start`), its '(' at `at` (already eaten).
  NodePtr call(const std::string& name, size_t start, size_t at) {
    static const std::vector<std::pair<std::string, size_t>> kFunctions = {
        {"length", 1}, {"contains", 2}, {"join", 2}, {"toJSON", 1}};
    size_t arity = 0;
    for (const auto& [fn, n] : kFunctions) {
      if (fn == name) arity = n;
    }
    if (arity == 0) fail("unknown function '" + excerpt(name) + "' (known: length, contains, join, toJSON)");
    Nested nested(*this, at);
    std::vector<NodePtr> args;
    if (!eat(")")) {
      do {
        args.push_back(parse_or());
      } while (eat(","));
      if (!eat(")")) fail("expected ')' after the arguments of " + name);
    }
    if (args.size() != arity) {
      fail(name + "() takes " + std::to_string(arity) + " argument" + (arity == 1 ? "" : "s"));
    }
    return node(start, ExprNode::kCall, name, std::move(args));
  }

  const std::string& s_;
  size_t pos_ = 0;
  int nesting_ = 0;  // levels of Nested now open
};

bool loose_equal(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
  return a == b;
}

json eval_node(const ExprNode& n, const json& ctx);

json eval_binary(const ExprNode& n, const json& ctx) {
  const std::string& op = n.name;
  json a = eval_node(*n.kids[0], ctx);
  if (op == "&&") return truthy(a) ? eval_node(*n.kids[1], ctx) : a;
  if (op == "||") return truthy(a) ? a : eval_node(*n.kids[1], ctx);
  json b = eval_node(*n.kids[1], ctx);
  if (op == "==") return loose_equal(a, b);
  if (op == "!=") return !loose_equal(a, b);
  if (a.is_number() && b.is_number()) {
    double x = a.get<double>(), y = b.get<double>();
    if (op == "<") return x < y;
    if (op == "<=") return x <= y;
    if (op == ">") return x > y;
    return x >= y;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.get<std::string>().compare(b.get<std::string>());
    if (op == "<") return c < 0;
    if (op == "<=") return c <= 0;
    if (op == ">") return c > 0;
    return c >= 0;
  }
  return false;
}

// A value past kMaxExprValueBytes, built by the call `n`: an error that names it.
[[noreturn]] void too_big(const ExprNode& n, size_t bytes) {
  throw EvalError(n.name + " at column " + std::to_string(n.at + 1) + " builds " + std::to_string(bytes) +
                  " bytes, more than the " + std::to_string(kMaxExprValueBytes >> 20) +
                  " MiB an expression's value may have");
}

json eval_call(const ExprNode& n, const json& ctx) {
  std::vector<json> args;
  for (const auto& k : n.kids) args.push_back(eval_node(*k, ctx));
  if (n.name == "length") {
    if (args[0].is_string()) return args[0].get<std::string>().size();
    if (args[0].is_array() || args[0].is_object()) return args[0].size();
    return 0;
  }
  if (n.name == "contains") {
    if (args[0].is_string()) return args[0].get<std::string>().find(stringify(args[1])) != std::string::npos;
    if (args[0].is_array()) {
      for (const json& v : args[0]) {
        if (loose_equal(v, args[1])) return true;
      }
    }
    return false;
  }
  if (n.name == "join") {
    if (!args[0].is_array()) return stringify(args[0]);
    std::string out, sep = stringify(args[1]);
    // Nested, join multiplies as toJSON doubles: join(list, join(list, sep)).
    for (size_t i = 0; i < args[0].size(); ++i) {
      if (i) out += sep;
      out += stringify(args[0][i]);
      if (out.size() > kMaxExprValueBytes) too_big(n, out.size());
    }
    return out;
  }
  // toJSON. Invalid UTF-8 in a string (from a plugin or the model) is written as U+FFFD
  // rather than thrown out of the evaluation.
  std::string text = args[0].dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMaxExprValueBytes) too_big(n, text.size());
  return text;
}

json eval_node(const ExprNode& n, const json& ctx) {
  switch (n.kind) {
    case ExprNode::kLiteral: return n.value;
    case ExprNode::kName: return ctx.is_object() && ctx.contains(n.name) ? ctx[n.name] : json();
    case ExprNode::kMember: {
      json base = eval_node(*n.kids[0], ctx);
      return base.is_object() && base.contains(n.name) ? base[n.name] : json();
    }
    case ExprNode::kIndex: {
      json base = eval_node(*n.kids[0], ctx), index = eval_node(*n.kids[1], ctx);
      if (base.is_array() && index.is_number_integer()) {
        auto i = index.get<int64_t>();
        return i >= 0 && static_cast<size_t>(i) < base.size() ? base[static_cast<size_t>(i)] : json();
      }
      if (base.is_object() && index.is_string() && base.contains(index.get<std::string>())) {
        return base[index.get<std::string>()];
      }
      return json();
    }
    case ExprNode::kNot: return !truthy(eval_node(*n.kids[0], ctx));
    case ExprNode::kBinary: return eval_binary(n, ctx);
    case ExprNode::kCall: return eval_call(n, ctx);
  }
  return json();
}

// Collects the static reference path of a member/index chain ending at a name.
bool ref_path(const ExprNode& n, RefPath* path) {
  if (n.kind == ExprNode::kName) {
    path->push_back(n.name);
    return true;
  }
  if (n.kind == ExprNode::kMember) {
    if (!ref_path(*n.kids[0], path)) return false;
    path->push_back(n.name);
    return true;
  }
  if (n.kind == ExprNode::kIndex) {
    if (!ref_path(*n.kids[0], path)) return false;
    const ExprNode& idx = *n.kids[1];
    if (idx.kind == ExprNode::kLiteral && idx.value.is_string()) path->push_back(idx.value.get<std::string>());
    return false;  // stop the static prefix here either way
  }
  return false;
}

void collect(const ExprNode& n, std::vector<RefPath>* out) {
  if (n.kind == ExprNode::kName || n.kind == ExprNode::kMember || n.kind == ExprNode::kIndex) {
    RefPath path;
    bool complete = ref_path(n, &path);
    if (!path.empty()) out->push_back(path);
    if (complete) return;
    if (n.kind == ExprNode::kIndex) collect(*n.kids[1], out);
    return;
  }
  for (const auto& k : n.kids) collect(*k, out);
}

}  // namespace

Result<Expr> Expr::parse(const std::string& text, size_t* error_at) {
  Expr e;
  e.text_ = text;
  try {
    e.root_ = Parser(text).parse();
  } catch (const ParseError& err) {
    if (error_at) *error_at = err.at;
    return invalid_argument(err.what());
  }
  return e;
}

Result<json> Expr::eval(const json& context) const {
  try {
    return eval_node(*root_, context);
  } catch (const EvalError& err) {
    return invalid_argument("expression '" + excerpt(text_) + "': " + err.what());
  }
}

std::vector<RefPath> Expr::references() const {
  std::vector<RefPath> out;
  collect(*root_, &out);
  return out;
}

Result<Template> Template::parse(const std::string& text) {
  Template t;
  size_t pos = 0;
  std::string literal;
  for (;;) {
    size_t open = text.find("${{", pos);
    if (open == std::string::npos) {
      literal += text.substr(pos);
      break;
    }
    size_t close = text.find("}}", open + 3);
    if (close == std::string::npos) return invalid_argument("'${{' without a closing '}}'");
    literal += text.substr(pos, open - pos);
    std::string inner = text.substr(open + 3, close - open - 3);
    // Columns in messages count from the expression's first character.
    size_t first = inner.find_first_not_of(" \t"), last = inner.find_last_not_of(" \t");
    size_t error_at = 0;
    auto expr = Expr::parse(first == std::string::npos ? std::string() : inner.substr(first, last - first + 1),
                            &error_at);
    if (!expr.ok()) {
      // A long expression is quoted around the error, not whole.
      const size_t at = 3 + (first == std::string::npos ? 0 : first) + error_at;
      const std::string whole = "${{" + inner + "}}";
      return invalid_argument("bad expression '" + excerpt(whole, at) + "': " + expr.status().message());
    }
    t.literals_.push_back(std::move(literal));
    literal.clear();
    t.exprs_.push_back(std::move(expr).value());
    pos = close + 2;
  }
  t.literals_.push_back(std::move(literal));
  t.whole_ = t.exprs_.size() == 1 && t.literals_[0].empty() && t.literals_[1].empty();
  return t;
}

Result<json> Template::eval(const json& context) const {
  if (exprs_.empty()) return json(literals_.empty() ? std::string() : literals_[0]);
  if (whole_) return exprs_[0].eval(context);
  std::string out = literals_[0];
  for (size_t i = 0; i < exprs_.size(); ++i) {
    REAM_ASSIGN_OR_RETURN(json v, exprs_[i].eval(context));
    out += stringify(v) + literals_[i + 1];
  }
  return json(std::move(out));
}

std::vector<RefPath> Template::references() const {
  std::vector<RefPath> out;
  for (const Expr& e : exprs_) {
    auto refs = e.references();
    out.insert(out.end(), refs.begin(), refs.end());
  }
  return out;
}

bool truthy(const json& v) {
  if (v.is_null()) return false;
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) {
    double d = v.get<double>();
    return d != 0 && !std::isnan(d);
  }
  if (v.is_string()) return !v.get<std::string>().empty();
  return true;
}

std::string stringify(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string excerpt(std::string_view text, size_t at, size_t width) {
  auto continuation = [](std::string_view s, size_t i) {
    return i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80;
  };
  size_t begin = 0, end = text.size();
  if (text.size() > width) {
    // Cut at character boundaries: at most 3 bytes further (a UTF-8 character is at most
    // 4), so a run of stray continuation bytes cannot pull the whole text in.
    begin = std::min(at > width / 2 ? at - width / 2 : 0, text.size() - width);
    for (int i = 0; i < 3 && begin > 0 && continuation(text, begin); ++i) --begin;
    end = std::min(begin + width, text.size());
    for (int i = 0; i < 3 && continuation(text, end); ++i) ++end;
  }
  // Each ill-formed byte becomes U+FFFD (3 bytes): cut the repaired text to `width` again
  // (and the 3 bytes a character's end may add).
  std::string body = utf8::repair(text.substr(begin, end - begin));
  bool cut = end < text.size();
  if (body.size() > width + 3) {
    size_t keep = width;
    while (keep > 0 && continuation(body, keep)) --keep;
    body.resize(keep);
    cut = true;
  }
  std::string out = begin > 0 ? "…" : "";
  out += body;
  if (cut) out += "…";
  return out;
}

}  // namespace ream::flow
