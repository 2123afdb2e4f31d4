// Reading amounts as filings write them ("$391,035", "(1,234)", "2.5 billion",
// "24.1%") with their unit ("USD millions", "in thousands"), so figures can be
// compared across sections and documents and red flags measured against the
// materiality threshold.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace diligence {

// The amount in base units (dollars, not millions): `value` as written, scaled by
// the words thousand/million/billion (or K/M/B) in `value` or `unit`. Parentheses
// or a leading minus make it negative. Percentages are returned as written
// (24.1 for "24.1%") with *percent set. nullopt when `value` holds no number.
std::optional<double> parse_amount(std::string_view value, std::string_view unit, bool* percent = nullptr);

// A key for matching the same figure named slightly differently: lower case
// words, "total"/"net"/"the"/"of" dropped ("Total net sales" == "net sales" ==
// "Sales").
std::string figure_key(std::string_view name);

// True when two amounts differ by more than `relative` of the larger one (0.1%:
// "$391.0 billion" and "391,035 million" agree; 391,035 and 390,100 do not).
bool amounts_differ(double a, double b, double relative = 0.001);

}  // namespace diligence
