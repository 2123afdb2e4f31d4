// PDF through poppler on PDFs written here by hand: page-by-page text with page
// numbers in the offset map, and clear errors for broken and encrypted files.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "ingest/ingest.h"
#include "ingest/quotes.h"
#include "ingest_test_util.h"

namespace ream::ingest {
namespace {

// A minimal valid PDF 1.4: one page per entry of `pages` (each entry is lines of
// text in Helvetica), with a correct xref table. `encrypt` adds a standard
// security handler dictionary with passwords nobody knows.
std::string make_pdf(const std::vector<std::vector<std::string>>& pages, bool encrypt = false) {
  std::vector<std::string> objs;  // object i+1
  const size_t n = pages.size();
  std::string kids;
  for (size_t i = 0; i < n; ++i) kids += std::to_string(4 + 2 * i) + " 0 R ";
  objs.push_back("<< /Type /Catalog /Pages 2 0 R >>");
  objs.push_back("<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(n) + " >>");
  objs.push_back("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");
  for (size_t i = 0; i < n; ++i) {
    std::string content = "BT /F1 12 Tf 14 TL 72 720 Td\n";
    for (const std::string& line : pages[i]) content += "(" + line + ") Tj T*\n";
    content += "ET\n";
    objs.push_back("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                   "/Contents " + std::to_string(5 + 2 * i) + " 0 R >>");
    objs.push_back("<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "endstream");
  }
  if (encrypt)
    objs.push_back("<< /Filter /Standard /V 1 /R 2 /O <" + std::string(64, 'A') + "> /U <" +
                   std::string(64, 'B') + "> /P -44 >>");
  std::string pdf = "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objs.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objs[i] + "\nendobj\n";
  }
  const size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objs.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t off : offsets) {
    char line[32];
    std::snprintf(line, sizeof line, "%010zu 00000 n \n", off);
    pdf += line;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objs.size() + 1) + " /Root 1 0 R";
  if (encrypt)
    pdf += " /Encrypt " + std::to_string(objs.size()) + " 0 R /ID [<0123456789ABCDEF0123456789ABCDEF> "
           "<0123456789ABCDEF0123456789ABCDEF>]";
  pdf += " >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

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
