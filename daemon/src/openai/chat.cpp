// Chat messages and tools (see chat.h).
#include "openai/chat.h"

#include <cstring>

namespace ream::openai {

namespace {

bool is_name(const std::string& s) {
  return !s.empty() && s.size() <= 64 &&
         s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == std::string::npos;
}

// content: a string, or text parts [{"type": "text", "text": ...}] joined; null when allowed.
Error parse_content(const Json& m, const std::string& field, bool nullable, std::string* out) {
  const std::string param = field + ".content";
  if (!m.contains("content") || m["content"].is_null()) {
    if (nullable) return std::nullopt;
    return invalid(param, "'" + param + "' is required: a string or a list of text parts");
  }
  const Json& c = m["content"];
  if (c.is_string()) {
    *out = c.get<std::string>();
    return std::nullopt;
  }
  if (!c.is_array()) return invalid(param, "'" + param + "' must be a string or a list of text parts");
  for (size_t j = 0; j < c.size(); ++j) {
    const std::string pp = param + "[" + std::to_string(j) + "]";
    const Json& part = c[j];
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string()) {
      return invalid(pp, "'" + pp + "' must be an object {\"type\": \"text\", \"text\": ...}");
    }
    if (part["type"] != "text") {
      return unsupported_value(pp + ".type", "only text parts are supported (got \"" +
                                                 part["type"].get<std::string>() + "\")");
    }
    if (auto e = check_fields(part, {{"type", FieldUse::kSupported}, {"text", FieldUse::kSupported}}, pp + ".")) return e;
    if (!part.contains("text") || !part["text"].is_string()) {
      return invalid(pp + ".text", "'" + pp + ".text' must be a string");
    }
    *out += part["text"].get<std::string>();
  }
  return std::nullopt;
}

Error parse_tool_calls(const Json& m, const std::string& field, std::vector<ChatToolCall>* out) {
  if (!m.contains("tool_calls") || m["tool_calls"].is_null()) return std::nullopt;
  const std::string param = field + ".tool_calls";
  const Json& calls = m["tool_calls"];
  if (!calls.is_array()) return invalid(param, "'" + param + "' must be a list of tool calls");
  for (size_t k = 0; k < calls.size(); ++k) {
    const std::string p = param + "[" + std::to_string(k) + "]";
    const Json& c = calls[k];
    if (!c.is_object()) return invalid(p, "'" + p + "' must be an object {id, type, function}");
    if (auto e = check_fields(c, {{"id", FieldUse::kSupported}, {"type", FieldUse::kSupported},
                                  {"function", FieldUse::kSupported}}, p + ".")) {
      return e;
    }
    if (!c.contains("type") || c["type"] != "function") {
      return invalid(p + ".type", "'" + p + ".type' must be \"function\"");
    }
    std::string id;
    if (auto e = get_string(c, "id", p + ".id", &id)) return e;
    if (!c.contains("function") || !c["function"].is_object()) {
      return invalid(p + ".function", "'" + p + ".function' must be an object {name, arguments}");
    }
    const Json& f = c["function"];
    if (auto e = check_fields(f, {{"name", FieldUse::kSupported}, {"arguments", FieldUse::kSupported}},
                              p + ".function.")) {
      return e;
    }
    ChatToolCall call;
    if (auto e = get_string(f, "name", p + ".function.name", &call.name)) return e;
    if (call.name.empty()) return invalid(p + ".function.name", "'" + p + ".function.name' is required");
    const std::string ap = p + ".function.arguments";
    if (!f.contains("arguments") || !(f["arguments"].is_string() || f["arguments"].is_object())) {
      return invalid(ap, "'" + ap + "' must be a string of JSON (or an object)");
    }
    // The template prints a string verbatim and an object through tojson.
    call.arguments = f["arguments"].is_string() ? f["arguments"].get<std::string>() : python_json(f["arguments"]);
    out->push_back(std::move(call));
  }
  return std::nullopt;
}

bool is_null(const Json& v) { return v.is_null(); }

Error parse_message(const Json& m, size_t i, ChatMessage* out) {
  const std::string field = "messages[" + std::to_string(i) + "]";
  if (!m.is_object()) return invalid(field, "'" + field + "' must be an object {role, content}");
  if (!m.contains("role") || !m["role"].is_string()) {
    return invalid(field + ".role", "'" + field + ".role' must be a string");
  }
  std::string role = m["role"];
  const char* why_name = "Qwen3's chat template has no place for a participant's name";
  std::vector<FieldRule> rules = {{"role", FieldUse::kSupported}, {"content", FieldUse::kSupported},
                                  {"name", FieldUse::kUnsupported, why_name}};
  if (role == "assistant") {
    rules.push_back({"tool_calls", FieldUse::kSupported});
    rules.push_back({"refusal", FieldUse::kUnsupported, "refusals are not rendered", is_null});
    rules.push_back({"audio", FieldUse::kUnsupported, "reamd serves text only", is_null});
    rules.push_back({"function_call", FieldUse::kUnsupported, "deprecated by OpenAI; use tool_calls", is_null});
  } else if (role == "tool") {
    rules = {{"role", FieldUse::kSupported}, {"content", FieldUse::kSupported}, {"tool_call_id", FieldUse::kSupported}};
  } else if (role != "system" && role != "developer" && role != "user") {
    return invalid(field + ".role", "'" + field + ".role' must be system, developer, user, assistant or tool (got \"" +
                                        role + "\")");
  }
  if (auto e = check_fields(m, rules, field + ".")) return e;
  out->role = role == "developer" ? "system" : role;
  if (auto e = parse_content(m, field, role == "assistant", &out->content)) return e;
  if (role == "assistant") {
    if (auto e = parse_tool_calls(m, field, &out->tool_calls)) return e;
  }
  if (role == "tool") {
    std::string id;
    if (auto e = get_string(m, "tool_call_id", field + ".tool_call_id", &id)) return e;
    if (id.empty()) return invalid(field + ".tool_call_id", "'" + field + ".tool_call_id' is required");
  }
  return std::nullopt;
}

Error parse_tool(const Json& t, size_t i, Tool* out) {
  const std::string p = "tools[" + std::to_string(i) + "]";
  if (!t.is_object()) return invalid(p, "'" + p + "' must be an object {\"type\": \"function\", \"function\": {...}}");
  if (!t.contains("type") || !t["type"].is_string()) return invalid(p + ".type", "'" + p + ".type' must be \"function\"");
  if (t["type"] != "function") {
    return unsupported_value(p + ".type", "only function tools are supported (got \"" + t["type"].get<std::string>() + "\")");
  }
  if (auto e = check_fields(t, {{"type", FieldUse::kSupported}, {"function", FieldUse::kSupported}}, p + ".")) return e;
  if (!t.contains("function") || !t["function"].is_object()) {
    return invalid(p + ".function", "'" + p + ".function' must be an object {name, description?, parameters?, strict?}");
  }
  const Json& f = t["function"];
  const std::string fp = p + ".function.";
  if (auto e = check_fields(f, {{"name", FieldUse::kSupported}, {"description", FieldUse::kSupported},
                                {"parameters", FieldUse::kSupported}, {"strict", FieldUse::kSupported}},
                            fp)) {
    return e;
  }
  if (auto e = get_string(f, "name", fp + "name", &out->name)) return e;
  if (!is_name(out->name)) return invalid(fp + "name", "'" + fp + "name' is required: 1 to 64 letters, digits, '_' or '-'");
  std::string description;
  bool strict = false;
  if (auto e = get_string(f, "description", fp + "description", &description)) return e;
  if (auto e = get_bool(f, "strict", fp + "strict", &strict)) return e;
  if (f.contains("parameters") && !f["parameters"].is_null()) {
    if (!f["parameters"].is_object()) return invalid(fp + "parameters", "'" + fp + "parameters' must be a JSON Schema object");
    out->parameters = f["parameters"];
  } else {
    out->parameters = Json{{"type", "object"}, {"properties", Json::object()}, {"additionalProperties", false}};
  }
  out->rendered = python_json(t);
  return std::nullopt;
}

Error parse_tool_choice(const Json& body, ToolPlan* out) {
  if (!body.contains("tool_choice") || body["tool_choice"].is_null()) return std::nullopt;
  const Json& c = body["tool_choice"];
  if (c.is_string()) {
    const std::string s = c;
    if (s == "none") out->choice = ToolChoice::kNone;
    else if (s == "auto") out->choice = ToolChoice::kAuto;
    else if (s == "required") out->choice = ToolChoice::kRequired;
    else return invalid("tool_choice", "'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}} (got \"" + s + "\")");
  } else if (c.is_object()) {
    if (!c.contains("type") || !c["type"].is_string()) return invalid("tool_choice.type", "'tool_choice.type' must be \"function\"");
    if (c["type"] != "function") {
      return unsupported_value("tool_choice.type", "only {\"type\": \"function\", ...} is supported (got \"" +
                                                       c["type"].get<std::string>() + "\")");
    }
    if (auto e = check_fields(c, {{"type", FieldUse::kSupported}, {"function", FieldUse::kSupported}}, "tool_choice.")) return e;
    if (!c.contains("function") || !c["function"].is_object()) {
      return invalid("tool_choice.function", "'tool_choice.function' must be an object {\"name\": ...}");
    }
    if (auto e = check_fields(c["function"], {{"name", FieldUse::kSupported}}, "tool_choice.function.")) return e;
    if (auto e = get_string(c["function"], "name", "tool_choice.function.name", &out->named)) return e;
    bool found = false;
    for (const Tool& t : out->tools) found = found || t.name == out->named;
    if (!found) {
      return invalid("tool_choice.function.name", "'tool_choice.function.name': no tool named \"" + out->named + "\" in 'tools'");
    }
    out->choice = ToolChoice::kNamed;
  } else {
    return invalid("tool_choice", "'tool_choice' must be a string or an object");
  }
  if (out->tools.empty() && out->choice != ToolChoice::kNone) {
    return invalid("tool_choice", "'tool_choice' is only allowed when 'tools' are given");
  }
  return std::nullopt;
}

// Local $refs of tool `prefix`'s schema, after its $defs moved to the root. Values (const,
// enum, default, examples) are data and left alone.
void rewrite_refs(Json& node, const std::string& prefix, bool* uses_root, bool name_map = false) {
  if (node.is_array()) {
    for (Json& x : node) rewrite_refs(x, prefix, uses_root);
    return;
  }
  if (!node.is_object()) return;
  for (auto& [key, value] : node.items()) {
    if (name_map) {  // {"<property name>": schema}: names are not keywords
      rewrite_refs(value, prefix, uses_root);
      continue;
    }
    if (key == "const" || key == "enum" || key == "default" || key == "examples") continue;
    if (key != "$ref" || !value.is_string()) {
      const bool map = key == "properties" || key == "patternProperties" || key == "$defs" ||
                       key == "definitions" || key == "dependentSchemas";
      rewrite_refs(value, prefix, uses_root, map);
      continue;
    }
    const std::string ref = value;
    bool done = false;
    for (const char* defs : {"#/$defs/", "#/definitions/"}) {
      if (!done && ref.rfind(defs, 0) == 0) {
        value = "#/$defs/" + prefix + ref.substr(std::strlen(defs));
        done = true;
      }
    }
    if (!done && (ref == "#" || ref.rfind("#/", 0) == 0)) {  // into the parameters themselves
      value = "#/$defs/" + prefix + "parameters" + ref.substr(1);
      *uses_root = true;
    }
  }
}

}  // namespace

