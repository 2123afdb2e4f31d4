"""The texts and conversations behind ream's tokenizer and chat-template goldens.

Built in code, deterministically (fixed seeds, no network), so the same corpus comes
out on every machine. Used by make_tokenizer_golden.py.
"""

import random
import unicodedata

# ----------------------------------------------------------------------------- corpus

def legal_texts():
    return [
        "This Agreement shall be governed by and construed in accordance with the laws of the State of Delaware, without regard to its conflict of laws principles.",
        "1.1 \"Affiliate\" means, with respect to a Party, any Person that controls, is controlled by, or is under common control with such Party.",
        "IN WITNESS WHEREOF, the Parties have caused this Agreement to be executed by their duly authorized representatives as of the Effective Date.",
        "Section 12.3(b)(ii). Notwithstanding anything to the contrary herein, Licensee's liability shall not exceed the fees paid in the twelve (12) months preceding the claim.",
        "ARTICLE VII\r\nTERM AND TERMINATION\r\n\r\n7.1 Term. This Agreement commences on the Effective Date and continues for five (5) years.",
        "Either party may terminate this Agreement upon thirty (30) days' prior written notice; provided, however, that Sections 4, 9 and 11 shall survive.",
        "The Distributor SHALL NOT, directly or indirectly, sell Products outside the Territory.\n\n(a) exclusivity;\n(b) non-compete;\n(c) most-favored-nation pricing.",
        "\u00a7 2.4 Confidential Information \u2014 \u201cConfidential Information\u201d excludes information that is or becomes publicly available.",
        "WHEREAS, Company desires to retain Consultant\u2019s services; and WHEREAS, Consultant is willing to provide such services;\nNOW, THEREFORE, the parties agree:",
        "Indemnification. Supplier shall defend, indemnify and hold harmless Buyer from any and all claims, losses, damages, liabilities, costs and expenses (including reasonable attorneys' fees).",
        "[***] Certain information in this document has been omitted and filed separately with the Securities and Exchange Commission.",
        "Page 3 of 47\f\nEXHIBIT 10.20\n\nCOLLABORATION AGREEMENT",
    ]


def finance_texts():
    return [
        "Revenue increased 12.5% year-over-year to $4,213.7 million in fiscal 2024, compared with $3,745.2 million in fiscal 2023.",
        "Net income (loss) per share: basic $(0.42); diluted $(0.42). Weighted-average shares: 1,234,567,890.",
        "| Quarter | Revenue | EBITDA | Margin |\n|---|---:|---:|---:|\n| Q1 | $1,020 | $310 | 30.4% |\n| Q2 | $1,105 | $342 | 30.9% |",
        "Total assets \u20ac12.345.678,90; liabilities \u00a35,000,000; equity \u00a5987,654,321; \u20b9 45,00,000 (INR lakhs).",
        "The 3.875% Senior Notes due 2031 were issued at 99.512% of par, yielding approximately 3.95%.",
        "EPS guidance: $2.10\u2013$2.25 (+/- 5%); capex ~$350M; FCF conversion >90%.",
        "Cash and cash equivalents ........................ 29,943\nMarketable securities ............................ 35,228\nTotal ............................................ 65,171",
        "Interest rate swaps with notional amounts of USD 1.5bn and CHF 0.75bn mature on 2027-06-30.",
        "0.0001 0.5 -12 +7 1e-9 6.02214076e23 100,000,000 1_000_000 0x1F 0b1010 3/4 \u00bd \u2153",
        "Dividends declared per share were $0.24, $0.24, $0.25 and $0.25 for Q1\u2013Q4 respectively.",
    ]


