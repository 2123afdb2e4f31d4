// CUAD's 41 categories as data, and normalising answers to CUAD's formats.
#include "cuad_categories.h"

#include <array>
#include <cctype>
#include <cstdio>
#include <regex>

namespace legal {

namespace {

// Name, description and answer format from CUAD v1's category_descriptions.csv
// (non-breaking spaces made plain; "Affiliate License-Licensee" has an empty
// answer format there and is a Yes/No question like its sibling). The review
// notes are ours.
constexpr std::array<Category, 41> kCategories = {{
    {"Document Name",
     "The name of the contract",
     "Contract Name", AnswerKind::kText, 0,
     "Identification only; risk is none unless the title misdescribes the deal."},
    {"Parties",
     "The two or more parties who signed the contract",
     "Entity or individual names", AnswerKind::kParties, 0,
     "Check that the contracting entities are the right legal entities (not an unfunded affiliate) and that guarantors are named."},
    {"Agreement Date",
     "The date of the contract",
     "Date (mm/dd/yyyy)", AnswerKind::kDate, 1,
     "Identification; a missing or inconsistent date creates uncertainty about which terms and notices apply."},
    {"Effective Date",
     "The date when the contract is effective",
     "Date (mm/dd/yyyy)", AnswerKind::kDate, 1,
     "Check retroactive effect and conditions precedent; an effective date before signing can import liabilities."},
    {"Expiration Date",
     "On what date will the contract's initial term expire?",
     "Date (mm/dd/yyyy) / Perpetual", AnswerKind::kDateOrPerpetual, 1,
     "A perpetual or very long initial term with no exit is high risk for the committed party; fallback: a fixed term with termination rights."},
    {"Renewal Term",
     "What is the renewal term after the initial term expires? This includes automatic extensions and unilateral extensions with prior notice.",
     "[Successive] number of years/months / Perpetual", AnswerKind::kTerm, 1,
     "Automatic renewal without a reasonable opt-out window locks a party in; fallback: renewal only by mutual written agreement or a short opt-out notice."},
    {"Notice Period to Terminate Renewal",
     "What is the notice period required to terminate renewal?",
     "Number of days/months/year(s)", AnswerKind::kPeriod, 1,
     "Long notice periods (e.g. over 90 days) are easy to miss; fallback: 30-60 days and a reminder obligation."},
    {"Governing Law",
     "Which state/country's law governs the interpretation of the contract?",
     "Name of a US State / non-US Province, Country", AnswerKind::kLaw, 0,
     "Risk depends on whether the law and forum are foreign to the client or unfamiliar; fallback: the client's home jurisdiction or a neutral well-developed commercial law."},
    {"Most Favored Nation",
     "Is there a clause that if a third party gets better terms on the licensing or sale of technology/goods/services described in the contract, the buyer of such technology/goods/services under the contract shall be entitled to those better terms?",
     "Yes/No", AnswerKind::kYesNo, 0,
     "Burdens the supplier (monitoring, price erosion); benefits the buyer. Fallback for the supplier: narrow scope, like-for-like volumes, no retroactive refunds."},
    {"Non-Compete",
     "Is there a restriction on the ability of a party to compete with the counterparty or operate in a certain geography or business or technology sector?",
     "Yes/No", AnswerKind::kYesNo, 2,
     "Restrictions on the client's business are high risk, especially broad scope, territory or duration beyond the term; fallback: narrow field, territory and duration; check enforceability under the governing law."},
    {"Exclusivity",
     "Is there an exclusive dealing commitment with the counterparty? This includes a commitment to procure all “requirements” from one party of certain technology, goods, or services or a prohibition on licensing or selling technology, goods or services to third parties, or a prohibition on collaborating or working with other parties), whether during the contract or after the contract ends (or both).",
     "Yes/No", AnswerKind::kYesNo, 2,
     "Exclusive dealing or requirements commitments limit the client's alternatives; fallback: minimum performance conditions, carve-outs and a sunset."},
    {"No-Solicit of Customers",
     "Is a party restricted from contracting or soliciting customers or partners of the counterparty, whether during the contract or after the contract ends (or both)?",
     "Yes/No", AnswerKind::kYesNo, 2,
     "Restricts the client's sales; fallback: limit to customers introduced under the contract and a short tail period."},
    {"Competitive Restriction Exception",
     "This category includes the exceptions or carveouts to Non-Compete, Exclusivity and No-Solicit of Customers above.",
     "Yes/No", AnswerKind::kYesNo, 2,
     "Carve-outs reduce the risk of the restrictive covenants; check they cover existing business and acquisitions."},
    {"No-Solicit of Employees",
     "Is there a restriction on a party’s soliciting or hiring employees and/or contractors from the counterparty, whether during the contract or after the contract ends (or both)?",
     "Yes/No", AnswerKind::kYesNo, 0,
     "Usually mutual and low risk; fallback: exclude general solicitations and people who approach on their own."},
    {"Non-Disparagement",
     "Is there a requirement on a party not to disparage the counterparty?",
     "Yes/No", AnswerKind::kYesNo, 0,
     "One-sided or perpetual obligations are a concern; fallback: mutual, limited to the term, with carve-outs for legal process and truthful statements."},
    {"Termination for Convenience",
     "Can a party terminate this contract without cause (solely by giving a notice and allowing a waiting period to expire)?",
     "Yes/No", AnswerKind::kYesNo, 0,
     "Counterparty's right to walk away without cause undermines the client's investment; fallback: long notice, wind-down payments, or mutuality."},
    {"Rofr/Rofo/Rofn",
     "Is there a clause granting one party a right of first refusal, right of first offer or right of first negotiation to purchase, license, market, or distribute equity interest, technology, assets, products or services?",
     "Yes/No", AnswerKind::kYesNo, 0,
     "Rights of first refusal/offer on the client's assets or equity chill future deals; fallback: ROFO instead of ROFR, short response windows, exclusions for change of control."},
    {"Change of Control",
     "Does one party have the right to terminate or is consent or notice required of the counterparty if such party undergoes a change of control, such as a merger, stock sale, transfer of all or substantially all of its assets or business, or assignment by operation of law?",
     "Yes/No", AnswerKind::kYesNo, 3,
     "Termination or consent rights on a change of control of the client affect M&A value; fallback: notice only, or consent not unreasonably withheld."},
    {"Anti-Assignment",
     "Is consent or notice required of a party if the contract is assigned to a third party?",
     "Yes/No", AnswerKind::kYesNo, 3,
     "Consent requirements block reorganisations and sales; fallback: free assignment to affiliates and successors to the business."},
    {"Revenue/Profit Sharing",
     "Is one party required to share revenue or profit with the counterparty for any technology, goods, or services?",
     "Yes/No", AnswerKind::kYesNo, 0,
     "Check the base, audit rights and payment timing; ambiguous definitions of revenue or profit are a dispute risk."},
    {"Price Restrictions",
     "Is there a restriction on the ability of a party to raise or reduce prices of technology, goods, or services provided?",
     "Yes/No", AnswerKind::kYesNo, 0,
     "Price caps or freezes burden the seller; fallback: index-linked adjustments."},
    {"Minimum Commitment",
     "Is there a minimum order size or minimum amount or units per-time period that one party must buy from the counterparty under the contract?",
     "Yes/No", AnswerKind::kYesNo, 0,
     "Take-or-pay or minimum purchase obligations are a fixed liability for the buyer; fallback: ramp-up, carry-forward of shortfalls, termination if demand falls."},
    {"Volume Restriction",
     "Is there a fee increase or consent requirement, etc. if one party’s use of the product/services exceeds certain threshold?",
     "Yes/No", AnswerKind::kYesNo, 0,
     "Fees or consent above usage thresholds create cost uncertainty; fallback: pre-agreed tiered pricing."},
    {"IP Ownership Assignment",
     "Does intellectual property created by one party become the property of the counterparty, either per the terms of the contract or upon the occurrence of certain events?",
     "Yes/No", AnswerKind::kYesNo, 0,
     "Assignment of the client's IP (including improvements or background IP) is high risk; fallback: assign only deliverables, license back, keep background IP."},
    {"Joint IP Ownership",
     "Is there any clause providing for joint or shared ownership of intellectual property between the parties to the contract?",
     "Yes/No", AnswerKind::kYesNo, 0,
     "Joint ownership is ambiguous to exploit and enforce (rules differ by jurisdiction); fallback: sole ownership with a license to the other party."},
    {"License Grant",
     "Does the contract contain a license granted by one party to its counterparty?",
     "Yes/No", AnswerKind::kYesNo, 4,
     "Check scope, field, territory, exclusivity, sublicensing and fees; overbroad grants by the client are the risk."},
    {"Non-Transferable License",
     "Does the contract limit the ability of a party to transfer the license being granted to a third party?",
     "Yes/No", AnswerKind::kYesNo, 4,
     "Non-transferability of a license the client receives blocks reorganisations and sale of the business; fallback: transfer with the business or to affiliates."},
    {"Affiliate License-Licensor",
     "Does the contract contain a license grant by affiliates of the licensor or that includes intellectual property of affiliates of the licensor?",
     "Yes/No", AnswerKind::kYesNo, 4,
     "Check that affiliates' IP needed for the licensed products is really covered."},
    {"Affiliate License-Licensee",
     "Does the contract contain a license grant to a licensee (incl. sublicensor) and the affiliates of such licensee/sublicensor?",
     "Yes/No", AnswerKind::kYesNo, 4,
     "For the licensee: affiliates should be covered; for the licensor: affiliate use widens exposure and should be controlled."},
    {"Unlimited/All-You-Can-Eat-License",
     "Is there a clause granting one party an “enterprise,” “all you can eat” or unlimited usage license?",
     "Yes/No", AnswerKind::kYesNo, 4,
     "Favourable to the licensee; for the licensor a revenue and support exposure; fallback: caps or fair-use limits."},
    {"Irrevocable or Perpetual License",
     "Does the contract contain a license grant that is irrevocable or perpetual?",
     "Yes/No", AnswerKind::kYesNo, 4,
     "A perpetual, irrevocable grant by the client cannot be recovered even after breach; fallback: termination for material breach or non-payment."},
    {"Source Code Escrow",
     "Is one party required to deposit its source code into escrow with a third party, which can be released to the counterparty upon the occurrence of certain events (bankruptcy, insolvency, etc.)?",
     "Yes/No", AnswerKind::kYesNo, 0,
     "For the licensee, the absence of escrow for critical software is a continuity risk; check the release triggers and verification."},
    {"Post-Termination Services",
     "Is a party subject to obligations after the termination or expiration of a contract, including any post-termination transition, payment, transfer of IP, wind-down, last-buy, or similar commitments?",
     "Yes/No", AnswerKind::kYesNo, 5,
     "Open-ended transition, last-buy or support obligations after termination; fallback: defined duration and fees."},
    {"Audit Rights",
     "Does a party have the right to audit the books, records, or physical locations of the counterparty to ensure compliance with the contract?",
     "Yes/No", AnswerKind::kYesNo, 5,
     "Audit rights over the client: check frequency, notice, confidentiality and who pays; absence of audit rights for payments owed to the client is a risk."},
    {"Uncapped Liability",
     "Is a party’s liability uncapped upon the breach of its obligation in the contract? This also includes uncap liability for a particular type of breach such as IP infringement or breach of confidentiality obligation.",
     "Yes/No", AnswerKind::kYesNo, 6,
     "Uncapped liability of the client (beyond fraud, wilful misconduct or the like) is high risk; fallback: a cap with narrow, mutual exclusions."},
    {"Cap on Liability",
     "Does the contract include a cap on liability upon the breach of a party’s obligation? This includes time limitation for the counterparty to bring claims or maximum amount for recovery.",
     "Yes/No", AnswerKind::kYesNo, 6,
     "A low cap on the counterparty's liability, or none on the client's, is the risk; fallback: cap at fees paid in 12 months with super-caps for data and IP."},
    {"Liquidated Damages",
     "Does the contract contain a clause that would award either party liquidated damages for breach or a fee upon the termination of a contract (termination fee)?",
     "Yes/No", AnswerKind::kYesNo, 0,
     "Check the amount is a genuine pre-estimate (penalty rules vary by jurisdiction) and whether it is the exclusive remedy."},
    {"Warranty Duration",
     "What is the duration of any warranty against defects or errors in technology, products, or services provided under the contract?",
     "Number of months or years", AnswerKind::kPeriod, 0,
     "Short warranty periods on what the client buys are a risk; long ones on what it supplies are a cost."},
    {"Insurance",
     "Is there a requirement for insurance that must be maintained by one party for the benefit of the counterparty?",
     "Yes/No", AnswerKind::kYesNo, 0,
     "Check required coverage amounts, additional-insured status and certificates; absence of insurance obligations for a risky counterparty is a gap."},
    {"Covenant Not to Sue",
     "Is a party restricted from contesting the validity of the counterparty’s ownership of intellectual property or otherwise bringing a claim against the counterparty for matters unrelated to the contract?",
     "Yes/No", AnswerKind::kYesNo, 0,
     "A covenant not to challenge the counterparty's IP or bring unrelated claims waives rights; fallback: limit to the licensed IP and the term."},
    {"Third Party Beneficiary",
     "Is there a non-contracting party who is a beneficiary to some or all of the clauses in the contract and therefore can enforce its rights against a contracting party?",
     "Yes/No", AnswerKind::kYesNo, 0,
     "Third-party enforcement rights widen exposure; fallback: an express exclusion of third-party rights except named indemnitees."},
}};

std::string key_of(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string trimmed(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n\"'.");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n\"'.");
  return std::string(s.substr(b, e - b + 1));
}

int month_of(std::string_view word) {
  static const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  std::string w = key_of(word);
  if (w.size() < 3) return 0;
  for (int m = 0; m < 12; ++m) {
    if (w.compare(0, 3, kMonths[m]) == 0) return m + 1;
  }
  return 0;
}

std::string mdy(int m, int d, int y) {
  if (y < 100) y += y < 50 ? 2000 : 1900;
  if (m < 1 || m > 12 || d < 1 || d > 31 || y < 1900 || y > 2200) return "";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d/%02d/%04d", m, d, y);
  return buf;
}

// "30 days", "thirty (30) days", "3 months", "one year" -> "30 days", "3 months", "1 year".
std::string normalise_period(std::string_view text) {
  static const std::regex kNum(R"((\d+)\s*\)?\s*(day|business day|week|month|year)s?)", std::regex::icase);
  static const std::regex kWord(
      R"(\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|eighteen|twenty|thirty|sixty|ninety)\s+(day|week|month|year)s?)",
      std::regex::icase);
  static const char* kWords[] = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"};
  std::string s(text);
  std::smatch m;
  int n = 0;
  std::string unit;
  if (std::regex_search(s, m, kNum)) {
    n = std::stoi(m[1].str());
    unit = key_of(m[2].str()) == "businessday" ? "business day" : key_of(m[2].str());
  } else if (std::regex_search(s, m, kWord)) {
    std::string w = key_of(m[1].str());
    for (int i = 0; i < 10; ++i) if (w == kWords[i]) n = i + 1;
    if (w == "twelve") n = 12;
    if (w == "eighteen") n = 18;
    if (w == "twenty") n = 20;
    if (w == "thirty") n = 30;
    if (w == "sixty") n = 60;
    if (w == "ninety") n = 90;
    unit = key_of(m[2].str());
  } else {
    return "";
  }
  return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
}

}  // namespace

