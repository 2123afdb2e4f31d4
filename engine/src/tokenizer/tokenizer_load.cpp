// Loads a Hugging Face tokenizer.json (+ tokenizer_config.json) into Tokenizer::Impl.
// Supported: model BPE over byte-level symbols, normalizer NFC or none, pre-tokenizer
// Split(Qwen2 pattern, Isolated) followed by ByteLevel. Anything else is refused with
// an Unimplemented status naming the file and the field, rather than mis-tokenizing.
#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer_impl.h"

namespace ream::tok {

namespace {

using nlohmann::json;

constexpr std::string_view kQwen2Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

Result<json> read_json(const std::string& path, bool& missing) {
  std::ifstream in(path, std::ios::binary);
  missing = !in;
  if (!in) return not_found(path + ": cannot open file");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::exception& e) {
    return data_loss(path + ": bad JSON: " + e.what());
  }
}

Status check_normalizer(const json& n, Tokenizer::Impl& impl) {
  if (n.is_null()) return {};
  std::string type = n.value("type", "");
  if (type == "NFC") {
    impl.nfc = true;
    return {};
  }
  if (type == "Sequence" && n.contains("normalizers")) {
    for (const json& sub : n["normalizers"]) REAM_RETURN_IF_ERROR(check_normalizer(sub, impl));
    return {};
  }
  return unimplemented("normalizer type '" + type + "' is not supported (only NFC)");
}

Status check_pre_tokenizer(const json& p) {
  const char* want = "pre_tokenizer must be Sequence[Split(Qwen2 pattern, Isolated), ByteLevel]";
  if (p.value("type", "") != "Sequence" || !p.contains("pretokenizers")) return unimplemented(want);
  const json& seq = p["pretokenizers"];
  if (seq.size() != 2) return unimplemented(want);
  const json& split = seq[0];
  const json& byte_level = seq[1];
  if (split.value("type", "") != "Split" || split.value("behavior", "") != "Isolated" ||
      split.value("invert", false) || !split.contains("pattern") ||
      split["pattern"].value("Regex", "") != kQwen2Pattern) {
    return unimplemented(std::string(want) + "; the Split step differs");
  }
  if (byte_level.value("type", "") != "ByteLevel" ||
      byte_level.value("add_prefix_space", false) || byte_level.value("use_regex", false)) {
    return unimplemented(std::string(want) + "; the ByteLevel step differs");
  }
  return {};
}

Result<std::vector<std::pair<std::string, std::string>>> read_merges(const json& merges) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    if (m.is_array() && m.size() == 2) {
      out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
        return invalid_argument("model.merges[" + std::to_string(i) + "]: expected 'a b', got '" +
                                s + "'");
      }
      out.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else {
      return invalid_argument("model.merges[" + std::to_string(i) +
                              "]: expected a [a, b] pair or an 'a b' string");
    }
  }
  return out;
}

Status load_model(const json& model, Tokenizer::Impl& impl) {
  std::string type = model.value("type", "BPE");
  if (type != "BPE") return unimplemented("model type '" + type + "' is not supported (only BPE)");
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    return invalid_argument("model.vocab is missing or not an object");
  }
  if (!model.contains("merges") || !model["merges"].is_array()) {
    return invalid_argument("model.merges is missing or not an array");
  }
  if (model.value("byte_fallback", false)) return unimplemented("model.byte_fallback is not supported");
  auto str_or_empty = [&](const char* key) {
    return model.contains(key) && model[key].is_string() ? model[key].get<std::string>() : "";
  };
  if (!str_or_empty("continuing_subword_prefix").empty() ||
      !str_or_empty("end_of_word_suffix").empty()) {
    return unimplemented("model.continuing_subword_prefix / end_of_word_suffix are not supported");
  }
  std::unordered_map<std::string, TokenId> vocab;
  vocab.reserve(model["vocab"].size() * 2);
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
    vocab.emplace(it.key(), it.value().get<TokenId>());
  }
  REAM_ASSIGN_OR_RETURN(auto merges, read_merges(model["merges"]));
  REAM_ASSIGN_OR_RETURN(impl.bpe, BpeModel::build(std::move(vocab), merges));
  return {};
}

