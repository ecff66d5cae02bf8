// GoRegexp: a linear-time regular-expression matcher with the syntax and match semantics of
// Go's regexp package (RE2), which kube-apiserver evaluates CRD `pattern`s with. Matching
// simulates the compiled NFA over the input (a Pike VM without captures), so time is
// O(input x program) and stack use does not depend on the input: a 3 MiB string cannot
// overflow the stack, as libstdc++'s std::regex did (its executor recursed once per character,
// so a 65,536-character value crashed kube-sim).
//
//   GoRegexp re;
//   std::string err;
//   if (GoRegexp::Compile("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", &re, &err) && re.Search(name)) ...
//
// Supported: literals and escapes (\t \n \r \f \v \a, octal \012, \x41, \x{263a}, \Q...\E,
// escaped punctuation), `.`, classes ([a-z], [^...], [[:alpha:]], \d \D \w \W \s \S, also
// inside classes), groups ((...), (?:...), (?P<n>...), (?<n>...)), flags (?i) (?m) (?s) (?U)
// and (?flags:...), alternation, * + ? {n} {n,} {n,m} and their lazy forms, anchors ^ $ \A \z
// and word boundaries \b \B. Case folding is ASCII-only (Go folds all of Unicode); Unicode
// classes (\pL, \p{Greek}) are not supported and fail to compile. Syntax Go rejects
// (backreferences, lookaround, `**`, repeat counts over 1000, nesting over 1000) fails too.
// Immutable after Compile; Search is thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pygrid::sim::kube {

// A compiled pattern; see the file comment.
class GoRegexp {
 public:
  // Compiles `pattern`; false with `error` (Go's "error parsing regexp: ..." wording) when it
  // is not valid RE2 syntax, uses an unsupported feature, or is too large.
  static bool Compile(const std::string& pattern, GoRegexp* out, std::string* error);

  // True when the pattern matches somewhere in `text` (Go's MatchString). `text` is read as
  // UTF-8; each invalid byte is one U+FFFD rune, as in Go.
  bool Search(std::string_view text) const;

  // One NFA instruction (public so the compiler in the .cc can build them).
  struct Inst {
    enum Op : uint8_t { kRunes, kSplit, kJmp, kAssert, kMatch };
    Op op = kMatch;
    uint8_t assertion = 0;         // kAssert: an EmptyOp bit (see the .cc)
    int x = 0, y = 0;              // kSplit: both successors; kJmp: x
    std::vector<uint32_t> ranges;  // kRunes: sorted, disjoint [lo, hi] pairs
  };

 private:
  std::vector<Inst> prog_;
  bool anchored_ = false;  // every match must start at offset 0 (\A or ^ without (?m))
};

}  // namespace pygrid::sim::kube
