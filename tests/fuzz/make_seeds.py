#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/ (small, real-looking inputs).

Seeds come from the documentation's examples (docs/api.md), the shipped workflows, the
test data (tokenizer goldens, the tiny models' configs, the 10-K) and the system's
zoneinfo files. Run from anywhere; it rewrites the seed-*.* files and leaves every other
file (crash reproducers, inputs found by long runs) alone.

  python3 tests/fuzz/make_seeds.py
"""
import json
import os
import re
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")
DOCS = "/tmp/ream-fuzz-job-docs"  # fuzz_job_body.cpp's allowed root


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def crlf(*lines):
    return "\r\n".join(lines)


def http_request():
    body = json.dumps({"workflow": "summarize", "inputs": {"documents": ["/srv/contracts/msa.txt"]}})
    put("http_request", "healthz.txt", crlf("GET /healthz HTTP/1.1", "Host: 127.0.0.1:8080", "", ""))
    put("http_request", "submit.txt", crlf(
        "POST /v1/jobs HTTP/1.1", "Host: 127.0.0.1:8080", "Authorization: Bearer k-submitter",
        "Content-Type: application/json", "Idempotency-Key: nightly-2025-01-06",
        "Content-Length: %d" % len(body), "", body))
    put("http_request", "list-query.txt", crlf(
        "GET /v1/jobs?status=failed&limit=20&cursor=123&q=a%20b+c HTTP/1.1", "Host: x",
        "Authorization: Bearer k-reader", "X-Request-Id: my-req-1", "", ""))
    put("http_request", "pipelined.txt", crlf(
        "GET /v1/jobs/17 HTTP/1.1", "Host: x", "Authorization: Bearer k-reader", "", "") + crlf(
        "HEAD /v1/jobs/17 HTTP/1.1", "Host: x", "Authorization: Bearer k-reader", "", "") + crlf(
        "DELETE /v1/jobs/17 HTTP/1.1", "Host: x", "Authorization: Bearer k-submitter",
        "Connection: close", "", ""))
    chunked = crlf("POST /v1/jobs HTTP/1.1", "Host: x", "Authorization: Bearer k-admin",
                   "Transfer-Encoding: chunked", "Content-Type: application/json", "", "")
    chunked += "%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    put("http_request", "chunked.txt", chunked)
    put("http_request", "expect-continue.txt", crlf(
        "POST /v1/chat/completions HTTP/1.1", "Host: x", "Authorization: Bearer k-submitter",
        "Expect: 100-continue", "Content-Type: application/json", "Content-Length: 46", "",
        '{"messages":[{"role":"user","content":"Hi"}]}'))
    part = crlf("--XyZ", 'Content-Disposition: form-data; name="file"; filename="contract.md"',
                "Content-Type: text/markdown", "", "# Contract", "Term: two years.", "--XyZ--", "")
    put("http_request", "multipart.txt", crlf(
        "POST /v1/documents?name=contract.md HTTP/1.1", "Host: x", "Authorization: Bearer k-submitter",
        "Content-Type: multipart/form-data; boundary=XyZ", "Content-Length: %d" % len(part), "", part))
    put("http_request", "events.txt", crlf(
        "GET /v1/jobs/17/events?after=40 HTTP/1.1", "Host: x", "Authorization: Bearer k-reader",
        "Accept: text/event-stream", "Last-Event-ID: 41", "", ""))
    put("http_request", "encoded-path.txt", crlf(
        "GET /v1/models/Qwen%2FQwen3-4B/Instruct%20x HTTP/1.1", "Host: x",
        "Authorization: bearer k-reader", "", ""))
    put("http_request", "admin-forbidden.txt", crlf(
        "POST /v1/admin/reload HTTP/1.1", "Host: x", "Authorization: Bearer k-reader",
        "Content-Length: 0", "", ""))
    put("http_request", "http10.txt", "GET /readyz HTTP/1.0\r\n\r\n")


def multipart():
    put("multipart", "curl-file.txt", "multipart/form-data; boundary=------------------------d74496d66958873e\n" + crlf(
        "--------------------------d74496d66958873e",
        'Content-Disposition: form-data; name="file"; filename="contract.md"',
        "Content-Type: text/markdown", "", "# Master Services Agreement", "", "1. Term. Two years.",
        "--------------------------d74496d66958873e--", ""))
    put("multipart", "two-parts.txt", 'multipart/form-data; charset=utf-8; boundary="b1"\n' + crlf(
        "--b1", 'Content-Disposition: form-data; name="name"', "", "msa.txt",
        "--b1", 'content-disposition: form-data; name="file"; filename="msa.txt"', "", "text body", "--b1--"))
    put("multipart", "no-file.txt", "multipart/form-data; boundary=zz\n" + crlf(
        "--zz", 'Content-Disposition: form-data; name="other"', "", "x", "--zz--"))


def job_body():
    bodies = {
        "summarize-path": {"workflow": "summarize", "inputs": {"documents": [DOCS + "/contract.txt"], "max_words": 50}},
        "summarize-inline": {"workflow": "summarize", "inputs": {"documents": [
            {"text": "Either party may terminate on 30 days' notice.", "name": "notes.md"}], "max_tokens": 16}},
        "long-qa": {"workflow": "long_qa", "priority": 0, "inputs": {"document": DOCS + "/filing.html",
                    "questions": ["Who may terminate?", "What is the revenue?"], "max_quotes": 2}},
        "long-qa-upload": {"workflow": "long_qa", "inputs": {"document": {"document_id": "3f9c" + "0" * 60},
                           "questions": ["Who may terminate?"]}},
        "legal-review": {"workflow": "legal_review", "priority": -10, "inputs": {
            "contracts": [DOCS + "/contract.txt", DOCS + "/report.pdf"], "categories": ["Governing Law", "Renewal Term"],
            "risk_tolerance": "low", "executive_summary": False}},
        "financial": {"workflow": "financial_diligence", "inputs": {"filings": [DOCS + "/filing.html"],
                      "areas": ["financial", "debt"], "materiality_threshold": 1000000.5, "cross_check": True}},
        "code-audit": {"workflow": "code_audit", "inputs": {"source": [DOCS + "/tree"], "languages": ["C", "Python"],
                       "severity_floor": "medium", "exclude": ["tests/"]}},
        "outside-root": {"workflow": "summarize", "inputs": {"documents": ["/etc/passwd", DOCS + "/../../etc/hosts"]}},
        "bad-types": {"workflow": "summarize", "inputs": {"documents": [{"text": "x", "name": 123}], "max_words": "5"}},
    }
    for name, body in bodies.items():
        put("job_body", name + ".json", json.dumps(body))


def chat_body():
    bodies = {
        "chat": {"messages": [{"role": "system", "content": "Answer in one line."}, {"role": "user", "content": "Say hi"}],
                 "max_completion_tokens": 64, "temperature": 0.7},
        "chat-stream": {"model": "Qwen/Qwen3-4B-Instruct-2507", "messages": [{"role": "user", "content": "Say hi"}],
                        "max_tokens": 64, "stream": True, "stream_options": {"include_usage": True}},
        "json-schema": {"messages": [{"role": "user", "content": "A river and its length as JSON"}], "max_tokens": 100,
                        "response_format": {"type": "json_schema", "json_schema": {"name": "river", "strict": True, "schema": {
                            "type": "object", "properties": {"river": {"type": "string"}, "length_km": {"type": "integer"}},
                            "required": ["river", "length_km"], "additionalProperties": False}}}},
        "json-object": {"messages": [{"role": "user", "content": "JSON please"}], "response_format": {"type": "json_object"},
                        "n": 2, "seed": 7, "logprobs": True, "top_logprobs": 3},
        "tools": {"messages": [{"role": "user", "content": "What is the weather in Oslo?"}], "max_tokens": 100,
                  "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
                  "tool_choice": "required"},
        "tool-reply": {"messages": [{"role": "user", "content": "Weather?"},
                                    {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function",
                                     "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
                                    {"role": "tool", "tool_call_id": "call_1", "content": "12 C"}],
                       "stop": ["\n\n", "END"], "top_k": 20, "min_p": 0.05, "logit_bias": {"151645": -100}},
        "completion": {"prompt": "The termination clause says", "max_tokens": 16, "logprobs": 2},
        "completion-ids": {"prompt": [[785, 34408, 21647, 2727], [9707]], "n": 2, "max_tokens": 8, "seed": 7, "echo": True},
        "completion-schema": {"prompt": ["Date: ", "Amount: "], "max_tokens": 40, "response_format": {
            "type": "json_schema", "json_schema": {"name": "d", "schema": {"type": "object", "properties": {
                "date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}, "kind": {"enum": ["a", "b", 3]},
                "n": {"type": "number", "minimum": 0}, "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3}},
                "required": ["date"]}}}},
        "tokenize": {"prompt": "Either party may terminate", "return_token_strs": True},
        "tokenize-messages": {"messages": [{"role": "user", "content": "Hi"}], "add_generation_prompt": True},
        "detokenize": {"tokens": [151644, 872, 198, 13048, 151645]},
    }
    for name, body in bodies.items():
        put("chat_body", name + ".json", json.dumps(body))


def workflow_yaml():
    wdir = os.path.join(ROOT, "workflows")
    for f in sorted(os.listdir(wdir)):
        if f.endswith(".yaml"):
            with open(os.path.join(wdir, f), "rb") as src:
                put("workflow_yaml", f, src.read())
    put("workflow_yaml", "scheduled.yaml", """name: nightly_digest
version: "1.0"
description: A scheduled summary with a condition and a foreach.
inputs:
  documents: {type: documents}
  strict: {type: boolean, default: false}
engine: {temperature: 0.7, max_tokens: 256}
schedule:
  - name: weekdays
    cron: "30 6 * * 1-5"
    timezone: Europe/Berlin
    inputs: {documents: ["/srv/reports/today.txt"]}
    overlap: buffer_one
    missed: skip
steps:
  - id: summarize
    plugin: summarize
    foreach: {documents: "${{ inputs.documents }}"}
    with: {max_words: 80}
  - id: qa
    plugin: long_qa
    needs: [summarize]
    when: "${{ inputs.strict && steps.summarize.status == 'succeeded' }}"
    foreach: {document: "${{ inputs.documents }}"}
    with: {questions: ["What changed?"]}
outputs:
  summaries: "${{ steps.summarize.outputs.summaries }}"
""")


def expr():
    for i, e in enumerate([
        "inputs.max_tokens",
        "steps.extract.outputs.findings[0].category == 'Term' && length(inputs.documents) > 1",
        "!inputs.strict || contains(inputs.questions, 'What is the term?')",
        "join(item.tags, ', ')",
        "toJSON(steps['extract'].outputs)",
        "(job.id >= 40) && (1.5 < 2) || null",
        "item['path'] != 'It''s'",
        "Summary of ${{ item.path }}: ${{ toJSON(steps.extract.outputs.count) }} finding(s)",
    ]):
        put("expr", "%02d.txt" % i, e)


def cron():
    put("cron", "weekly.json", json.dumps({
        "id": "weekly-digest", "workflow": "summarize", "cron": "0 7 * * mon", "timezone": "Europe/Berlin",
        "inputs": {"documents": ["/srv/contracts/msa.txt"], "max_words": 50, "max_tokens": 16},
        "priority": -10, "overlap": "buffer_one", "missed": "run_once", "paused": False}))
    put("cron", "dst.json", json.dumps({"id": "dst", "workflow": "long_qa", "cron": "30 2 * 3,11 0",
                                          "timezone": "America/New_York", "overlap": "skip"}))
    put("cron", "lord-howe.json", json.dumps({"id": "lh", "workflow": "summarize", "cron": "*/15 1-3 1,15 * *",
                                                "timezone": "Australia/Lord_Howe", "missed": "skip"}))
    for i, c in enumerate(["0 7 * * mon", "*/5 9-17 * jan-jun 1-5", "@daily", "@hourly", "0 0 29 2 *",
                           "5,10,15-20/2 0 1 * 7", "0 12 31 4,6,9,11 *"]):
        put("cron", "expr-%02d.txt" % i, c)


def tzif():
    for zone in ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
                 "America/Sao_Paulo", "Pacific/Chatham"]:
        path = os.path.join("/usr/share/zoneinfo", zone)
        if os.path.exists(path):
            with open(path, "rb") as f:
                put("tzif", zone.replace("/", "_"), f.read())


def safetensors_file(tensors, metadata=None):
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    data = b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def safetensors():
    f32 = lambda vals: struct.pack("<%df" % len(vals), *vals)
    put("safetensors", "f32.safetensors", safetensors_file(
        [("model.norm.weight", "F32", [8], f32([1.0] * 8)),
         ("model.layers.0.self_attn.q_norm.weight", "F32", [2, 2], f32([0.5, -1.0, 2.0, 3.0]))], {"format": "pt"}))
    put("safetensors", "bf16-f16.safetensors", safetensors_file(
        [("lm_head.weight", "BF16", [2, 3], struct.pack("<6H", 0x3F80, 0xBF80, 0x4000, 0, 0x7F80, 0x0001)),
         ("model.embed_tokens.weight", "F16", [3], struct.pack("<3H", 0x3C00, 0x7BFF, 0x8001)),
         ("scalar", "F32", [], f32([4.0]))]))
    put("safetensors", "empty.safetensors", safetensors_file([]))
    # An index over the tiny test model's one shard (fuzz_safetensors.cpp links it beside).
    with open(os.path.join(ROOT, "tests/data/models/a_tied_mha_hd16/model.safetensors"), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        names = [k for k in json.loads(f.read(n)) if k != "__metadata__"]
    shard = "model-00001-of-00001.safetensors"
    put("safetensors", "index.json", json.dumps({"metadata": {"total_size": 413600 - 8 - n},
                                                 "weight_map": {k: shard for k in names}}))


def model_config():
    mdir = os.path.join(ROOT, "tests/data/models")
    for m in sorted(os.listdir(mdir)):
        cfg = os.path.join(mdir, m, "config.json")
        if os.path.exists(cfg):
            with open(cfg, "rb") as f:
                put("model_config", m + ".json", f.read())
    # Qwen3-4B's shape in transformers 4.x's dialect (top-level rope_theta, torch_dtype).
    put("model_config", "qwen3-4b.json", json.dumps({
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 151936, "hidden_size": 2560,
        "intermediate_size": 9728, "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8,
        "head_dim": 128, "max_position_embeddings": 262144, "rms_norm_eps": 1e-06, "rope_theta": 5000000,
        "rope_scaling": None, "tie_word_embeddings": True, "torch_dtype": "bfloat16", "bos_token_id": 151643,
        "eos_token_id": 151645, "sliding_window": None, "use_sliding_window": False, "attention_bias": False}, indent=2))
    put("model_config", "generation.json", json.dumps({"bos_token_id": 151643, "do_sample": True,
        "eos_token_id": [151645, 151643], "pad_token_id": 151643, "temperature": 0.7, "top_k": 20, "top_p": 0.8}))


def tokenizer():
    with open(os.path.join(ROOT, "tests/data/tokenizer/tokenizer_golden.jsonl")) as f:
        cases = [json.loads(line) for line in f if line.strip()]
    seen = 0
    for c in cases:
        text = c.get("text", "")
        if not text or len(text.encode()) > 3000:
            continue
        put("tokenizer", "%s.txt" % re.sub(r"[^A-Za-z0-9_-]", "_", c["name"]), text)
        seen += 1
        if seen >= 16:
            break
    put("tokenizer", "chat.txt", "<|im_start|>user\nTerminate? 終了 🚀 café\u0301<|im_end|>\n<|im_start|>assistant\n")


def html():
    put("html", "simple.html", "<!DOCTYPE html><html><head><title>T</title><style>p{}</style><script>var x='<p>';</script>"
        "</head><body><h1>Annual Report</h1><p>Revenue was $1,234&nbsp;million &amp; rising&#x2014;see <a href='#n'>note</a>.</p>"
        "<table><tr><th>Year</th><td>2024</td><td>1,234</td></tr></table><ul><li>one<li>two</ul><br/><pre>  a\n  b</pre>"
        "<!-- comment --></body></html>")
    put("html", "ixbrl.html", "<html xmlns:ix='http://www.xbrl.org/2013/inlineXBRL'><body><div style='display:none'>"
        "<ix:header><ix:hidden>hidden facts</ix:hidden></ix:header></div><p>Net sales <ix:nonFraction name='us-gaap:Revenues' "
        "contextRef='c1' unitRef='usd' decimals='-6' scale='6'>391,035</ix:nonFraction> million.</p></body></html>")
    with open(os.path.join(ROOT, "tests/data/documents/edgar/aapl-10-k-2024-11-01.html"), "rb") as f:
        page = f.read()
    at = page.find(b"Item 1A.")
    if at < 0:
        at = len(page) // 2
    put("html", "10k-slice.html", b"<html><body>" + page[at:at + 4000] + b"</body></html>")


def pdf(pages, compress=False):
    objs = ["<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join("%d 0 R" % (4 + 2 * i) for i in range(len(pages))), len(pages)),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    raw = []
    for i, lines in enumerate(pages):
        content = "BT /F1 12 Tf 14 TL 72 720 Td\n" + "".join("(%s) Tj T*\n" % l for l in lines) + "ET\n"
        objs.append("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                    "/Contents %d 0 R >>" % (5 + 2 * i))
        body = content.encode("latin-1")
        if compress:
            body = zlib.compress(body)
            raw.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(body) + body + b"\nendstream")
        else:
            raw.append(b"<< /Length %d >>\nstream\n" % len(body) + body + b"endstream")
        objs.append(None)
    out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    k = 0
    for i, o in enumerate(objs):
        offsets.append(len(out))
        body = o.encode("latin-1") if o is not None else raw[k]
        if o is None:
            k += 1
        out += b"%d 0 obj\n" % (i + 1) + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


def pdfs():
    put("pdf", "one-page.pdf", pdf([["MASTER SERVICES AGREEMENT", "1. Term. This Agreement runs two years."]]))
    put("pdf", "three-pages.pdf", pdf([["Page one: parties."], ["Page two: fees of \\(USD\\) 1,000."], ["Page three."]]))
    put("pdf", "flate.pdf", pdf([["Compressed page text.", "Governing law: Delaware."]], compress=True))


def gitignore():
    with open(os.path.join(ROOT, ".gitignore"), "rb") as f:
        put("gitignore", "repo.txt", f.read() + b"\n\0\nbuild/x.o\n.deps/\nsrc/main.cpp\ntests/node/node_modules/\n")
    put("gitignore", "typical.txt", "# deps\nnode_modules/\n*.log\n!keep.log\n/dist\ndocs/**/*.pdf\n**/tmp\n"
        "a/**/b\n[Bb]in/\n\\#hash\nfoo?.c\n*.[oa]\n \n\n\0\nkeep.log\nx.log\ndist/\nsub/dist\ndocs/a/b/c.pdf\n"
        "q/tmp/\na/x/y/b\nBin/\nfoo1.c\nlib.a\n")


if __name__ == "__main__":
    http_request(); multipart(); job_body(); chat_body(); workflow_yaml(); expr(); cron(); tzif()
    safetensors(); model_config(); tokenizer(); html(); pdfs(); gitignore()
    for t in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, t))
        print("%-14s %3d files, %6d bytes" % (t, len(files), sum(os.path.getsize(os.path.join(CORPUS, t, x)) for x in files)))
