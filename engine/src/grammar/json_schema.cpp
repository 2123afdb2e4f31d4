// JSON Schema -> GBNF. One rule per schema location (named after its JSON pointer),
// $refs compiled once each (so recursion is a recursive rule), the JSON basics shared
// (json_gbnf.cpp). Anything it cannot express exactly is an error naming the keyword
// and its location, never a silently looser grammar; where it is stricter than the
// schema (fixed property order, number ranges) docs/constrained_decoding.md says so.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>

#include "grammar/compile.h"
#include "grammar/json_gbnf.h"

namespace ream::grammar {
namespace {

using Json = nlohmann::ordered_json;

struct SchemaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

constexpr int64_t kMaxItemsExpanded = 2048;
constexpr double kIntLimit = 1e18;

const std::set<std::string> kAnnotations = {"title", "description", "default", "examples", "$schema", "$id", "id",
                                            "$comment", "readOnly", "writeOnly", "deprecated", "$anchor"};
const std::set<std::string> kSupported = {
    "type", "properties", "required", "additionalProperties", "enum", "const", "items", "prefixItems",
    "additionalItems", "minItems", "maxItems", "anyOf", "oneOf", "allOf", "$ref", "$defs", "definitions",
    "pattern", "minLength", "maxLength", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"};
// Keywords that only hold definitions: they never constrain the value where they stand.
const std::set<std::string> kContainers = {"$defs", "definitions"};

enum TypeBit : unsigned { kNull = 1, kBool = 2, kObject = 4, kArray = 8, kString = 16, kNumber = 32, kInteger = 64 };

std::string escape_pointer(const std::string& key) {
  std::string out;
  for (char c : key) out += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
  return out;
}

class SchemaCompiler {
 public:
  explicit SchemaCompiler(Json root) : root_(std::move(root)) {}

  std::string compile() {
    const std::string top = visit(root_, "");
    std::string out = "root ::= " + top + "\n" + json_common_rules();
    for (const auto& [name, body] : rules_) out += name + " ::= " + body + "\n";
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what, const std::string& ptr) {
    throw SchemaError(what + " at " + (ptr.empty() ? "/" : ptr));
  }

  std::string rule_name(const std::string& ptr) {
    std::string n = "s";
    for (char c : ptr) n += (std::isalnum(static_cast<unsigned char>(c)) ? c : '-');
    while (n.size() > 48) n.erase(1, 1);
    std::string name = n;
    for (int i = 2; used_names_.count(name); ++i) name = n + "-" + std::to_string(i);
    used_names_.insert(name);
    return name;
  }

  // A rule holding `body`; identical bodies share one rule.
  std::string define(const std::string& ptr, const std::string& body) {
    auto it = by_body_.find(body);
    if (it != by_body_.end()) return it->second;
    const std::string name = rule_name(ptr);
    rules_[name] = body;
    by_body_[body] = name;
    return name;
  }

  const Json& resolve(const std::string& ref, const std::string& ptr) {
    if (ref.empty() || ref[0] != '#') fail("only local $ref (\"#...\") is supported, not '" + ref + "'", ptr);
    const Json* cur = &root_;
    size_t i = 1;
    while (i < ref.size()) {
      if (ref[i] != '/') fail("$ref '" + ref + "' is not a JSON pointer", ptr);
      size_t j = ref.find('/', i + 1);
      if (j == std::string::npos) j = ref.size();
      std::string key;
      for (size_t k = i + 1; k < j; ++k) {
        if (ref[k] == '~' && k + 1 < j) key += ref[++k] == '1' ? '/' : '~';
        else if (ref[k] == '%' && k + 2 < j) key += static_cast<char>(std::stoi(ref.substr(k + 1, 2), nullptr, 16)), k += 2;
        else key += ref[k];
      }
      if (cur->is_object() && cur->contains(key)) cur = &(*cur)[key];
      else if (cur->is_array() && !key.empty() && key.find_first_not_of("0123456789") == std::string::npos &&
               std::stoul(key) < cur->size())
        cur = &(*cur)[std::stoul(key)];
      else fail("$ref '" + ref + "' points at nothing", ptr);
      i = j;
    }
    return *cur;
  }

  std::string visit_ref(const std::string& ref, const std::string& ptr) {
    auto it = ref_rules_.find(ref);
    if (it != ref_rules_.end()) return it->second;
    const std::string name = rule_name("ref" + ref.substr(1));
    ref_rules_[ref] = name;
    const Json& target = resolve(ref, ptr);
    rules_[name] = visit(target, ref.substr(1));
    return name;
  }

  static bool only_annotations(const Json& s, const std::set<std::string>& besides) {
    for (auto it = s.begin(); it != s.end(); ++it)
      if (!kAnnotations.count(it.key()) && !kContainers.count(it.key()) && !besides.count(it.key())) return false;
    return true;
  }

  // The JSON types `s` can produce (for oneOf's disjointness check).
  unsigned types_of(const Json& s, int depth = 0) {
    if (s.is_boolean()) return s.get<bool>() ? 0x7F : 0;
    if (!s.is_object() || depth > 16) return 0x7F;
    if (s.contains("$ref") && s["$ref"].is_string()) return types_of(resolve(s["$ref"].get<std::string>(), ""), depth + 1);
    auto of_value = [](const Json& v) -> unsigned {
      return v.is_null() ? kNull : v.is_boolean() ? kBool : v.is_object() ? kObject : v.is_array() ? kArray
             : v.is_string() ? kString : kNumber;
    };
    unsigned t = 0x7F;
    if (s.contains("const")) t = of_value(s["const"]);
    if (s.contains("enum") && s["enum"].is_array()) {
      t = 0;
      for (const Json& v : s["enum"]) t |= of_value(v);
    }
    if (s.contains("type")) {
      unsigned declared = 0;
      auto add = [&](const Json& n) {
        const std::string x = n.is_string() ? n.get<std::string>() : "";
        declared |= x == "null" ? kNull : x == "boolean" ? kBool : x == "object" ? kObject : x == "array" ? kArray
                    : x == "string" ? kString : x == "number" || x == "integer" ? kNumber : 0u;
      };
      if (s["type"].is_array()) for (const Json& n : s["type"]) add(n);
      else add(s["type"]);
      t &= declared;
    }
    if (s.contains("anyOf") || s.contains("oneOf")) {
      unsigned u = 0;
      for (const Json& b : s.contains("anyOf") ? s["anyOf"] : s["oneOf"]) u |= types_of(b, depth + 1);
      t &= u;
    }
    return t & 0x3F;
  }

  std::string alternatives(const std::vector<std::string>& parts) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? " | " : "") + parts[i];
    return parts.size() == 1 ? out : "(" + out + ")";
  }