std::span<const Category> cuad_categories() { return kCategories; }

const Category* find_category(std::string_view name) {
  std::string k = key_of(name);
  for (const Category& c : kCategories) {
    if (key_of(c.name) == k) return &c;
  }
  return nullptr;
}

std::string normalise_date(std::string_view text) {
  static const std::regex kIso(R"((\d{4})-(\d{1,2})-(\d{1,2}))");
  static const std::regex kSlash(R"((\d{1,2})[/.](\d{1,2})[/.](\d{2,4}))");
  static const std::regex kMonthFirst(R"(([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4}))");
  static const std::regex kDayFirst(R"((\d{1,2})(?:st|nd|rd|th)?\s+(?:day\s+of\s+)?([A-Za-z]{3,9})\.?,?\s+(\d{4}))",
                                    std::regex::icase);
  std::string s(text);
  std::smatch m;
  if (std::regex_search(s, m, kIso)) return mdy(std::stoi(m[2]), std::stoi(m[3]), std::stoi(m[1]));
  if (std::regex_search(s, m, kMonthFirst) && month_of(m[1].str())) {
    return mdy(month_of(m[1].str()), std::stoi(m[2]), std::stoi(m[3]));
  }
  if (std::regex_search(s, m, kDayFirst) && month_of(m[2].str())) {
    return mdy(month_of(m[2].str()), std::stoi(m[1]), std::stoi(m[3]));
  }
  // CUAD's format is US month/day/year; a filing's 5/1/2020 is read the same way.
  if (std::regex_search(s, m, kSlash)) return mdy(std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3]));
  return "";
}

