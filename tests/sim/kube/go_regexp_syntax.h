// Internal to go_regexp.cc: the syntax tree of a Go (RE2) pattern and the parser that builds
// it, following Go's regexp/syntax (parse.go: flags, repeat and escape rules, error wording,
// maxHeight 1000 nesting, repeat counts up to 1000). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pygrid::sim::kube::go_regexp_syntax {

// Empty-width assertions (Go's syntax.EmptyOp).
enum EmptyOp : uint8_t {
  kBeginLine = 1,
  kEndLine = 2,
  kBeginText = 4,
  kEndText = 8,
  kWordBoundary = 16,
  kNoWordBoundary = 32,
};

// One node of the parsed pattern; flags are already applied (case folding to the ranges,
// (?s) to `.`, (?m) to the anchors).
struct Node {
  enum Kind { kEmpty, kRunes, kConcat, kAlt, kRepeat, kAssert } kind = kEmpty;
  std::vector<uint32_t> ranges;  // kRunes: sorted, disjoint [lo, hi] pairs
  std::vector<std::unique_ptr<Node>> subs;
  int min = 0, max = 0;   // kRepeat; max -1 = unbounded
  uint8_t assertion = 0;  // kAssert: an EmptyOp
};
using NodePtr = std::unique_ptr<Node>;

// Parses `pattern`; nullptr with `error` ("error parsing regexp: ...") when Go would refuse it
// or it uses what kube-sim does not support (see go_regexp.h).
NodePtr Parse(std::string_view pattern, std::string* error);

// Decodes one UTF-8 rune at s[*i], advancing *i; an invalid sequence is U+FFFD and one byte.
uint32_t DecodeRune(std::string_view s, size_t* i);

// \w's ASCII word characters; -1 (outside the text) is not one.
bool IsWordRune(int64_t r);

}  // namespace pygrid::sim::kube::go_regexp_syntax