def code_texts():
    return [
        "def fib(n: int) -> int:\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
        "class Foo:\n\tdef __init__(self):\n\t\tself.x = {'a': [1, 2, 3]}  # comment\n",
        "#include <vector>\nint main() {\n  std::vector<int> v{1, 2, 3};\n  for (auto& x : v) x *= 2;\n  return v.size() > 2 ? 0 : 1;\n}\n",
        "template <class T> struct Box { T value_; explicit Box(T v) : value_(std::move(v)) {} };",
        "const add = (a, b) => a + b;\nexport default async function main() { await fetch(`/api/${id}`); }\n",
        "fn main() {\n    let xs: Vec<u64> = (0..10).map(|x| x * x).collect();\n    println!(\"{:?}\", xs);\n}\n",
        "impl<'a> Parser<'a> { pub fn new(src: &'a str) -> Self { Self { src, pos: 0 } } }",
        "SELECT c.name, SUM(o.total) AS revenue\nFROM customers c\nJOIN orders o ON o.customer_id = c.id\nWHERE o.created_at >= '2024-01-01'\nGROUP BY c.name\nORDER BY revenue DESC\nLIMIT 10;",
        "{\"name\": \"ream\", \"version\": \"0.1.0\", \"tags\": [\"llm\", \"review\"], \"nested\": {\"a\": null, \"b\": true, \"c\": 1.5e-3}}",
        "[\n  {\n    \"id\": 1,\n    \"text\": \"caf\u00e9\"\n  },\n  {\n    \"id\": 2,\n    \"text\": \"\\u00e9\\n\"\n  }\n]",
        "# Title\n\n## Subsection\n\n- item one\n- item **two**\n  - nested `code`\n\n> quote\n\n```python\nprint('hi')\n```\n",
        "<html><body><div class=\"x\">Hello &amp; welcome</div><!-- c --></body></html>",
        "    indented    with    many    spaces    ",
        "if (a&&b||!c) { x+=1; y-=2; z*=3; w/=4; } // ops: == != <= >= << >> ->",
        "$ ls -la | grep '\\.txt$' > out.log 2>&1 && echo \"done\"",
        "x = [i**2 for i in range(10) if i % 2 == 0]\r\nprint(x)\r\n",
    ]


def multilingual_texts():
    return [
        "\u4eca\u5929\u5929\u6c14\u5f88\u597d\uff0c\u6211\u4eec\u53bb\u516c\u56ed\u6563\u6b65\u5427\u3002",
        "\u672c\u5408\u540c\u81ea\u53cc\u65b9\u7b7e\u5b57\u76d6\u7ae0\u4e4b\u65e5\u8d77\u751f\u6548\uff0c\u6709\u6548\u671f\u4e3a\u4e09\uff083\uff09\u5e74\u3002",
        "\u3053\u3093\u306b\u3061\u306f\u3001\u4e16\u754c\uff01\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a\u3068\u6f22\u5b57\u3002",
        "\ud55c\uad6d\uc5b4 \ubb38\uc7a5\uc785\ub2c8\ub2e4. \uacc4\uc57d\uc11c \uc81c3\uc870\ub97c \ucc38\uc870\ud558\uc2ed\uc2dc\uc624.",
        "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645! \u0647\u0630\u0627 \u0627\u0644\u0639\u0642\u062f \u0633\u0627\u0631\u064a \u0627\u0644\u0645\u0641\u0639\u0648\u0644 \u0644\u0645\u062f\u0629 \u0661\u0662 \u0634\u0647\u0631\u064b\u0627.",
        "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd! \u05d4\u05e1\u05db\u05dd \u05d6\u05d4 \u05d9\u05d9\u05db\u05e0\u05e1 \u05dc\u05ea\u05d5\u05e7\u05e3 \u05d1-1 \u05d1\u05d9\u05e0\u05d5\u05d0\u05e8.",
        "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e! \u092f\u0939 \u0905\u0928\u0941\u092c\u0902\u0927 \u0967\u0968 \u092e\u0939\u0940\u0928\u094b\u0902 \u0915\u0947 \u0932\u093f\u090f \u0939\u0948\u0964",
        "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01 \u0e2a\u0e31\u0e0d\u0e0d\u0e32\u0e19\u0e35\u0e49\u0e21\u0e35\u0e1c\u0e25\u0e1a\u0e31\u0e07\u0e04\u0e31\u0e1a",
        "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0414\u043e\u0433\u043e\u0432\u043e\u0440 \u2116 15/2024 \u043e\u0442 01.02.2024 \u0433.",
        "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5! \u0397 \u03c3\u03cd\u03bc\u03b2\u03b1\u03c3\u03b7 \u03b9\u03c3\u03c7\u03cd\u03b5\u03b9 \u03b1\u03c0\u03cc \u03c3\u03ae\u03bc\u03b5\u03c1\u03b1.",
        "Stra\u00dfe, \u00e9t\u00e9, na\u00efve, fa\u00e7ade, \u00c5ngstr\u00f6m, \u0141\u00f3d\u017a, \u010cesk\u00e1, T\u00fcrk\u00e7e \u0130stanbul \u0131",
        "Ti\u1ebfng Vi\u1ec7t c\u00f3 nhi\u1ec1u d\u1ea5u: \u0111\u1eb7c bi\u1ec7t, ng\u01b0\u1eddi, th\u01b0\u01a1ng m\u1ea1i.",
        "\u10e5\u10d0\u10e0\u10d7\u10e3\u10da\u10d8 \u0570\u0561\u0575\u0565\u0580\u0565\u0576 \u12a0\u121b\u122d\u129b \u1780\u17d2\u1798\u17c2\u179a \u0dc3\u0dd2\u0d82\u0dc4\u0dbd",
        "Mixed \u4e2d\u6587English\u6df7\u5408text\u548c123\u6570\u5b57",
        "\uff26\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48 \uff11\uff12\uff13 \uff08\u5168\u89d2\uff09",
    ]