std::string normalise_answer(const Category& c, std::string_view answer, bool found) {
  std::string a = trimmed(answer);
  std::string k = key_of(a);
  switch (c.kind) {
    case AnswerKind::kYesNo:
      if (k == "yes" || k == "true" || k.rfind("yes", 0) == 0) return "Yes";
      if (k == "no" || k == "false" || k.rfind("no", 0) == 0 || k == "none" || k == "notfound") return "No";
      return found ? "Yes" : "No";
    case AnswerKind::kDate:
    case AnswerKind::kDateOrPerpetual: {
      if (c.kind == AnswerKind::kDateOrPerpetual && k.find("perpetual") != std::string::npos) return "Perpetual";
      std::string d = normalise_date(a);
      return d.empty() ? a : d;
    }
    case AnswerKind::kTerm: {
      if (k.find("perpetual") != std::string::npos) return "Perpetual";
      std::string p = normalise_period(a);
      if (p.empty()) return a;
      return k.find("successive") != std::string::npos ? "Successive " + p : p;
    }
    case AnswerKind::kPeriod: {
      std::string p = normalise_period(a);
      return p.empty() ? a : p;
    }
    case AnswerKind::kText:
    case AnswerKind::kParties:
    case AnswerKind::kLaw:
      return a;
  }
  return a;
}

}  // namespace legal