  std::string visit(const Json& s, const std::string& ptr) {
    if (s.is_boolean()) {
      if (s.get<bool>()) return "json-value";
      fail("schema 'false' allows no value", ptr);
    }
    if (!s.is_object()) fail("a schema must be an object or a boolean", ptr);
    for (auto it = s.begin(); it != s.end(); ++it)
      if (!kAnnotations.count(it.key()) && !kSupported.count(it.key()))
        fail("unsupported JSON Schema keyword '" + it.key() + "'", ptr);
    if (s.contains("$ref")) {
      if (!s["$ref"].is_string()) fail("$ref must be a string", ptr + "/$ref");
      if (!only_annotations(s, {"$ref"})) fail("$ref beside other validation keywords is not supported", ptr);
      return visit_ref(s["$ref"].get<std::string>(), ptr + "/$ref");
    }
    if (s.contains("allOf")) {
      if (!s["allOf"].is_array() || s["allOf"].size() != 1)
        fail("allOf is supported with exactly one schema", ptr + "/allOf");
      if (!only_annotations(s, {"allOf"})) fail("allOf beside other validation keywords is not supported", ptr);
      return visit(s["allOf"][0], ptr + "/allOf/0");
    }
    for (const char* kw : {"anyOf", "oneOf"}) {
      if (!s.contains(kw)) continue;
      const Json& list = s[kw];
      const std::string at = ptr + "/" + kw;
      if (!list.is_array() || list.empty()) fail(std::string(kw) + " must be a non-empty array", at);
      if (!only_annotations(s, {kw})) fail(std::string(kw) + " beside other validation keywords is not supported", ptr);
      if (std::string(kw) == "oneOf") check_disjoint(list, at);
      std::vector<std::string> parts;
      for (size_t i = 0; i < list.size(); ++i) {
        if (list[i].is_boolean() && !list[i].get<bool>()) continue;
        parts.push_back(visit(list[i], at + "/" + std::to_string(i)));
      }
      if (parts.empty()) fail("no branch of " + std::string(kw) + " allows a value", at);
      return define(ptr, alternatives(parts));
    }
    if (s.contains("const") || s.contains("enum")) return enum_rule(s, ptr);
    return define(ptr, typed(s, ptr));
  }

