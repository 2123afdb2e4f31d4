// Plain text, Markdown and HTML conversion on small hand-made inputs, media-type
// detection and per-document errors.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "ingest/html_tokenizer.h"
#include "ingest/ingest.h"
#include "ingest_test_util.h"
#include "ream/common/sha256.h"

namespace ream::ingest {
namespace {

Document must(Result<Document> r) {
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r).value() : Document();
}

TEST(PlainText, LineEndsBomAndNfc) {
  // "Cafe\u0301" (decomposed) must become "Caf\u00e9" (NFC); CRLF and CR become LF.
  const std::string src = "\xEF\xBB\xBFline one\r\nCafe\xCC\x81 two\rthree\n";
  Document d = must(ingest_buffer("memo.txt", src));
  EXPECT_EQ(d.text, "line one\nCaf\xC3\xA9 two\nthree\n");
  EXPECT_EQ(d.media_type, "text/plain");
  EXPECT_EQ(d.id, sha256_hex(src));
  EXPECT_EQ(d.id.size(), 64u);
  // "three" is on source line 3, at byte 27 of the source.
  const Location loc = d.locate(d.text.find("three"));
  EXPECT_EQ(loc.source, "memo.txt");
  EXPECT_EQ(loc.line, 3);
  EXPECT_EQ(loc.column, 1);
  EXPECT_EQ(src.substr(static_cast<size_t>(loc.byte_offset), 5), "three");
  const Location two = d.locate(d.text.find("two"));
  EXPECT_EQ(src.substr(static_cast<size_t>(two.byte_offset), 3), "two");
  EXPECT_EQ(two.line, 2);
}

TEST(PlainText, MarkdownKeptAsWritten) {
  const std::string src = "# Title\n\nSome *text* with `code`.\n";
  Document d = must(ingest_buffer("README.md", src, {}, IngestOptions{testing::bytes_over_4, 1 << 20, {}}));
  EXPECT_EQ(d.media_type, "text/markdown");
  EXPECT_EQ(d.text, src);
  EXPECT_EQ(d.tokens, testing::bytes_over_4(src));
}

TEST(PlainText, LegacyBytesReadAsWindows1252) {
  const std::string src = "The \x93quoted\x94 price is 5\x80 only, a long enough line of text.";
  Document d = must(ingest_buffer("legacy.txt", src));
  EXPECT_NE(d.text.find("\xE2\x80\x9Cquoted\xE2\x80\x9D"), std::string::npos);
  EXPECT_NE(d.text.find("5\xE2\x82\xAC"), std::string::npos);
  const Location loc = d.locate(d.text.find("price"));
  EXPECT_EQ(src.substr(static_cast<size_t>(loc.byte_offset), 5), "price");
}

TEST(Html, EntitiesHiddenScriptsAndBlocks) {
  const std::string src =
      "<?xml version='1.0'?><html><head><title>T</title><style>p{color:red}</style></head><body>"
      "<div style=\"display: none\"><ix:header><ix:hidden>HIDDEN-XBRL</ix:hidden></ix:header></div>"
      "<h2>Item&#160;1A.&nbsp;&nbsp;Risk   Factors</h2>"
      "<p>AT&amp;T&#8217;s &ldquo;plan&rdquo; &#x2014; 5&nbsp;%<br/>next line</p>"
      "<script>var x = '<p>not text</p>';</script><div hidden>also hidden</div>"
      "<p>Apple Inc. and <ix:nonFraction name=\"us-gaap:Revenue\">391,035</ix:nonFraction> dollars</p>"
      "<p>a < b and 3<4</p></body></html>";
  Document d = must(ingest_buffer("f.htm", src));
  EXPECT_EQ(d.media_type, "text/html");
  EXPECT_EQ(d.text,
            "Item 1A. Risk Factors\n\n"
            "AT&T\xE2\x80\x99s \xE2\x80\x9Cplan\xE2\x80\x9D \xE2\x80\x94 5 %\nnext line\n\n"
            "Apple Inc. and 391,035 dollars\n\n"
            "a < b and 3<4");
  // Words map to their bytes in the HTML source.
  for (std::string_view w : {"Risk", "Factors", "Apple", "391,035", "dollars", "next"}) {
    const Location loc = d.locate(d.text.find(w));
    EXPECT_EQ(src.substr(static_cast<size_t>(loc.byte_offset), w.size()), w) << w;
  }
  // A decoded entity maps to its reference.
  const Location amp = d.locate(d.text.find('&'));
  EXPECT_EQ(src.substr(static_cast<size_t>(amp.byte_offset), 5), "&amp;");
}

TEST(Html, TablesBecomeRows) {
  const std::string src =
      "<table><tr><td/><td>2024</td><td></td><td>2023</td></tr>"
      "<tr><td><div>Net</div><div>sales</div></td><td>$</td><td>391,035</td><td>$</td><td>(383,285</td>"
      "<td>)</td><td>12</td><td>%</td></tr><tr><td> </td><td>&#160;</td></tr></table><p>After</p>";
  Document d = must(ingest_buffer("t.html", src));
  EXPECT_EQ(d.text, "2024 | 2023\nNet sales | $391,035 | $(383,285) | 12%\n\nAfter");
  const Location loc = d.locate(d.text.find("383,285"));
  EXPECT_EQ(src.substr(static_cast<size_t>(loc.byte_offset), 7), "383,285");
}

TEST(Html, TolerantOfBrokenMarkup) {
  const std::string src = "<p>Unclosed <b>bold <i>italic</p><p>Stray</span> end <!-- comment --> tail<div";
  Document d = must(ingest_buffer("broken.html", src));
  EXPECT_EQ(d.text, "Unclosed bold italic\n\nStray end tail");
}

TEST(Html, AttributeParsing) {
  EXPECT_EQ(html_attr(" style='display:none' id=x", "style").value(), "display:none");
  EXPECT_EQ(html_attr(" id=x hidden", "hidden").value(), "");
  EXPECT_FALSE(html_attr(" id=\"hidden\"", "hidden").has_value());
  std::string out;
  size_t len = 0;
  EXPECT_FALSE(decode_entity("AT&T rocks", 2, out, &len));
  EXPECT_TRUE(decode_entity("&#x1F600;", 0, out, &len));
  EXPECT_EQ(out, "\xF0\x9F\x98\x80");
  EXPECT_EQ(len, 9u);
}

TEST(MediaType, ByExtensionAndContent) {
  EXPECT_EQ(detect_media_type("a.PDF", "junk"), "application/pdf");
  EXPECT_EQ(detect_media_type("noext", "%PDF-1.7 ..."), "application/pdf");
  EXPECT_EQ(detect_media_type("x.txt", "<!DOCTYPE html><html>"), "text/html");
  EXPECT_EQ(detect_media_type("x.docx", "PK.."), "");
  EXPECT_EQ(detect_media_type("notes", "plain words"), "text/plain");
  EXPECT_EQ(language_for("src/a/b.cpp"), "C++");
  EXPECT_EQ(language_for("CMakeLists.txt"), "CMake");
  EXPECT_EQ(language_for("x/Dockerfile.prod"), "Dockerfile");
  EXPECT_EQ(language_for("noext"), "");
}

TEST(Errors, PerDocumentAndNamed) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("ream_ingest_err_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string good = (dir / "good.txt").string(), empty = (dir / "empty.txt").string(),
                    bin = (dir / "data.txt").string(), docx = (dir / "memo.docx").string(),
                    blank = (dir / "blank.md").string(), missing = (dir / "missing.txt").string();
  testing::write_file(good, "A real sentence.\n");
  testing::write_file(empty, "");
  testing::write_file(blank, " \n\n\t \n");
  testing::write_file(bin, std::string("ab\0cd\x01\x02", 7));
  testing::write_file(docx, "PK\x03\x04 zipped");
  const auto results = ingest_paths({good, empty, bin, docx, blank, missing});
  ASSERT_EQ(results.size(), 6u);
  EXPECT_TRUE(results[0].ok());
  const std::pair<int, std::string> expect[] = {
      {1, "empty"}, {2, "binary"}, {3, "unsupported"}, {4, "empty"}, {5, "no such file"}};
  for (const auto& [i, word] : expect) {
    ASSERT_FALSE(results[i].ok()) << i;
    const std::string& msg = results[i].status().message();
    EXPECT_NE(msg.find(word), std::string::npos) << msg;
    EXPECT_NE(msg.find(fs::path(std::vector<std::string>{good, empty, bin, docx, blank, missing}[i]).string()),
              std::string::npos)
        << msg;
  }
  IngestOptions small;
  small.max_file_bytes = 4;
  const auto big = ingest_path(good, small);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("too large"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ream::ingest