def emoji_texts():
    return [
        "\U0001F600\U0001F601\U0001F602",
        "I love it \U0001F44D\U0001F3FD and \u2764\ufe0f!",
        "Family: \U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 done",
        "\U0001F469\U0001F3FF\u200d\U0001F4BB coder, \U0001F3F3\ufe0f\u200d\U0001F308 flag",
        "Flags: \U0001F1FA\U0001F1F8 \U0001F1EF\U0001F1F5 \U0001F1E9\U0001F1EA \U0001F1E8\U0001F1F3",
        "keycap 1\ufe0f\u20e3 #\ufe0f\u20e3 *\ufe0f\u20e3",
        "\U0001F9D1\u200d\U0001F91D\u200d\U0001F9D1",
        "\U0001F44B\U0001F3FB\U0001F44B\U0001F3FC\U0001F44B\U0001F3FD\U0001F44B\U0001F3FE\U0001F44B\U0001F3FF",
        "text\U0001F525fire\U0001F525\U0001F525",
        "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F Scotland",
    ]


def nfd_texts():
    # NFD (decomposed) input that NFC recomposes, and marks that have no composition.
    nfd = [
        unicodedata.normalize("NFD", "caf\u00e9 r\u00e9sum\u00e9 na\u00efve \u00c5ngstr\u00f6m"),
        unicodedata.normalize("NFD", "\ud55c\uad6d\uc5b4 \ubb38\uc7a5"),
        unicodedata.normalize("NFD", "Ti\u1ebfng Vi\u1ec7t"),
        unicodedata.normalize("NFD", "\u00c0 la carte, \u00e7a va, \u00fcber"),
        "e\u0301 a\u0300 o\u0302 n\u0303 u\u0308",
        "q\u0307\u0323 x\u0301\u0301 \u0301leading mark",
        "\u212b \u2126 \u212a",  # singletons that NFC maps to other code points
        "\u1100\u1161\u11a8 jamo to syllable",
        "\u0915\u093c \u0928\u093c Devanagari nukta",
        "\u00e9\u0301 already composed plus mark",
        "A\u030a\u0301 stacked",
        "\u0061\u0328\u0301 ogonek acute",
    ]
    return nfd


