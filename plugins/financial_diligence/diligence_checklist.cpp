// The diligence checklist as data.
#include "diligence_checklist.h"

#include <cctype>
#include <string>

namespace diligence {

namespace {

const std::vector<Area>& areas() {
  static const std::vector<Area> kAreas = {
      {"corporate", "Corporate structure and governance",
       "who owns and controls the company, and whether its governance protects minority holders",
       {"What is the legal and group structure (significant subsidiaries, jurisdictions)?",
        "Are there controlling shareholders, dual-class shares or anti-takeover provisions?",
        "Were there changes in directors, executive officers or auditors, or related-party transactions?"},
       {"Shares outstanding", "Share repurchases in the period", "Dividends declared per share"}},
      {"financial", "Financial statements and performance",
       "the quality and trend of revenue, margins, earnings and cash flow",
       {"How did revenue, gross margin and operating income change against the prior year, and why?",
        "Is revenue concentrated in few customers, products or regions?",
        "Are there material weaknesses in internal control, restatements or auditor qualifications?",
        "Do critical accounting estimates or non-GAAP adjustments materially affect reported results?"},
       {"Total revenue", "Gross margin", "Operating income", "Net income", "Diluted earnings per share",
        "Cash flow from operations", "Cash and marketable securities", "Total assets", "Shareholders' equity"}},
      {"tax", "Tax",
       "the effective tax rate, uncertain positions and exposure to tax disputes or law changes",
       {"What is the effective tax rate and what drives its difference from the statutory rate?",
        "Are there unrecognised tax benefits, open audits or tax disputes with material amounts?",
        "Are there exposures to changes in tax law (e.g. global minimum tax, repatriation)?"},
       {"Effective tax rate", "Provision for income taxes", "Unrecognized tax benefits"}},
      {"debt", "Debt and financing",
       "borrowings, maturities, covenants and anything that accelerates repayment",
       {"What debt is outstanding, at what rates and with which maturities in the next years?",
        "Are there financial covenants, and is the company in compliance?",
        "Are there change-of-control, cross-default or rating triggers?",
        "What off-balance-sheet arrangements, guarantees or purchase commitments exist?"},
       {"Total debt", "Debt maturing within one year", "Interest expense", "Unconditional purchase obligations"}},
      {"property", "Property and assets",
       "owned and leased property, capacity and concentration of key facilities",
       {"What key facilities are owned or leased, and where?",
        "Are there impairments, idle capacity or dependence on a single site or supplier facility?"},
       {"Property, plant and equipment, net", "Operating lease liabilities", "Capital expenditures"}},
      {"ip", "Intellectual property",
       "ownership and protection of key IP, licences in and out, and infringement exposure",
       {"Does the business depend on patents, licences or trade secrets it does not fully control?",
        "Are there IP infringement claims against or by the company?"},
       {"Research and development expense"}},
      {"material_contracts", "Material contracts",
       "the agreements the business depends on and terms that could hurt a buyer",
       {"Which material agreements are listed (exhibits) and what do they govern?",
        "Do key contracts have change-of-control, exclusivity, minimum-purchase or termination rights?",
        "Is there dependence on a few suppliers, manufacturers or customers under contract?"},
       {"Remaining performance obligations", "Purchase commitments"}},
      {"operations", "Operations and supply chain",
       "how the business runs, its concentration risks and operational disruptions",
       {"Are manufacturing or supply concentrated in particular vendors or geographies?",
        "Were there disruptions, inventory write-downs or capacity constraints?"},
       {"Inventories", "Inventory write-downs or provisions", "Employees (headcount)"}},
      {"litigation", "Litigation and contingencies",
       "pending proceedings, accruals and the range of possible loss",
       {"What material legal proceedings are pending, and what is accrued or estimated?",
        "Are there government investigations, class actions or product liability claims?"},
       {"Litigation accruals", "Estimated range of reasonably possible loss"}},
      {"regulatory", "Regulatory and compliance",
       "regulation the business depends on, export controls, antitrust and sanctions",
       {"Which regulations materially constrain the business (export controls, antitrust, sector rules)?",
        "Are there regulatory investigations, consent decrees or compliance failures?"},
       {}},
      {"employment", "Employment and compensation",
       "workforce, key-person dependence, pensions and labour matters",
       {"Is there dependence on key personnel or significant labour relations issues?",
        "Are there material pension or post-retirement obligations and are they funded?",
        "How large is stock-based compensation relative to results?"},
       {"Stock-based compensation expense", "Pension benefit obligation", "Employees (headcount)"}},
      {"privacy_security", "Data privacy and cybersecurity",
       "how personal data and systems are protected and what incidents occurred",
       {"How is cybersecurity risk governed (Item 1C), and were there material incidents?",
        "Which privacy laws apply and are there enforcement actions or fines?"},
       {}},
      {"esg", "Environmental, social and governance",
       "environmental liabilities, climate exposure and social matters that carry cost",
       {"Are there environmental liabilities, remediation obligations or climate-related risks disclosed?",
        "Are there human-capital, supply-chain labour or community matters with financial impact?"},
       {"Environmental remediation accruals"}},
  };
  return kAreas;
}

std::string key_of(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::span<const Area> checklist() { return areas(); }

const Area* find_area(std::string_view name) {
  std::string k = key_of(name);
  for (const Area& a : areas()) {
    if (key_of(a.id) == k || key_of(a.title) == k) return &a;
  }
  if (k == "intellectualproperty") return find_area("ip");
  if (k == "privacy" || k == "security" || k == "cybersecurity") return find_area("privacy_security");
  if (k == "contracts") return find_area("material_contracts");
  return nullptr;
}

}  // namespace diligence
