// GoRegexp's compiler and matcher, after Russ Cox, "Regular Expression Matching: the Virtual
// Machine Approach" (the Pike VM RE2 and Go use when they need no DFA), with a lazily built DFA
// cache on top. The parser is go_regexp_syntax.cc.
#include "sim/kube/go_regexp.h"

#include <algorithm>
#include <map>
#include <memory>
#include <unordered_map>

#include "sim/kube/go_regexp_syntax.h"

namespace pygrid::sim::kube {

namespace {

using go_regexp_syntax::DecodeRune;
using go_regexp_syntax::IsWordRune;
using go_regexp_syntax::kBeginLine;
using go_regexp_syntax::kBeginText;
using go_regexp_syntax::kEndLine;
using go_regexp_syntax::kEndText;
using go_regexp_syntax::kNoWordBoundary;
using go_regexp_syntax::kWordBoundary;
using go_regexp_syntax::Node;
using go_regexp_syntax::NodePtr;

constexpr size_t kMaxInsts = 200000;

class Compiler {
 public:
  explicit Compiler(std::vector<GoRegexp::Inst>* prog) : prog_(prog) {}

  bool Emit(const Node& n) {
    if (prog_->size() > kMaxInsts) return false;
    switch (n.kind) {
      case Node::kEmpty:
        return true;
      case Node::kRunes: {
        GoRegexp::Inst in;
        in.op = GoRegexp::Inst::kRunes;
        in.ranges = n.ranges;
        prog_->push_back(std::move(in));
        return true;
      }
      case Node::kAssert: {
        GoRegexp::Inst in;
        in.op = GoRegexp::Inst::kAssert;
        in.assertion = n.assertion;
        prog_->push_back(std::move(in));
        return true;
      }
      case Node::kConcat:
        for (const auto& s : n.subs) {
          if (!Emit(*s)) return false;
        }
        return true;
      case Node::kAlt: {
        std::vector<size_t> jumps;
        for (size_t i = 0; i < n.subs.size(); ++i) {
          size_t split = 0;
          if (i + 1 < n.subs.size()) {
            split = Push(GoRegexp::Inst::kSplit);
            (*prog_)[split].x = static_cast<int>(prog_->size());
          }
          if (!Emit(*n.subs[i])) return false;
          if (i + 1 < n.subs.size()) {
            jumps.push_back(Push(GoRegexp::Inst::kJmp));
            (*prog_)[split].y = static_cast<int>(prog_->size());
          }
        }
        for (size_t j : jumps) (*prog_)[j].x = static_cast<int>(prog_->size());
        return true;
      }
      case Node::kRepeat: {
        const Node& sub = *n.subs[0];
        for (int i = 0; i < n.min; ++i) {
          if (!Emit(sub)) return false;
        }
        if (n.max < 0) {
          size_t loop = Push(GoRegexp::Inst::kSplit);
          (*prog_)[loop].x = static_cast<int>(prog_->size());
          if (!Emit(sub)) return false;
          size_t back = Push(GoRegexp::Inst::kJmp);
          (*prog_)[back].x = static_cast<int>(loop);
          (*prog_)[loop].y = static_cast<int>(prog_->size());
          return true;
        }
        std::vector<size_t> exits;
        for (int i = n.min; i < n.max; ++i) {
          size_t split = Push(GoRegexp::Inst::kSplit);
          (*prog_)[split].x = static_cast<int>(prog_->size());
          exits.push_back(split);
          if (!Emit(sub)) return false;
        }
        for (size_t e : exits) (*prog_)[e].y = static_cast<int>(prog_->size());
        return true;
      }
    }
    return false;
  }

 private:
  size_t Push(GoRegexp::Inst::Op op) {
    GoRegexp::Inst in;
    in.op = op;
    prog_->push_back(std::move(in));
    return prog_->size() - 1;
  }

  std::vector<GoRegexp::Inst>* prog_;
};

// True when every match of `n` must begin at the start of the text.
bool AnchoredAtStart(const Node& n) {
  switch (n.kind) {
    case Node::kAssert:
      return n.assertion == kBeginText;
    case Node::kConcat:
      for (const auto& s : n.subs) {
        if (AnchoredAtStart(*s)) return true;
        if (s->kind != Node::kAssert) return false;  // other empty-width ops keep looking
      }
      return false;
    case Node::kAlt:
      return std::all_of(n.subs.begin(), n.subs.end(),
                         [](const NodePtr& s) { return AnchoredAtStart(*s); });
    case Node::kRepeat:
      return n.min > 0 && AnchoredAtStart(*n.subs[0]);
    default:
      return false;
  }
}

bool InRanges(const std::vector<uint32_t>& r, uint32_t c) {
  // Ranges are sorted: find the first pair whose upper bound is >= c.
  size_t lo = 0, hi = r.size() / 2;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (r[2 * mid + 1] < c) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < r.size() / 2 && r[2 * lo] <= c;
}

// The set of live instructions at one input position (sparse set, O(1) clear).
class ThreadList {
 public:
  explicit ThreadList(size_t n) : sparse_(n), dense_(n) {}
  bool Contains(int pc) const {
    size_t i = sparse_[static_cast<size_t>(pc)];
    return i < size_ && dense_[i] == pc;
  }
  void Add(int pc) {
    sparse_[static_cast<size_t>(pc)] = size_;
    dense_[size_++] = pc;
  }
  void Clear() { size_ = 0; }
  size_t size() const { return size_; }
  int operator[](size_t i) const { return dense_[i]; }

