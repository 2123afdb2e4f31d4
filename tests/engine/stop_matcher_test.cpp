// StopMatcher: stop strings across token boundaries are found and never emitted.
#include "sched/stop_matcher.h"

#include <gtest/gtest.h>

namespace ream {
namespace {

TEST(StopMatcher, HoldsBackAPossibleStopAcrossPieces) {
  StopMatcher m({"</answer>"});
  EXPECT_EQ(m.push("The fee is 5%</an"), "The fee is 5%");
  EXPECT_EQ(m.push("swer> trailing"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.push("more"), "");
}

TEST(StopMatcher, ReleasesTextThatTurnsOutNotToBeAStop) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.push("ST"), "");
  EXPECT_EQ(m.push("ART"), "START");
  EXPECT_EQ(m.push("S"), "");
  EXPECT_EQ(m.flush(), "S");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, EarliestOfSeveralStopsWins) {
  StopMatcher m({"xyz", "\n\n"});
  EXPECT_EQ(m.push("ab\n\ncd xyz"), "ab");
  EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, NoStopsPassesEverythingThrough) {
  StopMatcher m;
  EXPECT_EQ(m.push("abc"), "abc");
  EXPECT_EQ(m.flush(), "");
}

}  // namespace
}  // namespace ream