std::vector<std::string> ToolPlan::callable() const {
  std::vector<std::string> names;
  for (const Tool& t : tools) {
    if (choice != ToolChoice::kNamed || t.name == named) names.push_back(t.name);
  }
  return names;
}

Error parse_messages(const Json& body, std::vector<ChatMessage>* out) {
  if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty()) {
    return invalid("messages", "'messages' must be a non-empty array");
  }
  const Json& msgs = body["messages"];
  for (size_t i = 0; i < msgs.size(); ++i) {
    ChatMessage m;
    if (auto e = parse_message(msgs[i], i, &m)) return e;
    out->push_back(std::move(m));
  }
  return std::nullopt;
}

Error parse_tools(const Json& body, ToolPlan* out) {
  if (body.contains("tools") && !body["tools"].is_null()) {
    const Json& tools = body["tools"];
    if (!tools.is_array()) return invalid("tools", "'tools' must be a list of {\"type\": \"function\", \"function\": {...}}");
    if (tools.size() > 128) return invalid("tools", "'tools' holds at most 128 tools");
    for (size_t i = 0; i < tools.size(); ++i) {
      Tool t;
      if (auto e = parse_tool(tools[i], i, &t)) return e;
      for (const Tool& other : out->tools) {
        if (other.name == t.name) {
          return invalid("tools[" + std::to_string(i) + "].function.name", "two tools are named \"" + t.name + "\"");
        }
      }
      out->tools.push_back(std::move(t));
    }
  }
  out->choice = out->tools.empty() ? ToolChoice::kNone : ToolChoice::kAuto;
  if (auto e = parse_tool_choice(body, out)) return e;
  return get_bool(body, "parallel_tool_calls", "parallel_tool_calls", &out->parallel);
}

