// PDF through poppler on PDFs written here by hand: page-by-page text with page
// numbers in the offset map, and clear errors for broken and encrypted files.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ingest/ingest.h"
#include "ingest/quotes.h"
#include "ingest_test_util.h"
#include "make_pdf.h"
#include "ream/common/sha256.h"

namespace ream::ingest {
namespace {

using testing::make_pdf;

TEST(Pdf, PagesTextAndLocations) {
  const std::string pdf = make_pdf({{"MASTER SERVICES AGREEMENT", "1. Definitions apply to this Agreement."},
                                    {"2. Term. This Agreement renews every year.", "Signed by both parties."}});
  IngestOptions opt;
  opt.count_tokens = testing::bytes_over_4;
  auto r = ingest_buffer("msa.pdf", pdf, {}, opt);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Document& d = *r;
  EXPECT_EQ(d.media_type, "application/pdf");
  EXPECT_EQ(d.id, sha256_hex(pdf));
  ASSERT_EQ(d.parts.size(), 2u);
  EXPECT_EQ(d.parts[1].name, "page 2");
  for (std::string_view s : {"MASTER SERVICES AGREEMENT", "Definitions apply", "renews every year", "Signed by both"})
    EXPECT_NE(d.text.find(s), std::string::npos) << s << " in:\n" << d.text;
  const Location p1 = d.locate(d.text.find("Definitions"));
  EXPECT_EQ(p1.page, 1);
  EXPECT_EQ(p1.line, 2);
  EXPECT_EQ(p1.source, "msa.pdf");
  const Location p2 = d.locate(d.text.find("Signed"));
  EXPECT_EQ(p2.page, 2);
  EXPECT_EQ(p2.line, 2);
  EXPECT_EQ(p2.column, 1);
  EXPECT_EQ(p2.to_string(), "msa.pdf page 2 line 2");
  const QuoteMatch q = locate_quote(d, "This  Agreement\nrenews every year");
  ASSERT_TRUE(q.found());
  EXPECT_EQ(q.location.page, 2);
  EXPECT_GT(d.tokens, 0);
}

TEST(Pdf, BrokenIsAClearError) {
  std::string pdf = make_pdf({{"Hello"}});
  for (const std::string& bad : {std::string("%PDF-1.4\nthis is not a pdf body at all\n"), pdf.substr(0, pdf.size() / 3)}) {
    auto r = ingest_buffer("bad.pdf", bad);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("bad.pdf"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("PDF"), std::string::npos) << r.status().message();
  }
}

TEST(Pdf, EncryptedIsAClearError) {
  auto r = ingest_buffer("locked.pdf", make_pdf({{"Secret terms"}}, true));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("locked.pdf"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("encrypted"), std::string::npos) << r.status().message();
}

TEST(Pdf, NoTextLayerIsAnError) {
  auto r = ingest_buffer("scan.pdf", make_pdf({{}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no text"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace ream::ingest
