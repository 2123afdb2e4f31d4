/* ream plugin C ABI: the only header a ream plugin includes.
 *
 * A plugin is a shared library that turns documents into prompts for the model
 * (plan) and the model's replies into findings and outputs (reduce). It exports
 * exactly one symbol, REAM_PLUGIN_ENTRY (`ream_plugin_entry`), which returns a
 * pointer to a static, immutable `ream_plugin` descriptor.
 *
 * Versioning (chosen after SQLite's extension entry point, PostgreSQL's module
 * magic block and OBS's module version check):
 *  - REAM_PLUGIN_ABI_VERSION is the major version. The first two fields of
 *    `ream_plugin` (struct_size, abi_version) never move, so a host can always read
 *    them. A host loads a plugin only when the plugin's abi_version equals its own;
 *    otherwise it refuses with a message naming both versions. The entry function
 *    also receives the host's version and may return NULL to refuse an older host.
 *  - Compatible growth happens by appending fields to the end of a struct. Every
 *    struct that crosses the boundary starts with `struct_size` (sizeof as the
 *    writer compiled it); a reader uses a field only when REAM_HAS_FIELD says the
 *    writer's struct contains it, and treats a missing field as zero.
 *
 * Strings cross as `ream_str` (pointer + length, UTF-8, not NUL-terminated; a
 * zero length means empty and the pointer may then be NULL). No C++ type, no
 * exception and no allocation ownership ever crosses the boundary:
 *  - Everything the host passes to a callback is owned by the host and valid only
 *    until that callback returns. Copy what you need to keep.
 *  - Everything a plugin passes to a host function (prompts, findings, outputs,
 *    messages) is borrowed for the duration of that host call only: the host
 *    copies it before returning, so stack buffers are fine.
 *  - The descriptor and the strings in it are owned by the plugin and must stay
 *    valid and unchanged until the library is unloaded (use static storage).
 *
 * Errors: callbacks return a ream_status code. Before returning a non-OK code a
 * plugin should call host->set_error(call, message); the host fails the step with
 * that message (and may retry it, per the workflow's `retry`).
 *
 * Threading: the host may call plan/reduce of one plugin from several threads at
 * once with different `call` handles. Callbacks must be reentrant (no mutable
 * global state without locking). Host functions may be called from the callback's
 * thread only, and only while the callback runs.
 */
#ifndef REAM_PLUGIN_H_
#define REAM_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI major version this header describes. */
#define REAM_PLUGIN_ABI_VERSION 1u

/* The name of the one exported symbol. */
#define REAM_PLUGIN_ENTRY ream_plugin_entry
#define REAM_PLUGIN_ENTRY_NAME "ream_plugin_entry"

#if defined(_WIN32)
#define REAM_PLUGIN_EXPORT __declspec(dllexport)
#else
#define REAM_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* True when a struct written with `(p)->struct_size` contains `field`. */
#define REAM_HAS_FIELD(p, type, field) \
  ((p)->struct_size >= offsetof(type, field) + sizeof(((type*)0)->field))

/* Builds a ream_str from a string literal (C and C++). */
#define REAM_LITERAL(s) { (s), sizeof(s) - 1 }

typedef struct ream_str {
  const char* ptr; /* UTF-8 bytes; may be NULL when len == 0 */
  size_t len;      /* bytes */
} ream_str;

/* Result codes of callbacks and host functions. */
typedef int32_t ream_status;
#define REAM_OK 0
#define REAM_ERR_INVALID_ARGUMENT 1 /* bad parameters or documents */
#define REAM_ERR_FAILED 2           /* the work failed; the message says why */
#define REAM_ERR_UNSUPPORTED 3      /* valid request the plugin cannot serve */
#define REAM_ERR_NO_MEMORY 4
#define REAM_ERR_LIMIT 5            /* a host limit was hit (too many prompts, too large) */

/* Log levels for host->log. */
#define REAM_LOG_DEBUG 0
#define REAM_LOG_INFO 1
#define REAM_LOG_WARN 2
#define REAM_LOG_ERROR 3

/* Severities of findings. */
#define REAM_SEVERITY_INFO 0
#define REAM_SEVERITY_LOW 1
#define REAM_SEVERITY_MEDIUM 2
#define REAM_SEVERITY_HIGH 3
#define REAM_SEVERITY_CRITICAL 4

/* Opaque handle of one callback invocation; owned by the host, valid only during
 * the callback it was passed to. */
typedef struct ream_call ream_call;