  // oneOf as anyOf is exact only when no value can match two branches: required when
  // their types differ, or when objects share a required property whose const/enum
  // values differ.
  void check_disjoint(const Json& list, const std::string& at) {
    for (size_t i = 0; i < list.size(); ++i)
      for (size_t j = i + 1; j < list.size(); ++j) {
        if ((types_of(list[i]) & types_of(list[j])) == 0) continue;
        if (discriminated(list[i], list[j])) continue;
        fail("oneOf branches " + std::to_string(i) + " and " + std::to_string(j) +
                 " may both match a value (only oneOf of different types, or of objects told apart by a required "
                 "const/enum property, is supported)",
             at);
      }
  }

  bool discriminated(const Json& a, const Json& b) {
    auto values = [&](const Json& s, const std::string& key, std::set<std::string>* out) {
      if (!s.is_object() || !s.contains("properties") || !s["properties"].contains(key)) return false;
      if (!s.contains("required") || std::find(s["required"].begin(), s["required"].end(), key) == s["required"].end())
        return false;
      const Json& p = s["properties"][key];
      if (p.contains("const")) out->insert(p["const"].dump());
      else if (p.contains("enum")) for (const Json& v : p["enum"]) out->insert(v.dump());
      else return false;
      return true;
    };
    if (!a.is_object() || !a.contains("properties") || !a["properties"].is_object()) return false;
    for (auto it = a["properties"].begin(); it != a["properties"].end(); ++it) {
      std::set<std::string> va, vb;
      if (!values(a, it.key(), &va) || !values(b, it.key(), &vb)) continue;
      bool overlap = false;
      for (const std::string& v : va) overlap |= vb.count(v) > 0;
      if (!overlap) return true;
    }
    return false;
  }

  std::string enum_rule(const Json& s, const std::string& ptr) {
    if (!only_annotations(s, {"const", "enum", "type"}))
      fail("enum/const beside validation keywords other than type is not supported", ptr);
    const unsigned types = s.contains("type") ? types_of(Json{{"type", s["type"]}}) : 0x3F;
    std::vector<Json> values;
    if (s.contains("const")) values.push_back(s["const"]);
    if (s.contains("enum")) {
      if (!s["enum"].is_array()) fail("enum must be an array", ptr + "/enum");
      if (s.contains("const")) fail("const and enum together are not supported", ptr);
      for (const Json& v : s["enum"]) values.push_back(v);
    }
    std::vector<std::string> parts;
    std::set<std::string> seen;
    for (const Json& v : values) {
      const unsigned t = types_of(Json{{"const", v}});
      if (!(t & types)) continue;
      // "integer" admits only integral numbers.
      if (t == kNumber && s.contains("type") && s["type"] == "integer" && v.get<double>() != std::floor(v.get<double>()))
        continue;
      const std::string lit = json_literal_gbnf(v);
      if (seen.insert(lit).second) parts.push_back(lit);
    }
    if (parts.empty()) fail("no enum/const value matches the schema's type", ptr);
    return define(ptr, alternatives(parts));
  }