Status load_added_tokens(const json& list, Tokenizer::Impl& impl) {
  if (list.is_null()) return {};
  for (size_t i = 0; i < list.size(); ++i) {
    const json& t = list[i];
    std::string where = "added_tokens[" + std::to_string(i) + "]";
    if (!t.contains("content") || !t.contains("id")) {
      return invalid_argument(where + ": needs 'content' and 'id'");
    }
    if (t.value("single_word", false) || t.value("lstrip", false) || t.value("rstrip", false)) {
      return unimplemented(where + ": single_word/lstrip/rstrip are not supported");
    }
    AddedToken a{t["content"].get<std::string>(), t["id"].get<TokenId>(), t.value("special", false)};
    if (a.content.empty()) return invalid_argument(where + ": empty content");
    impl.added_by_content[a.content] = impl.added.size();
    impl.added_by_id[a.id] = impl.added.size();
    impl.added.push_back(std::move(a));
  }
  for (size_t i = 0; i < impl.added.size(); ++i) {
    impl.added_by_first_byte[static_cast<unsigned char>(impl.added[i].content[0])].push_back(i);
  }
  for (auto& bucket : impl.added_by_first_byte) {
    std::stable_sort(bucket.begin(), bucket.end(), [&](size_t a, size_t b) {
      return impl.added[a].content.size() > impl.added[b].content.size();
    });
  }
  return {};
}

// eos_token / pad_token are a string or {"content": ...}.
TokenId config_token(const json& config, const char* key, const Tokenizer::Impl& impl) {
  if (!config.contains(key)) return -1;
  const json& v = config[key];
  std::string name;
  if (v.is_string()) name = v.get<std::string>();
  else if (v.is_object() && v.contains("content") && v["content"].is_string()) name = v["content"];
  else return -1;
  auto it = impl.added_by_content.find(name);
  if (it != impl.added_by_content.end()) return impl.added[it->second].id;
  return impl.bpe->token_to_id(name);
}

Status load_config(const std::string& path, Tokenizer::Impl& impl) {
  bool missing = false;
  auto config = read_json(path, missing);
  if (missing) return {};  // optional
  if (!config.ok()) return config.status();
  const json& c = config.value();
  if (!c.is_object()) return data_loss(path + ": expected a JSON object");
  impl.eos_id = config_token(c, "eos_token", impl);
  impl.pad_id = config_token(c, "pad_token", impl);
  if (c.contains("chat_template")) {
    const json& t = c["chat_template"];
    if (t.is_string()) {
      impl.chat_template = t.get<std::string>();
    } else if (t.is_array()) {  // [{"name": "default", "template": ...}, ...]
      for (const json& e : t) {
        if (e.value("name", "") == "default") impl.chat_template = e.value("template", "");
      }
    }
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Tokenizer::Impl>> load_tokenizer_impl(const std::string& dir) {
  auto impl = std::make_unique<Tokenizer::Impl>();
  std::string path = dir + "/tokenizer.json";
  bool missing = false;
  REAM_ASSIGN_OR_RETURN(json root, read_json(path, missing));
  try {
    if (!root.is_object()) return data_loss(path + ": expected a JSON object");
    if (!root.contains("model")) return invalid_argument(path + ": no 'model' field");
    REAM_RETURN_IF_ERROR(load_model(root["model"], *impl).with_context(path));
    REAM_RETURN_IF_ERROR(check_normalizer(root.value("normalizer", json()), *impl).with_context(path));
    REAM_RETURN_IF_ERROR(check_pre_tokenizer(root.value("pre_tokenizer", json())).with_context(path));
    REAM_RETURN_IF_ERROR(load_added_tokens(root.value("added_tokens", json()), *impl).with_context(path));
  } catch (const json::exception& e) {
    return data_loss(path + ": unexpected structure: " + e.what());
  }
  impl->vocab_size = impl->bpe->id_limit();
  for (const AddedToken& a : impl->added) impl->vocab_size = std::max(impl->vocab_size, a.id + 1);
  try {
    REAM_RETURN_IF_ERROR(load_config(dir + "/tokenizer_config.json", *impl));
  } catch (const json::exception& e) {
    return data_loss(dir + "/tokenizer_config.json: unexpected structure: " + e.what());
  }
  return impl;
}

}  // namespace ream::tok