Error chat_prompt(const std::vector<ChatMessage>& messages, const ToolPlan& tools, const Tokenizer& tokenizer,
                  bool add_generation_prompt, std::vector<TokenId>* ids) {
  std::vector<std::string> rendered;
  if (tools.active()) {
    for (const Tool& t : tools.tools) rendered.push_back(t.rendered);
  }
  auto text = render_chat(messages, add_generation_prompt, rendered);
  if (!text.ok()) return invalid("messages", text.status().message());
  *ids = tokenizer.encode(text.value(), true);
  return std::nullopt;
}

Json tool_call_schema(const ToolPlan& plan) {
  Json defs = Json::object();
  Json branches = Json::array();
  for (const Tool& t : plan.tools) {
    if (plan.choice == ToolChoice::kNamed && t.name != plan.named) continue;
    const std::string prefix = t.name + "__";
    Json params = t.parameters;
    bool uses_root = false;
    for (const char* key : {"$defs", "definitions"}) {
      if (params.contains(key) && params[key].is_object()) {
        for (auto& [name, def] : params[key].items()) {
          Json d = def;
          rewrite_refs(d, prefix, &uses_root);
          defs[prefix + name] = std::move(d);
        }
        params.erase(key);
      }
    }
    rewrite_refs(params, prefix, &uses_root);
    Json arguments = params;
    if (uses_root) {
      defs[prefix + "parameters"] = params;
      arguments = Json{{"$ref", "#/$defs/" + prefix + "parameters"}};
    }
    branches.push_back(Json{{"type", "object"},
                            {"properties", {{"name", {{"type", "string"}, {"const", t.name}}}, {"arguments", arguments}}},
                            {"required", {"name", "arguments"}},
                            {"additionalProperties", false}});
  }
  Json schema = branches.size() == 1 ? branches[0] : Json{{"anyOf", branches}};
  if (!defs.empty()) schema["$defs"] = defs;
  return schema;
}

}  // namespace ream::openai