  std::vector<std::string> type_names(const Json& s, const std::string& ptr) {
    if (!s.contains("type")) return {"null", "boolean", "object", "array", "string", "number"};
    std::vector<std::string> names;
    auto add = [&](const Json& n) {
      static const std::set<std::string> kTypes = {"null", "boolean", "object", "array", "string", "number", "integer"};
      if (!n.is_string() || !kTypes.count(n.get<std::string>())) fail("unknown type " + n.dump(), ptr + "/type");
      names.push_back(n.get<std::string>());
    };
    if (s["type"].is_array()) for (const Json& n : s["type"]) add(n);
    else add(s["type"]);
    if (names.empty()) fail("type must name at least one type", ptr + "/type");
    // number includes integer.
    if (std::find(names.begin(), names.end(), "number") != names.end())
      names.erase(std::remove(names.begin(), names.end(), "integer"), names.end());
    return names;
  }

  std::string typed(const Json& s, const std::string& ptr) {
    std::vector<std::string> parts;
    for (const std::string& t : type_names(s, ptr)) {
      if (t == "null") parts.push_back("\"null\"");
      else if (t == "boolean") parts.push_back("(\"true\" | \"false\")");
      else if (t == "string") parts.push_back(string_rule(s, ptr));
      else if (t == "number" || t == "integer") {
        std::string n = number_rule(s, ptr, t == "integer");
        if (n.empty()) continue;  // the range holds no value of this type
        parts.push_back(n);
      } else if (t == "object") parts.push_back(object_rule(s, ptr));
      else parts.push_back(array_rule(s, ptr));
    }
    if (parts.empty()) fail("no value satisfies the schema", ptr);
    return alternatives(parts);
  }

  int64_t count(const Json& s, const char* kw, const std::string& ptr, int64_t dflt) {
    if (!s.contains(kw)) return dflt;
    const Json& v = s[kw];
    if (!v.is_number() || v.get<double>() < 0 || v.get<double>() != std::floor(v.get<double>()))
      fail(std::string(kw) + " must be a non-negative integer", ptr + "/" + kw);
    if (v.get<double>() > 100000) fail(std::string(kw) + " above 100000 is not supported", ptr + "/" + kw);
    return static_cast<int64_t>(v.get<double>());
  }

  std::string string_rule(const Json& s, const std::string& ptr) {
    const bool has_len = s.contains("minLength") || s.contains("maxLength");
    if (s.contains("pattern")) {
      if (!s["pattern"].is_string()) fail("pattern must be a string", ptr + "/pattern");
      if (has_len || s.contains("format")) fail("pattern with minLength/maxLength/format is not supported", ptr);
      Result<std::string> re = regex_to_gbnf(s["pattern"].get<std::string>(), RegexMode::kJsonString, "json-char");
      if (!re.ok()) fail(re.status().message(), ptr + "/pattern");
      return define(ptr + "/pattern", "\"\\\"\" " + re.value() + " \"\\\"\"");
    }
    if (s.contains("format")) {
      if (!s["format"].is_string()) fail("format must be a string", ptr + "/format");
      if (has_len) fail("format with minLength/maxLength is not supported", ptr);
      const std::string f = string_format_gbnf(s["format"].get<std::string>());
      if (f.empty()) fail("unsupported format '" + s["format"].get<std::string>() + "'", ptr + "/format");
      return define(ptr + "/format", "\"\\\"\" " + f + " \"\\\"\"");
    }
    if (!has_len) return "json-string";
    const int64_t lo = count(s, "minLength", ptr, 0), hi = count(s, "maxLength", ptr, -1);
    if (hi >= 0 && hi < lo) fail("maxLength is below minLength", ptr);
    const std::string rep = "{" + std::to_string(lo) + "," + (hi >= 0 ? std::to_string(hi) : "") + "}";
    return define(ptr + "/length", "\"\\\"\" json-char" + rep + " \"\\\"\"");
  }