 private:
  std::vector<size_t> sparse_;
  std::vector<int> dense_;
  size_t size_ = 0;
};

}  // namespace

bool GoRegexp::Compile(const std::string& pattern, GoRegexp* out, std::string* error) {
  NodePtr root = go_regexp_syntax::Parse(pattern, error);
  if (!root) return false;
  GoRegexp re;
  Compiler compiler(&re.prog_);
  if (!compiler.Emit(*root) || re.prog_.size() > kMaxInsts) {
    *error = "error parsing regexp: expression too large";
    return false;
  }
  Inst match;
  match.op = Inst::kMatch;
  re.prog_.push_back(match);
  re.anchored_ = AnchoredAtStart(*root);
  *out = std::move(re);
  return true;
}

bool GoRegexp::Search(std::string_view text) const {
  if (prog_.empty()) return false;
  // A lazily built DFA over the Pike VM: a state is the set of rune-consuming instructions
  // alive between two runes; its successor depends only on the rune consumed and on the class
  // of the rune after it (what $, \b and (?m)$ look at), so transitions are cached per
  // (state, rune, next class). Each input rune costs one cache lookup once warm; a state
  // explosion (over kMaxStates) falls back to stepping the NFA without caching.
  constexpr size_t kMaxStates = 2000;
  const size_t n = prog_.size();
  ThreadList list(n);
  std::vector<int> stack;
  bool matched = false;
  // Follows empty transitions from `start` at a position between runes `prev` and `next`
  // (-1 at either end of the text), adding every instruction reached to `list`.
  auto add = [&](int start, int64_t prev, int64_t next) {
    stack.push_back(start);
    while (!stack.empty()) {
      int pc = stack.back();
      stack.pop_back();
      if (list.Contains(pc)) continue;
      list.Add(pc);
      const Inst& in = prog_[static_cast<size_t>(pc)];
      switch (in.op) {
        case Inst::kJmp:
          stack.push_back(in.x);
          break;
        case Inst::kSplit:
          stack.push_back(in.y);
          stack.push_back(in.x);
          break;
        case Inst::kAssert: {
          bool ok = false;
          switch (in.assertion) {
            case kBeginText:
              ok = prev < 0;
              break;
            case kEndText:
              ok = next < 0;
              break;
            case kBeginLine:
              ok = prev < 0 || prev == '\n';
              break;
            case kEndLine:
              ok = next < 0 || next == '\n';
              break;
            case kWordBoundary:
              ok = IsWordRune(prev) != IsWordRune(next);
              break;
            case kNoWordBoundary:
              ok = IsWordRune(prev) == IsWordRune(next);
              break;
          }
          if (ok) stack.push_back(pc + 1);
          break;
        }
        case Inst::kMatch:
          matched = true;
          break;
        case Inst::kRunes:
          break;
      }
    }
  };
  struct DState {
    std::vector<int> pcs;  // kRunes instructions, sorted
    bool match = false;
  };
  std::vector<DState> states;
  std::map<std::vector<int>, int> index;  // pcs -> state (match is implied by how it was made)
  std::unordered_map<uint64_t, int> next_state;
  // Interns the rune-consuming part of `list` (and `matched`) as a state; -1 past the cap.
  auto intern = [&]() -> int {
    std::vector<int> pcs;
    for (size_t i = 0; i < list.size(); ++i) {
      if (prog_[static_cast<size_t>(list[i])].op == Inst::kRunes) pcs.push_back(list[i]);
    }
    std::sort(pcs.begin(), pcs.end());
    if (matched) return -2;  // a match ends the search; no state needed
    auto it = index.find(pcs);
    if (it != index.end()) return it->second;
    if (states.size() >= kMaxStates) {
      states.clear();
      index.clear();
      next_state.clear();
    }
    states.push_back({pcs, false});
    index.emplace(std::move(pcs), static_cast<int>(states.size() - 1));
    return static_cast<int>(states.size() - 1);
  };
  auto next_class = [](int64_t r) -> uint64_t {
    return r < 0 ? 0 : r == '\n' ? 1 : IsWordRune(r) ? 2 : 3;
  };
  size_t peek = 0;
  int64_t cur = text.empty() ? -1 : static_cast<int64_t>(DecodeRune(text, &peek));
  list.Clear();
  add(0, -1, cur);
  int state = intern();
  if (state == -2) return true;
  size_t pos = 0;
  while (pos < text.size()) {
    if (anchored_ && states[static_cast<size_t>(state)].pcs.empty()) return false;
    const size_t after = peek;
    const int64_t nxt = after < text.size() ? static_cast<int64_t>(DecodeRune(text, &peek)) : -1;
    const auto r = static_cast<uint32_t>(cur);
    const uint64_t key =
        (static_cast<uint64_t>(state) << 24) | (static_cast<uint64_t>(r) << 2) | next_class(nxt);
    auto hit = next_state.find(key);
    if (hit != next_state.end()) {
      state = hit->second;
    } else {
      const std::vector<int> from = states[static_cast<size_t>(state)].pcs;
      list.Clear();
      for (int pc : from) {
        if (InRanges(prog_[static_cast<size_t>(pc)].ranges, r)) add(pc + 1, cur, nxt);
      }
      if (!anchored_) add(0, cur, nxt);
      const size_t generation = states.size();
      int to = intern();
      if (to == -2) return true;
      // intern() may have flushed the cache (the source state is gone then): keep going
      // uncached from the new state.
      if (states.size() >= generation) next_state[key] = to;
      state = to;
    }
    cur = nxt;
    pos = after;
  }
  return false;
}

}  // namespace pygrid::sim::kube
