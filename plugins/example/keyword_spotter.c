/* keyword_spotter: an example ream plugin in plain C99.
 *
 * It shows the whole ABI in one file:
 *  - the descriptor with name, version, description, parameter and output schemas
 *    (REAM_DEFINE_PLUGIN from ream/plugin_descriptor.h writes it and the entry point);
 *  - plan: one prompt per document, the document first and the question last
 *    (so that prompts over the same document share the engine's prefix cache),
 *    budgeted with the host's token counter and context size, and constrained to
 *    the reply the plugin wants (here a GBNF grammar: one sentence);
 *  - reduce: findings with evidence located by byte offsets, outputs as JSON,
 *    warnings, and errors returned as a code plus a message.
 *
 * Parameters: {"keyword": "<text to look for>"} (required).
 * Findings: one "occurrence" per place the keyword appears (with its offsets),
 * and one "note" holding the model's reply. Outputs: occurrences, reply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ream/plugin.h"
#include "ream/plugin_descriptor.h"

static const char kParams[] =
    "{\"type\": \"object\", \"properties\": {\"keyword\": {\"type\": \"string\", "
    "\"description\": \"The word or phrase to spot\"}}, \"required\": [\"keyword\"], "
    "\"additionalProperties\": false}";
static const char kOutputs[] =
    "{\"occurrences\": {\"type\": \"integer\", \"description\": \"How many times the keyword appears\"}, "
    "\"reply\": {\"type\": \"string\", \"description\": \"The model's comment\"}}";

/* The reply's constraint: one sentence (a capital letter first, no line break, one
 * full stop, question or exclamation mark last), in llama.cpp's GBNF. The engine
 * lets the model write only such text. A plugin whose replies are JSON attaches a
 * JSON Schema the same way: REAM_CONSTRAINT_JSON_SCHEMA and the schema's text. */
static const char kOneSentence[] = "root ::= [A-Z] [^.!?\\n]* [.!?]\n";

static ream_str str_of(const char* s) {
  ream_str r;
  r.ptr = s;
  r.len = strlen(s);
  return r;
}

static ream_status fail(const ream_host* host, ream_call* call, ream_status code, const char* message) {
  host->set_error(call, str_of(message));
  return code;
}

/* Copies the string value of "keyword" out of the params JSON (which the host
 * produces compactly, with defaults applied). Escapes are kept as written: fine
 * for an example, a real plugin would use a JSON parser. Caller frees. */
static char* keyword_of(ream_str params) {
  const char* key = "\"keyword\":\"";
  const char* end = params.ptr + params.len;
  const char* p = params.ptr;
  size_t key_len = strlen(key);
  for (; p && p + key_len <= end; ++p) {
    if (memcmp(p, key, key_len) == 0) {
      const char* start = p + key_len;
      const char* q = start;
      while (q < end && *q != '"') q += (*q == '\\') ? 2 : 1;
      if (q > end) return NULL;
      char* out = malloc((size_t)(q - start) + 1);
      if (!out) return NULL;
      memcpy(out, start, (size_t)(q - start));
      out[q - start] = '\0';
      return out;
    }
  }
  return NULL;
}

static ream_status plan(const ream_host* host, ream_call* call, const ream_plan_input* in) {
  char* keyword = keyword_of(in->params_json);
  if (!keyword || !*keyword) {
    free(keyword);
    return fail(host, call, REAM_ERR_INVALID_ARGUMENT, "parameter 'keyword' must be a non-empty string");
  }
  for (size_t d = 0; d < in->document_count; ++d) {
    const ream_document* doc = &in->documents[d];
    /* Budget: the document must fit the context with room for the reply. */
    int64_t tokens = host->count_tokens(call, doc->text);
    if (tokens + 512 + host->prompt_overhead(call) > host->context_size(call)) {
      char msg[160];
      snprintf(msg, sizeof msg, "document %.*s does not fit the context (%lld tokens); skipped",
               (int)doc->id.len, doc->id.ptr, (long long)tokens);
      host->emit_warning(call, str_of(msg));
      continue;
    }
    size_t body_len = doc->text.len + strlen(keyword) + 200;
    char* body = malloc(body_len);
    if (!body) {
      free(keyword);
      return fail(host, call, REAM_ERR_NO_MEMORY, "out of memory");
    }
    /* Document first, question last. */
    snprintf(body, body_len, "<document>\n%.*s\n</document>\n\nIn one sentence: why does \"%s\" matter in this document?",
             (int)doc->text.len, doc->text.ptr, keyword);
    char key[32];
    snprintf(key, sizeof key, "doc%zu", d);
    ream_message messages[2];
    messages[0].role = str_of("system");
    messages[0].content = str_of("You are a concise analyst.");
    messages[1].role = str_of("user");
    messages[1].content = str_of(body);
    ream_prompt prompt;
    memset(&prompt, 0, sizeof prompt);
    prompt.struct_size = sizeof prompt;
    prompt.key = str_of(key);
    prompt.messages = messages;
    prompt.message_count = 2;
    prompt.max_tokens = 64;
    prompt.temperature = -1.0f; /* the workflow's default */
    /* Fields appended to ream_prompt later than the others: a host that predates them
     * sends the prompt unconstrained, so reduce takes any reply (it does). */
    prompt.constraint_kind = REAM_CONSTRAINT_GRAMMAR;
    prompt.constraint.ptr = kOneSentence;
    prompt.constraint.len = sizeof kOneSentence - 1;
    ream_status rc = host->emit_prompt(call, &prompt);  /* the host copies the prompt */
    free(body);
    if (rc != REAM_OK) {
      free(keyword);
      return rc;
    }
  }
  free(keyword);
  return REAM_OK;
}