  // Integers exactly; other numbers: integers in range, and numbers with a non-zero
  // fraction whose integer neighbours both lie in range (no exponent). "" when empty.
  std::string number_rule(const Json& s, const std::string& ptr, bool integer) {
    std::optional<double> lo, hi;
    bool lo_ex = false, hi_ex = false;
    auto bound = [&](const char* kw) -> std::optional<double> {
      if (!s.contains(kw) || s[kw].is_boolean()) return std::nullopt;
      if (!s[kw].is_number()) fail(std::string(kw) + " must be a number", ptr + "/" + kw);
      const double v = s[kw].get<double>();
      if (std::fabs(v) > kIntLimit) fail(std::string(kw) + " beyond +-1e18 is not supported", ptr + "/" + kw);
      return v;
    };
    lo = bound("minimum");
    hi = bound("maximum");
    // Draft 4: exclusiveMinimum/Maximum are booleans qualifying minimum/maximum.
    if (s.contains("exclusiveMinimum") && s["exclusiveMinimum"].is_boolean()) lo_ex = s["exclusiveMinimum"].get<bool>();
    else if (auto x = bound("exclusiveMinimum")) {
      if (!lo || *x >= *lo) lo = x, lo_ex = true;
    }
    if (s.contains("exclusiveMaximum") && s["exclusiveMaximum"].is_boolean()) hi_ex = s["exclusiveMaximum"].get<bool>();
    else if (auto x = bound("exclusiveMaximum")) {
      if (!hi || *x <= *hi) hi = x, hi_ex = true;
    }
    if (!lo && !hi) return integer ? "json-int" : "json-number";
    std::optional<int64_t> ilo, ihi;
    if (lo) ilo = static_cast<int64_t>(lo_ex ? std::floor(*lo) + 1 : std::ceil(*lo));
    if (hi) ihi = static_cast<int64_t>(hi_ex ? std::ceil(*hi) - 1 : std::floor(*hi));
    std::vector<std::string> parts;
    if (!ilo || !ihi || *ilo <= *ihi) {
      const std::string ints = integer_range_gbnf(ilo, ihi);
      if (!ints.empty()) parts.push_back(ints);
    }
    if (!integer) {
      const std::string frac = "\".\" [0-9]* [1-9] [0-9]*";
      // x = I.f, f > 0: I >= ceil(lo) (so x > lo) and I + 1 <= floor(hi) (so x < hi).
      const int64_t pos_lo = std::max<int64_t>(0, lo ? static_cast<int64_t>(std::ceil(*lo)) : 0);
      const std::optional<int64_t> pos_hi = hi ? std::optional<int64_t>(static_cast<int64_t>(std::floor(*hi)) - 1) : std::nullopt;
      if (!pos_hi || pos_lo <= *pos_hi) parts.push_back("(" + integer_range_gbnf(pos_lo, pos_hi) + " " + frac + ")");
      // x = -(I.f): I >= max(0, ceil(-hi)) and I + 1 <= floor(-lo).
      const int64_t neg_lo = std::max<int64_t>(0, hi ? static_cast<int64_t>(std::ceil(-*hi)) : 0);
      const std::optional<int64_t> neg_hi = lo ? std::optional<int64_t>(static_cast<int64_t>(std::floor(-*lo)) - 1) : std::nullopt;
      if (!neg_hi || neg_lo <= *neg_hi) parts.push_back("(\"-\" " + integer_range_gbnf(neg_lo, neg_hi) + " " + frac + ")");
    }
    if (parts.empty()) return "";
    return define(ptr + (integer ? "/integer" : "/number"), alternatives(parts));
  }