/* One document, or one chunk of a document when the workflow iterates over chunks. */
typedef struct ream_document {
  uint32_t struct_size;
  uint32_t reserved;
  ream_str id;          /* stable id of the whole document within the job ("doc-1") */
  ream_str path;        /* where it came from (file path or name); may be empty */
  ream_str text;        /* the normalised UTF-8 text given to this call (the chunk, when chunked) */
  int64_t base_offset;  /* byte offset of text[0] in the whole document; 0 when not chunked */
  int64_t total_bytes;  /* size of the whole document's text in bytes */
  int32_t chunk_index;  /* 0-based chunk number, or -1 when text is the whole document */
  int32_t chunk_count;  /* number of chunks, or 0 when not chunked */
  int64_t token_count;  /* tokens in `text` per the engine's tokenizer; -1 if unknown */
} ream_document;

/* One chat message. role is "system", "user" or "assistant". */
typedef struct ream_message {
  ream_str role;
  ream_str content;
} ream_message;

/* What a prompt's reply must be (ream_prompt.constraint_kind). The engine allows
 * only tokens that keep the reply inside the constraint's language and ends the
 * reply when the language is complete. */
#define REAM_CONSTRAINT_NONE 0         /* unconstrained: the step's reply_schema applies, if it has one */
#define REAM_CONSTRAINT_JSON_OBJECT 1  /* any JSON object; `constraint` empty */
#define REAM_CONSTRAINT_JSON_SCHEMA 2  /* `constraint`: a JSON Schema (JSON text, an object) */
#define REAM_CONSTRAINT_REGEX 3        /* `constraint`: a regular expression the whole reply matches */
#define REAM_CONSTRAINT_GRAMMAR 4      /* `constraint`: a GBNF grammar (llama.cpp's syntax), start symbol root */

/* A prompt the plugin asks the host to send to the model. Put the document first
 * and the question last: prompts sharing a prefix share the engine's prefix cache. */
typedef struct ream_prompt {
  uint32_t struct_size;
  int32_t max_tokens;              /* reply length limit; 0 = the workflow's default */
  ream_str key;                    /* plugin's id for this prompt, unique in the call; echoed in ream_reply */
  const ream_message* messages;    /* chat messages, rendered with the model's chat template */
  size_t message_count;            /* 0 = use `text` as the raw prompt instead */
  ream_str text;                   /* raw prompt text (no template) when message_count == 0 */
  float temperature;               /* < 0 = the workflow's default */
  int32_t reserved;
  /* Appended in ream 0.2 (compatible growth, ABI version 1 unchanged). The reply's
   * constraint: it wins over the step's `reply_schema`, as max_tokens wins over the
   * workflow's engine.max_tokens. A host that predates these fields (or an engine
   * that does not enforce constraints) sends the prompt unconstrained, so reduce
   * must still handle any reply. A JSON Schema that is not a JSON object, an unknown
   * kind, or a kind and text that do not go together is an error of emit_prompt
   * naming the prompt's key. */
  int32_t constraint_kind;         /* REAM_CONSTRAINT_*; 0 = none */
  int32_t reserved2;
  ream_str constraint;             /* schema / regex / grammar text, per constraint_kind */
} ream_prompt;

/* The model's answer to one prompt, given back to reduce. */
typedef struct ream_reply {
  uint32_t struct_size;
  uint32_t reserved;
  ream_str key;            /* the prompt's key */
  ream_str text;           /* the reply text */
  ream_str finish_reason;  /* "stop", "length", ... */
  int64_t prompt_tokens;
  int64_t completion_tokens;
  int64_t cached_prompt_tokens;
} ream_reply;

/* A quote supporting a finding. Offsets are byte offsets into the `text` of the
 * document with `document_id` as it was passed to this call; the host maps them
 * onto the whole document and verifies that the quote is really there (locating it
 * itself when the offsets are -1 or wrong). */
typedef struct ream_evidence {
  uint32_t struct_size;
  uint32_t reserved;
  ream_str document_id;
  ream_str quote;
  int64_t start;  /* byte offset of the quote's first byte, or -1 if unknown */
  int64_t end;    /* one past its last byte, or -1 if unknown */
} ream_evidence;

/* One result of a step. */
typedef struct ream_finding {
  uint32_t struct_size;
  int32_t severity;              /* REAM_SEVERITY_* */
  ream_str kind;                 /* what sort of result: "answer", "summary", "clause", "issue" */
  ream_str category;             /* domain category ("Governing Law", "CWE-89"); may be empty */
  ream_str title;                /* one line */
  ream_str text;                 /* the body (Markdown allowed) */
  const ream_evidence* evidence; /* array of evidence_count quotes; may be NULL */
  size_t evidence_count;
  double confidence;             /* 0..1, or < 0 when unknown */
  ream_str details_json;         /* a JSON object with anything else; may be empty */
} ream_finding;