static ream_status reduce(const ream_host* host, ream_call* call, const ream_reduce_input* in) {
  char* keyword = keyword_of(in->params_json);
  if (!keyword) return fail(host, call, REAM_ERR_INVALID_ARGUMENT, "parameter 'keyword' is missing");
  size_t klen = strlen(keyword);
  long long occurrences = 0;
  for (size_t d = 0; d < in->document_count; ++d) {
    const ream_document* doc = &in->documents[d];
    const char* text = doc->text.ptr;
    for (size_t i = 0; klen && i + klen <= doc->text.len; ++i) {
      if (memcmp(text + i, keyword, klen) != 0) continue;
      ++occurrences;
      ream_evidence ev;
      memset(&ev, 0, sizeof ev);
      ev.struct_size = sizeof ev;
      ev.document_id = doc->id;
      ev.quote.ptr = text + i;
      ev.quote.len = klen;
      ev.start = (int64_t)i; /* offsets into doc->text; the host maps chunks to the whole document */
      ev.end = (int64_t)(i + klen);
      ream_finding f;
      memset(&f, 0, sizeof f);
      f.struct_size = sizeof f;
      f.severity = REAM_SEVERITY_INFO;
      f.kind = str_of("occurrence");
      f.title = str_of(keyword);
      f.text = str_of("The keyword appears here.");
      f.evidence = &ev;
      f.evidence_count = 1;
      f.confidence = 1.0;
      ream_status rc = host->emit_finding(call, &f);
      if (rc != REAM_OK) {
        free(keyword);
        return rc;
      }
    }
  }
  for (size_t r = 0; r < in->reply_count; ++r) {
    ream_finding note;
    memset(&note, 0, sizeof note);
    note.struct_size = sizeof note;
    note.kind = str_of("note");
    note.title = str_of("Model comment");
    note.text = in->replies[r].text;
    note.confidence = -1.0;
    note.details_json = str_of("{\"source\": \"model\"}");
    ream_status rc = host->emit_finding(call, &note);
    if (rc != REAM_OK) {
      free(keyword);
      return rc;
    }
  }
  free(keyword);
  char count[32];
  snprintf(count, sizeof count, "%lld", occurrences);
  host->emit_output(call, str_of("occurrences"), str_of(count));
  /* A JSON string needs quoting and escaping: keep only safe characters. */
  size_t n = in->reply_count ? in->replies[0].text.len : 0;
  char* reply = malloc(n + 3);
  if (!reply) return fail(host, call, REAM_ERR_NO_MEMORY, "out of memory");
  size_t w = 0;
  reply[w++] = '"';
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = (unsigned char)in->replies[0].text.ptr[i];
    reply[w++] = (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) ? ' ' : (char)c;
  }
  reply[w++] = '"';
  ream_str value = {reply, w};
  ream_status rc = host->emit_output(call, str_of("reply"), value);
  free(reply);
  return rc;
}

/* The descriptor and the one exported symbol, REAM_PLUGIN_ENTRY, which hands the
 * descriptor only to a host of this ABI version (ream/plugin_descriptor.h). */
REAM_DEFINE_PLUGIN("keyword_spotter", "0.1.0",
                   "Example plugin: finds a keyword in each document and asks the model why it matters.",
                   kParams, kOutputs, plan, reduce)
