// Layout encoding: "RLY1", then unsigned LEB128 varints (strings as length +
// bytes; offsets within sorted lists as deltas):
//   text_size, units {path, page, line count, line-start deltas},
//   pieces {text_begin delta, source_begin, source_len, unit * 2 + linear},
//   parts {name, language, text_begin, text_end}.
#include "ingest/layout.h"

#include <cstdint>

namespace ream::ingest {

namespace {

constexpr std::string_view kMagic = "RLY1";

void put(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_str(std::string& out, std::string_view s) {
  put(out, s.size());
  out.append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool ok() const { return ok_; }
  bool done() const { return pos_ == b_.size(); }
  uint64_t get() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= b_.size()) break;
      auto c = static_cast<unsigned char>(b_[pos_++]);
      v |= static_cast<uint64_t>(c & 0x7F) << shift;
      if (!(c & 0x80)) return v;
    }
    ok_ = false;
    return 0;
  }
  // A count no larger than the bytes left (each element takes at least one byte).
  uint64_t count() {
    uint64_t n = get();
    if (n > b_.size() - pos_) ok_ = false;
    return ok_ ? n : 0;
  }
  std::string str() {
    uint64_t n = count();
    std::string s(b_.substr(pos_, n));
    pos_ += n;
    return s;
  }

 private:
  std::string_view b_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace

std::string encode_layout(const Document& doc) {
  std::string out(kMagic);
  const OffsetMap& m = doc.map;
  put(out, static_cast<uint64_t>(m.text_size()));
  put(out, m.units().size());
  for (const SourceUnit& u : m.units()) {
    put_str(out, u.path);
    put(out, static_cast<uint64_t>(u.page));
    put(out, u.line_starts.size());
    int64_t prev = 0;
    for (int64_t s : u.line_starts) {
      put(out, static_cast<uint64_t>(s - prev));
      prev = s;
    }
  }
  put(out, m.pieces().size());
  int64_t prev = 0;
  for (const MapPiece& p : m.pieces()) {
    put(out, static_cast<uint64_t>(p.text_begin - prev));
    prev = p.text_begin;
    put(out, static_cast<uint64_t>(p.source_begin));
    put(out, static_cast<uint64_t>(p.source_len));
    put(out, static_cast<uint64_t>(p.unit) * 2 + (p.linear ? 1 : 0));
  }
  put(out, doc.parts.size());
  for (const Part& p : doc.parts) {
    put_str(out, p.name);
    put_str(out, p.language);
    put(out, static_cast<uint64_t>(p.text_begin));
    put(out, static_cast<uint64_t>(p.text_end));
  }
  return out;
}

Status decode_layout(std::string_view bytes, Document* doc) {
  const std::string what = doc->source.empty() ? std::string("document") : doc->source;
  auto corrupt = [&](const char* why) { return data_loss(what + ": stored layout is corrupt (" + why + ")"); };
  if (bytes.substr(0, kMagic.size()) != kMagic) return corrupt("unknown format");
  Reader r(bytes.substr(kMagic.size()));
  const auto text_size = static_cast<int64_t>(r.get());
  if (!r.ok() || text_size != static_cast<int64_t>(doc->text.size())) return corrupt("text size differs");
  std::vector<SourceUnit> units(r.count());
  for (SourceUnit& u : units) {
    u.path = r.str();
    u.page = static_cast<int64_t>(r.get());
    u.line_starts.resize(r.count());
    int64_t at = 0;
    for (int64_t& s : u.line_starts) s = at += static_cast<int64_t>(r.get());
    if (!u.line_starts.empty() && u.line_starts[0] != 0) return corrupt("bad line table");
  }
  std::vector<MapPiece> pieces(r.count());
  int64_t at = 0;
  for (size_t i = 0; i < pieces.size() && r.ok(); ++i) {
    MapPiece& p = pieces[i];
    p.text_begin = at += static_cast<int64_t>(r.get());
    p.source_begin = static_cast<int64_t>(r.get());
    p.source_len = static_cast<int64_t>(r.get());
    const uint64_t unit_linear = r.get();
    p.unit = static_cast<uint32_t>(unit_linear / 2);
    p.linear = (unit_linear & 1) != 0;
    if (p.unit >= units.size() || p.text_begin > text_size || p.source_begin < 0 || p.source_len < 0 ||
        (i > 0 && p.text_begin <= pieces[i - 1].text_begin)) {
      return corrupt("bad piece");
    }
  }
  std::vector<Part> parts(r.count());
  for (Part& p : parts) {
    p.name = r.str();
    p.language = r.str();
    p.text_begin = static_cast<int64_t>(r.get());
    p.text_end = static_cast<int64_t>(r.get());
    if (p.text_begin > p.text_end || p.text_end > text_size) return corrupt("bad part");
  }
  if (!r.ok()) return corrupt("truncated");
  if (!r.done()) return corrupt("trailing bytes");
  doc->map = OffsetMap::from_parts(std::move(units), std::move(pieces), text_size);
  doc->parts = std::move(parts);
  return {};
}

}  // namespace ream::ingest
