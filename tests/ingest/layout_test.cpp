// Layouts (offset map + parts) survive encode/decode exactly, so a document
// rebuilt from the store locates quotes as the freshly ingested one did; corrupt
// bytes fail cleanly. Also the SHA-256 behind every content hash, against FIPS
// 180-2's own test vectors.
#include <gtest/gtest.h>

#include <filesystem>

#include "ingest/ingest.h"
#include "ingest/layout.h"
#include "ingest/quotes.h"
#include "ingest_test_util.h"
#include "make_pdf.h"
#include "ream/common/sha256.h"

namespace ream::ingest {
namespace {

using testing::Rng;

void expect_same_locations(const Document& a, const Document& b, Rng& rng) {
  ASSERT_EQ(a.parts.size(), b.parts.size());
  for (size_t i = 0; i < a.parts.size(); ++i) {
    EXPECT_EQ(a.parts[i].name, b.parts[i].name);
    EXPECT_EQ(a.parts[i].language, b.parts[i].language);
    EXPECT_EQ(a.parts[i].text_begin, b.parts[i].text_begin);
    EXPECT_EQ(a.parts[i].text_end, b.parts[i].text_end);
  }
  for (int k = 0; k < 500; ++k) {
    const auto at = static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(a.text.size()) - 1));
    const Location x = a.locate(at), y = b.locate(at);
    ASSERT_EQ(x.to_string(), y.to_string()) << "offset " << at << " seed " << rng.seed;
    ASSERT_EQ(x.byte_offset, y.byte_offset) << "offset " << at << " seed " << rng.seed;
  }
}

Document round_trip(const Document& d) {
  Document back;
  back.source = d.source;
  back.text = d.text;
  Status st = decode_layout(encode_layout(d), &back);
  EXPECT_TRUE(st.ok()) << st.message();
  return back;
}

TEST(Layout, RoundTripsTextHtmlPdfAndTrees) {
  Rng rng;
  std::vector<std::string> paths = {
      REAM_TEST_DOCUMENTS_DIR "/edgar/aapl-10-k-2024-11-01.html",
      REAM_TEST_DOCUMENTS_DIR "/cuad/contracts/ADUROBIOTECH,INC_06_02_2020-EX-10.7-CONSULTING AGREEMENT(1).txt",
      REAM_SOURCE_DIR "/daemon/src/ingest"};
  for (const std::string& p : paths) {
    SCOPED_TRACE(p);
    auto d = ingest_path(p);
    ASSERT_TRUE(d.ok()) << d.status().message();
    Document back = round_trip(*d);
    expect_same_locations(*d, back, rng);
    // A quote from the middle of the text locates to the same source place.
    const auto from = static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(d->text.size()) / 2));
    const std::string quote = d->text.substr(d->text.find(' ', from) + 1, 40);
    QuoteIndex a(*d), b(back);
    EXPECT_EQ(a.find(quote).location.to_string(), b.find(quote).location.to_string());
  }
  const std::string pdf = testing::make_pdf({{"First page line"}, {"Second page", "Renewal every year."}});
  auto d = ingest_buffer("two.pdf", pdf);
  ASSERT_TRUE(d.ok()) << d.status().message();
  Document back = round_trip(*d);
  expect_same_locations(*d, back, rng);
  EXPECT_EQ(locate_quote(back, "Renewal every year").location.page, 2);
}

TEST(Layout, CorruptOrForeignBytesFailAndLeaveTheDocumentAlone) {
  auto d = ingest_buffer("a.md", "# Title\n\nSome text &amp; more\r\nlines here.\n");
  ASSERT_TRUE(d.ok());
  const std::string bytes = encode_layout(*d);
  Rng rng;
  for (int k = 0; k < 50; ++k) {
    Document t;
    t.text = d->text;
    const auto cut = static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(bytes.size()) - 1));
    EXPECT_FALSE(decode_layout(bytes.substr(0, cut), &t).ok()) << "cut at " << cut << " seed " << rng.seed;
    EXPECT_TRUE(t.map.pieces().empty());
  }
  Document other;
  other.source = "x.md";
  other.text = d->text + "more";
  Status st = decode_layout(bytes, &other);
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_EQ(st.message(), "x.md: stored layout is corrupt (text size differs)");
  EXPECT_FALSE(decode_layout("not a layout", &other).ok());
  EXPECT_FALSE(decode_layout(bytes + "x", &other).ok());
}

TEST(Sha256, MatchesFips180Vectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

}  // namespace
}  // namespace ream::ingest