/* Host services, passed to every callback. Function pointers are never NULL in
 * a host speaking this ABI version; fields appended later are checked with
 * REAM_HAS_FIELD(host, ream_host, field). */
typedef struct ream_host {
  uint32_t struct_size;
  uint32_t abi_version;  /* the host's REAM_PLUGIN_ABI_VERSION */

  /* Engine facts, for budgeting prompts. */
  int64_t (*count_tokens)(ream_call* call, ream_str text); /* tokens of `text` (no template) */
  int64_t (*context_size)(ream_call* call);                /* max prompt + reply tokens */
  int64_t (*prompt_overhead)(ream_call* call);             /* tokens the chat template adds around a small message list */
  void (*log)(ream_call* call, int32_t level, ream_str message);

  /* Results. Each returns REAM_OK or an error code (REAM_ERR_INVALID_ARGUMENT
   * for malformed input, REAM_ERR_LIMIT when a host limit is hit), in which case
   * the plugin should stop and return that code. */
  ream_status (*emit_prompt)(ream_call* call, const ream_prompt* prompt);       /* plan and reduce */
  ream_status (*emit_finding)(ream_call* call, const ream_finding* finding);    /* reduce only */
  ream_status (*emit_output)(ream_call* call, ream_str name, ream_str json_value); /* reduce only */
  ream_status (*emit_warning)(ream_call* call, ream_str message);               /* plan and reduce */
  /* Carries state to the next reduce round (see ream_reduce_input); from plan,
   * to round 0. */
  ream_status (*set_state)(ream_call* call, ream_str json_value);
  /* Sets the message reported with a non-OK return code. */
  void (*set_error)(ream_call* call, ream_str message);
} ream_host;

/* What plan receives. */
typedef struct ream_plan_input {
  uint32_t struct_size;
  uint32_t reserved;
  const ream_document* documents; /* the step's documents (one when iterating) */
  size_t document_count;
  ream_str params_json;  /* the step's resolved `with:` parameters, a JSON object, defaults applied */
  ream_str item_json;    /* the current `foreach` item as JSON, or empty */
} ream_plan_input;

/* What reduce receives. Reduce runs in rounds: round 0 gets the replies to the
 * prompts emitted by plan. If reduce emits prompts, the host sends them and calls
 * reduce again (round + 1) with their replies only, plus the JSON the previous
 * round passed to set_state. The step ends after a round that emits no prompts.
 * Findings, outputs and warnings of all rounds are kept. */
typedef struct ream_reduce_input {
  uint32_t struct_size;
  int32_t round;
  const ream_document* documents;
  size_t document_count;
  ream_str params_json;
  ream_str item_json;
  const ream_reply* replies;
  size_t reply_count;
  ream_str state_json;   /* set_state of the previous round, or empty */
} ream_reduce_input;

typedef ream_status (*ream_plan_fn)(const ream_host* host, ream_call* call,
                                    const ream_plan_input* input);
typedef ream_status (*ream_reduce_fn)(const ream_host* host, ream_call* call,
                                      const ream_reduce_input* input);

/* The plugin descriptor: static, immutable, owned by the plugin. */
typedef struct ream_plugin {
  uint32_t struct_size;   /* sizeof(ream_plugin) as the plugin compiled it; never moves */
  uint32_t abi_version;   /* REAM_PLUGIN_ABI_VERSION the plugin was built with; never moves */
  ream_str name;          /* [a-z0-9_]+, how workflows name it (`plugin: long_qa`) */
  ream_str version;       /* the plugin's own version, semver */
  ream_str description;   /* one paragraph */
  /* JSON Schema (subset: type, properties, required, default, enum, minimum,
   * maximum, items, description, additionalProperties) of the `with:` object. */
  ream_str params_schema;
  /* JSON object: output name -> {"type": ..., "description": ...}. Workflows may
   * reference only the outputs declared here. */
  ream_str outputs_schema;
  ream_plan_fn plan;      /* required */
  ream_reduce_fn reduce;  /* required */
} ream_plugin;

/* The one exported symbol. `host_abi_version` is the host's
 * REAM_PLUGIN_ABI_VERSION. Returns the static descriptor, or NULL to refuse a host
 * version the plugin cannot serve. Must not allocate, block or have side effects:
 * hosts call it to read the manifest without running anything. */
typedef const ream_plugin* (*ream_plugin_entry_fn)(uint32_t host_abi_version);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* REAM_PLUGIN_H_ */