def whitespace_texts():
    return [
        "a  b   c    d",
        "tabs\tand\t\tdouble\t\t\ttriple",
        " leading space",
        "   leading spaces",
        "trailing space ",
        "trailing spaces   ",
        "mixed \t \t mix",
        "line1\nline2\n\nline4\n\n\n",
        "crlf\r\nline\r\n\r\nend",
        "lone\rcr\rhere",
        "\r\n\r\n",
        "\n",
        " \n ",
        "  \n  \n  x",
        "a \n b",
        "word\t\nnext",
        "\t",
        "    ",
        "x\u00a0y \u00a0 z\u00a0\u00a0w",
        "ideographic\u3000space\u3000\u3000end",
        "line\u2028separator and para\u2029separator",
        "nel\u0085char vt\u000bff\u000c",
        "thin\u2009space en\u2002em\u2003hair\u200a",
        "zero\u200bwidth space",
        "end with newline\n",
        "end with tab\t",
        "  .  ,  !  ",
        "!\n\n?\r\n",
        "a\n\n\n\nb",
        " \t\n\r\x0b\x0c",
    ]


def digit_texts():
    return [
        "1234567890",
        "2024-01-31T23:59:59Z",
        "pi=3.14159265358979323846",
        "\u0660\u0661\u0662\u0663 \u0966\u0967\u0968 \uff10\uff11\uff12 \u2460\u2461 \u2160\u2161 \u00b2\u00b3",
        "v1.2.3-rc4+build.567",
        "IBAN DE89 3704 0044 0532 0130 00",
        "+1 (555) 010-9999 ext. 42",
        "000000000000000000000000000000",
    ]


def contraction_texts():
    return [
        "It's, don't, we're, they've, I'm, you'll, he'd.",
        "IT'S DON'T WE'RE THEY'VE I'M YOU'LL HE'D",
        "It'S dOn'T wE'Re ThEy'vE i'M yOu'Ll He'D",
        "'s 't 're 've 'm 'll 'd",
        "'S 'LL 'Re 'vE",
        "''s '''ll 'x 'sa 'lla 'ree",
        "rock'n'roll o'clock ma'am y'all",
        "Consultant\u2019s and Consultant's",
        "'\u017f long s contraction",
        "'",
        "'1 '\u00e9t\u00e9",
    ]


def special_token_texts():
    return [
        "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
        "text<|endoftext|>more text",
        "<|endoftext|><|endoftext|>",
        "<think>\nreasoning here\n</think>\n\nanswer",
        "partial <|im_sta and <|im_end and <think",
        "<|im_start|",
        "< |im_start|>",
        "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>",
        "<tool_response>ok</tool_response>",
        "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>",
        "<|vision_start|><|image_pad|><|vision_end|>",
        "a<|im_start|>b",
        " <|im_end|> ",
        "<<|im_start|>>",
        "<|im_start|><|im_start|>",
        "<|object_ref_start|>x<|object_ref_end|><|box_start|>1<|box_end|><|quad_start|><|quad_end|>",
        "<|repo_name|>ream<|file_sep|>main.cpp<|fim_pad|>",
        "\u00e9<|endoftext|>\u0301",
    ]


def edge_texts():
    return [
        "",
        "a",
        " ",
        "A",
        "0",
        ".",
        "\u00e9",
        "\u4e2d",
        "\U0001F600",
        "\ufffd",
        "\ufffd\ufffd replacement chars",
        "\u200d",
        "a\u200db",
        "\ufeffBOM at start",
        "mid\ufeffBOM",
        "\u00a0",
        "\u3000",
        "\u2028",
        "\u2029",
        "\x00nul\x00",
        "\x01\x02\x1f\x7f controls",
        "\u00ad soft hyphen",
        "\U0010FFFD private plane",
        "\ue000 private use",
        "\u0301",
        "\u202e RTL override \u202c",
        "\U0001D400\U0001D401 math bold",
        "\u2603\u2764\u263a",
    ]