  // Properties in the schema's order, each optional one skippable, then (when
  // additionalProperties allows) extra properties whose names are none of the known ones.
  std::string object_rule(const Json& s, const std::string& ptr) {
    if (s.contains("properties") && !s["properties"].is_object()) fail("properties must be an object", ptr + "/properties");
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) fail("required must be an array", ptr + "/required");
      for (const Json& r : s["required"]) {
        if (!r.is_string()) fail("required must list strings", ptr + "/required");
        required.insert(r.get<std::string>());
      }
    }
    const Json extra = s.contains("additionalProperties") ? s["additionalProperties"] : Json(true);
    const bool extras = !(extra.is_boolean() && !extra.get<bool>());
    struct Prop {
      std::string name;
      bool required;
      std::string kv;
    };
    std::vector<Prop> props;
    std::vector<std::string> names;
    auto add = [&](const std::string& name, const Json& schema, const std::string& at) {
      const bool req = required.count(name) > 0;
      names.push_back(name);
      if (schema.is_boolean() && !schema.get<bool>()) {
        if (req) fail("required property '" + name + "' has schema false", at);
        return;
      }
      const std::string key = gbnf_literal(Json(name).dump());
      props.push_back({name, req, key + " ws \":\" ws " + visit(schema, at)});
    };
    if (s.contains("properties"))
      for (auto it = s["properties"].begin(); it != s["properties"].end(); ++it)
        add(it.key(), it.value(), ptr + "/properties/" + escape_pointer(it.key()));
    for (const std::string& r : required) {
      if (std::find(names.begin(), names.end(), r) != names.end()) continue;
      if (!extras) fail("required property '" + r + "' is not in properties and additionalProperties is false", ptr);
      add(r, extra, ptr + "/additionalProperties");
    }
    std::string extra_kv;
    if (extras) {
      const std::string value = visit(extra, ptr + "/additionalProperties");
      extra_kv = define(ptr + "/extra", "\"\\\"\" " + not_in_keys(names, ptr) + " \"\\\"\" ws \":\" ws " + value);
    }
    // rest_any(i): members from i on after at least one; rest_none(i): before any (non-empty).
    const size_t n = props.size();
    std::vector<std::string> any(n + 1), none(n + 1);
    any[n] = extras ? define(ptr + "/extras", "( ws \",\" ws " + extra_kv + " )*") : "";
    none[n] = extras ? define(ptr + "/extras1", extra_kv + " " + any[n]) : "";
    for (size_t k = n; k-- > 0;) {
      const Prop& p = props[k];
      std::string a = "ws \",\" ws " + p.kv + (any[k + 1].empty() ? "" : " " + any[k + 1]);
      if (!p.required) a = "( " + a + " )" + (any[k + 1].empty() ? "?" : " | " + any[k + 1]);
      any[k] = define(ptr + "/rest", a == "" ? "\"\"" : a);
      std::string b = p.kv + (any[k + 1].empty() ? "" : " " + any[k + 1]);
      if (!p.required && !none[k + 1].empty()) b += " | " + none[k + 1];
      none[k] = define(ptr + "/first", b);
    }
    const bool must = std::any_of(props.begin(), props.end(), [](const Prop& p) { return p.required; });
    if (none[0].empty()) return "\"{\" ws \"}\"";
    if (must) return "\"{\" ws " + none[0] + " ws \"}\"";
    return "\"{\" ws ( " + none[0] + " ws )? \"}\"";
  }

  // A string's inside that is none of `keys`, written without escapes (so that no
  // escape can spell a known key): a trie of the keys, leaving it anywhere.
  std::string not_in_keys(const std::vector<std::string>& keys, const std::string& ptr) {
    const std::string plain = define(ptr + "/plain", "[^\"\\\\\\x00-\\x1F]");
    std::function<std::string(const std::string&)> node = [&](const std::string& prefix) -> std::string {
      std::set<std::string> next;  // next UTF-8 characters after `prefix`
      bool terminal = false;
      for (const std::string& k : keys) {
        if (k.compare(0, prefix.size(), prefix) != 0) continue;
        if (k.size() == prefix.size()) {
          terminal = true;
          continue;
        }
        size_t len = 1;
        const unsigned char c = static_cast<unsigned char>(k[prefix.size()]);
        if (c >= 0xF0) len = 4;
        else if (c >= 0xE0) len = 3;
        else if (c >= 0xC0) len = 2;
        next.insert(k.substr(prefix.size(), len));
      }
      std::vector<std::string> alts;
      if (!terminal) alts.push_back("\"\"");
      std::string excluded;
      for (const std::string& ch : next) {
        alts.push_back(gbnf_literal(ch) + " " + node(prefix + ch));
        uint32_t cp = static_cast<unsigned char>(ch[0]);
        if (ch.size() > 1) cp &= 0x3F >> (ch.size() - 1);
        for (size_t i = 1; i < ch.size(); ++i) cp = (cp << 6) | (static_cast<unsigned char>(ch[i]) & 0x3F);
        char buf[16];
        snprintf(buf, sizeof buf, "\\U%08X", cp);
        excluded += buf;
      }
      // Any other character, then anything.
      const std::string other = next.empty() ? plain : define(ptr + "/other", "[^\"\\\\\\x00-\\x1F" + excluded + "]");
      alts.push_back(other + " " + plain + "*");
      return define(ptr + "/key", alternatives(alts));
    };
    return node("");
  }

  // Items in order: prefixItems (or draft 4's items array), then items (or
  // additionalItems), between minItems and maxItems.
  std::string array_rule(const Json& s, const std::string& ptr) {
    std::vector<const Json*> prefix;
    std::string prefix_kw;
    Json rest = true;
    std::string rest_at = ptr + "/items";
    if (s.contains("prefixItems")) {
      if (!s["prefixItems"].is_array()) fail("prefixItems must be an array", ptr + "/prefixItems");
      prefix_kw = "prefixItems";
      if (s.contains("items")) rest = s["items"];
    } else if (s.contains("items") && s["items"].is_array()) {
      prefix_kw = "items";
      if (s.contains("additionalItems")) rest = s["additionalItems"], rest_at = ptr + "/additionalItems";
    } else if (s.contains("items")) {
      rest = s["items"];
    }
    if (!prefix_kw.empty())
      for (const Json& p : s[prefix_kw]) prefix.push_back(&p);
    int64_t lo = count(s, "minItems", ptr, 0), hi = count(s, "maxItems", ptr, -1);
    const bool rest_false = rest.is_boolean() && !rest.get<bool>();
    const int64_t k = static_cast<int64_t>(prefix.size());
    if (rest_false && (hi < 0 || hi > k)) hi = k;
    for (int64_t j = 0; j < k; ++j)
      if (prefix[j]->is_boolean() && !prefix[j]->get<bool>() && (hi < 0 || hi > j)) hi = j;
    if (hi >= 0 && hi < lo) fail("the array constraints allow no array (maxItems below minItems)", ptr);
    if (std::max(lo, hi) > kMaxItemsExpanded || k > kMaxItemsExpanded)
      fail("minItems/maxItems above " + std::to_string(kMaxItemsExpanded) + " are not supported", ptr);
    if (hi == 0) return "\"[\" ws \"]\"";
    auto elem = [&](int64_t j) {
      return j < k ? visit(*prefix[j], ptr + "/" + prefix_kw + "/" + std::to_string(j)) : visit(rest, rest_at);
    };
    // after[j]: what may follow j emitted items.
    const int64_t last = hi >= 0 ? hi : std::max<int64_t>({lo, k, 1});
    std::vector<std::string> after(last + 1);
    after[last] = hi >= 0 ? "" : define(ptr + "/more", "( ws \",\" ws " + elem(last) + " )*");
    for (int64_t j = last; j-- > 1;) {
      std::string a = "ws \",\" ws " + elem(j) + (after[j + 1].empty() ? "" : " " + after[j + 1]);
      a = j >= lo ? "( " + a + " )?" : a;
      after[j] = define(ptr + "/after", a);
    }
    const std::string items = define(ptr + "/items", elem(0) + (after[1].empty() ? "" : " " + after[1]));
    if (lo == 0) return "\"[\" ws ( " + items + " ws )? \"]\"";
    return "\"[\" ws " + items + " ws \"]\"";
  }

  Json root_;
  std::map<std::string, std::string> rules_;
  std::map<std::string, std::string> by_body_;
  std::map<std::string, std::string> ref_rules_;
  std::set<std::string> used_names_;
};

}  // namespace

std::string json_object_gbnf() { return "root ::= json-object\n" + json_common_rules(); }

Result<std::string> json_schema_to_gbnf(std::string_view schema) {
  Json root;
  try {
    root = Json::parse(schema);
  } catch (const std::exception& e) {
    return invalid_argument(std::string("the JSON Schema is not valid JSON: ") + e.what());
  }
  try {
    SchemaCompiler c(std::move(root));
    return c.compile();
  } catch (const SchemaError& e) {
    return invalid_argument(e.what());
  }
}

}  // namespace ream::grammar
