// vLLM's /tokenize and /detokenize.
//   /tokenize {"prompt": TEXT, "add_special_tokens"?, "return_token_strs"?} or
//             {"messages": [...], "tools"?, "add_generation_prompt"? (true), "add_special_tokens"?,
//              "return_token_strs"?}
//          -> {"count", "max_model_len", "tokens", "token_strs": [...] | null}
//   /detokenize {"tokens": [ids]} -> {"prompt": TEXT}
// `model` is optional in both and checked as in the completions routes. Qwen3's tokenizer adds
// no special tokens of its own, so add_special_tokens changes nothing; token_strs are the
// tokenizer.json spellings ("Ġworld"), as transformers' convert_ids_to_tokens gives.
#pragma once

#include "openai/protocol.h"

namespace ream::openai {

Error tokenize(const Json& body, const ModelInfo& model, Json* response);
Error detokenize(const Json& body, const ModelInfo& model, Json* response);

}  // namespace ream::openai