def random_texts(rng, count):
    pools = [
        (0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x391, 0x3C9), (0x410, 0x44F),
        (0x5D0, 0x5EA), (0x621, 0x64A), (0x660, 0x669), (0x905, 0x939), (0x93E, 0x94D),
        (0xE01, 0xE3A), (0x1100, 0x1112), (0x1161, 0x1175), (0x11A8, 0x11C2),
        (0x3041, 0x3096), (0x30A1, 0x30FA), (0x4E00, 0x4FFF), (0xAC00, 0xAD00),
        (0x2000, 0x206F), (0x2190, 0x21FF), (0xFF01, 0xFF5E), (0x1F300, 0x1F5FF),
        (0x1F600, 0x1F64F), (0x1F3FB, 0x1F3FF),
    ]
    singles = [0x20, 0x20, 0x20, 0x0A, 0x0D, 0x09, 0x27, 0x200D, 0xFE0F, 0x3000, 0xA0, 0x2028]
    out = []
    for k in range(count):
        n = rng.randint(1, 40)
        chars = []
        for _ in range(n):
            if rng.random() < 0.25:
                chars.append(chr(rng.choice(singles)))
            else:
                lo, hi = rng.choice(pools)
                chars.append(chr(rng.randint(lo, hi)))
        out.append(("random_%03d" % k, "".join(chars)))
    return out


def mixed_texts(rng, count):
    words = ["the", "The", "THE", "agreement", "Party", "shall", "$1,000", "12.5%", "\u4e2d\u6587",
             "\u65e5\u672c\u8a9e", "\ud55c\uad6d", "\u0627\u0644\u0639\u0642\u062f", "\u05e9\u05dc\u05d5\u05dd",
             "\U0001F600", "it's", "WE'LL", "\n", "\r\n", "\t", "  ", "<|im_end|>", "<think>",
             "(a)", "\u2014", "\u201cquoted\u201d", "caf\u00e9", "e\u0301", "x", "42", "..."]
    out = []
    for k in range(count):
        n = rng.randint(1, 30)
        seps = [" ", "", " ", "\n", " ", "  "]
        text = "".join(rng.choice(words) + rng.choice(seps) for _ in range(n))
        out.append(("mixed_%03d" % k, text))
    return out


def build_corpus():
    """Returns [(name, text)] in a fixed order, deterministic across runs."""
    groups = [
        ("legal", legal_texts()), ("finance", finance_texts()), ("code", code_texts()),
        ("lang", multilingual_texts()), ("emoji", emoji_texts()), ("nfd", nfd_texts()),
        ("ws", whitespace_texts()), ("digits", digit_texts()),
        ("contraction", contraction_texts()), ("special", special_token_texts()),
        ("edge", edge_texts()),
    ]
    corpus = []
    for prefix, texts in groups:
        for i, t in enumerate(texts):
            corpus.append(("%s_%02d" % (prefix, i), t))
    rng = random.Random(20240229)
    corpus += random_texts(rng, 70)
    corpus += mixed_texts(rng, 40)
    # Long repetitive inputs exercise the BPE heap and word cache.
    corpus.append(("long_spaces", " " * 1000 + "x"))
    corpus.append(("long_word", "a" * 3000))
    corpus.append(("long_digits", "9876543210" * 200))
    corpus.append(("long_emoji", "\U0001F600" * 300))
    corpus.append(("long_newlines", "\n" * 500 + "end"))
    return corpus


# Entries encoded with special tokens treated as plain text (split_special_tokens).
NO_SPECIAL = ["special_00", "special_01", "special_03", "special_07", "special_11", "special_12"]


