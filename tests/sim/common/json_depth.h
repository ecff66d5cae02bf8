// The stand-ins' guard against deeply nested request bodies: a cheap pre-scan before parsing, so
// nlohmann's recursive parser, copies and comparisons stay far from the stack limit. Go's
// encoding/json refuses documents nested deeper than 10,000 (maxNestingDepth), and so do both
// stand-ins.
#pragma once

#include <string>

namespace pygrid::sim {

inline constexpr int kMaxJsonNestingDepth = 10000;

// The deepest [ / { nesting outside strings.
int JsonNestingDepth(const std::string& text);

}  // namespace pygrid::sim