# ----------------------------------------------------------------------- chat corpus

def chat_corpus():
    """[(name, messages, add_generation_prompt)]; no tools, no tool_calls."""
    S = {"role": "system", "content": "You are a careful contract reviewer."}

    def u(c):
        return {"role": "user", "content": c}

    def a(c):
        return {"role": "assistant", "content": c}

    def t(c):
        return {"role": "tool", "content": c}

    convs = [
        ("system_user", [S, u("Summarise clause 4.")]),
        ("user_only", [u("Hello!")]),
        ("multi_turn", [S, u("Hi"), a("Hello, how can I help?"), u("List the parties.")]),
        ("multi_turn_no_system", [u("Q1"), a("A1"), u("Q2"), a("A2"), u("Q3")]),
        ("ends_with_assistant", [u("Q"), a("A")]),
        ("think_in_history", [u("Q1"), a("<think>\nstep one\n</think>\n\nAnswer one"), u("Q2")]),
        ("think_last_assistant", [u("Q"), a("<think>\nreason\n</think>\n\nfinal answer")]),
        ("think_no_newlines", [u("Q"), a("<think>r</think>ans")]),
        ("think_only_close", [u("Q"), a("reasoning without open tag</think>\n\nanswer")]),
        ("think_multiple_close", [u("Q"), a("<think>a</think>b</think>\n\nc")]),
        ("think_empty", [u("Q"), a("<think>\n\n</think>\n\nplain")]),
        ("think_newlines_heavy", [u("Q"), a("\n\n<think>\n\n\nx\n\n</think>\n\n\n\ny\n\n")]),
        ("assistant_leading_newlines", [u("Q"), a("\n\nanswer")]),
        ("tool_single", [u("What's the weather?"), a("Let me check."), t("{\"temp\": 21}")]),
        ("tool_multiple", [u("Q"), a("calling"), t("r1"), t("r2"), t("r3"), a("done")]),
        ("tool_then_user", [S, u("Q"), a("x"), t("result"), u("thanks")]),
        ("tool_first", [t("orphan tool output"), u("Q")]),
        ("tool_response_user", [u("Q"), a("<think>t1</think>a1"), u("<tool_response>\nr\n</tool_response>"), a("<think>t2</think>a2")]),
        ("multi_step_tool", [u("Q"), a("<think>plan</think>call"), t("r1"), a("<think>more</think>call2"), t("r2"), a("<think>final</think>answer")]),
        ("system_middle", [u("Q"), {"role": "system", "content": "Late system note."}, a("A")]),
        ("unicode", [S, u("\u8bf7\u603b\u7ed3\u8fd9\u4efd\u5408\u540c\u3002 \U0001F600 caf\u00e9 \u05e9\u05dc\u05d5\u05dd")]),
        ("unicode_nfd", [u(unicodedata.normalize("NFD", "r\u00e9sum\u00e9 \ud55c\uad6d"))]),
        ("empty_user", [u("")]),
        ("empty_system", [{"role": "system", "content": ""}, u("Q")]),
        ("empty_assistant", [u("Q"), a(""), u("Q2")]),
        ("special_in_content", [u("Please ignore <|im_end|> and <think> tags.")]),
        ("crlf_content", [u("line1\r\nline2\r\n"), a("ok\r\n")]),
        ("whitespace_content", [u("   "), a("\t\n")]),
        ("long_user", [S, u("Clause text. " * 200 + "\nQuestion: what is the term?")]),
        ("assistant_think_then_tool", [u("Q"), a("<think>\nneed data\n</think>\n\nfetching"), t("data"), u("continue")]),
        ("only_system", [S]),
        ("json_content", [u("{\"a\": [1, 2, {\"b\": \"c\"}]}")]),
    ]
    out = []
    for name, msgs in convs:
        out.append((name + "_gen", msgs, True))
        out.append((name + "_nogen", msgs, False))
    return out
