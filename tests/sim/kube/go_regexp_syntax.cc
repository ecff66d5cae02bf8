// Parser of Go (RE2) pattern syntax for GoRegexp; see go_regexp_syntax.h.
#include "sim/kube/go_regexp_syntax.h"

#include <algorithm>
#include <cctype>

namespace pygrid::sim::kube::go_regexp_syntax {

namespace {

constexpr uint32_t kMaxRune = 0x10FFFF;
constexpr uint32_t kRuneError = 0xFFFD;
constexpr int kMaxNesting = 1000;
constexpr int kMaxRepeat = 1000;

struct Flags {
  bool fold = false;       // i
  bool multiline = false;  // m
  bool dot_nl = false;     // s
};

NodePtr MakeNode(Node::Kind kind) {
  auto n = std::make_unique<Node>();
  n->kind = kind;
  return n;
}

// Sorts and merges [lo, hi] pairs.
std::vector<uint32_t> Normalize(std::vector<uint32_t> r) {
  std::vector<std::pair<uint32_t, uint32_t>> p;
  for (size_t i = 0; i + 1 < r.size(); i += 2) p.emplace_back(r[i], r[i + 1]);
  std::sort(p.begin(), p.end());
  std::vector<uint32_t> out;
  for (const auto& [lo, hi] : p) {
    if (!out.empty() && lo <= out.back() + 1) {
      out.back() = std::max(out.back(), hi);
    } else {
      out.push_back(lo);
      out.push_back(hi);
    }
  }
  return out;
}

std::vector<uint32_t> Complement(const std::vector<uint32_t>& sorted) {
  std::vector<uint32_t> out;
  uint32_t next = 0;
  for (size_t i = 0; i + 1 < sorted.size(); i += 2) {
    if (sorted[i] > next) {
      out.push_back(next);
      out.push_back(sorted[i] - 1);
    }
    next = sorted[i + 1] + 1;
  }
  if (next <= kMaxRune) {
    out.push_back(next);
    out.push_back(kMaxRune);
  }
  return out;
}

// Adds the other ASCII case of every letter in the ranges.
std::vector<uint32_t> FoldAscii(std::vector<uint32_t> r) {
  const size_t n = r.size();
  for (size_t i = 0; i + 1 < n; i += 2) {
    for (uint32_t c = std::max<uint32_t>(r[i], 'A'); c <= std::min<uint32_t>(r[i + 1], 'z'); ++c) {
      if (c >= 'A' && c <= 'Z') r.insert(r.end(), {c + 32, c + 32});
      if (c >= 'a' && c <= 'z') r.insert(r.end(), {c - 32, c - 32});
    }
  }
  return Normalize(std::move(r));
}

const std::vector<uint32_t>& PerlClass(char c) {
  static const std::vector<uint32_t> digit = {'0', '9'};
  static const std::vector<uint32_t> word = {'0', '9', 'A', 'Z', '_', '_', 'a', 'z'};
  static const std::vector<uint32_t> space = {'\t', '\n', '\f', '\r', ' ', ' '};
  return c == 'd' ? digit : c == 'w' ? word : space;
}

// POSIX [:name:] classes as Go defines them (ASCII).
bool PosixClass(const std::string& name, std::vector<uint32_t>* out) {
  static const std::vector<std::pair<std::string, std::vector<uint32_t>>> table = {
      {"alnum", {'0', '9', 'A', 'Z', 'a', 'z'}},
      {"alpha", {'A', 'Z', 'a', 'z'}},
      {"ascii", {0, 0x7F}},
      {"blank", {'\t', '\t', ' ', ' '}},
      {"cntrl", {0, 0x1F, 0x7F, 0x7F}},
      {"digit", {'0', '9'}},
      {"graph", {'!', '~'}},
      {"lower", {'a', 'z'}},
      {"print", {' ', '~'}},
      {"punct", {'!', '/', ':', '@', '[', '`', '{', '~'}},
      {"space", {'\t', '\r', ' ', ' '}},
      {"upper", {'A', 'Z'}},
      {"word", {'0', '9', 'A', 'Z', '_', '_', 'a', 'z'}},
      {"xdigit", {'0', '9', 'A', 'F', 'a', 'f'}}};
  for (const auto& [n, r] : table) {
    if (n == name) {
      *out = r;
      return true;
    }
  }
  return false;
}

class Parser {
 public:
  explicit Parser(std::string_view p) : p_(p) {}

  NodePtr Parse(std::string* error) {
    Flags flags;
    NodePtr n = ParseAlt(&flags, 0);
    if (n && pos_ < p_.size()) Fail("unexpected )", p_.substr(pos_));
    if (!err_.empty()) {
      *error = "error parsing regexp: " + err_;
      return nullptr;
    }
    return n;
  }

 private:
  bool Fail(const std::string& what, std::string_view where) {
    if (err_.empty()) err_ = what + ": `" + std::string(where) + "`";
    return false;
  }
  bool More() const { return pos_ < p_.size() && err_.empty(); }
  char Peek() const { return p_[pos_]; }

  // alternation := concat ('|' concat)*
  NodePtr ParseAlt(Flags* flags, int depth) {
    auto alt = MakeNode(Node::kAlt);
    alt->subs.push_back(ParseConcat(flags, depth));
    while (More() && Peek() == '|') {
      ++pos_;
      alt->subs.push_back(ParseConcat(flags, depth));
    }
    if (!err_.empty()) return nullptr;
    if (alt->subs.size() == 1) return std::move(alt->subs[0]);
    return alt;
  }

  NodePtr ParseConcat(Flags* flags, int depth) {
    auto cat = MakeNode(Node::kConcat);
    bool last_was_repeat = false;
    while (More() && Peek() != '|' && Peek() != ')') {
      const size_t op_start = pos_;
      char c = Peek();
      if (c == '*' || c == '+' || c == '?' || (c == '{' && IsRepeatSpec(pos_, nullptr, nullptr))) {
        int min = 0, max = -1;
        size_t end = pos_ + 1;
        if (c == '+') min = 1;
        if (c == '?') max = 1;
        if (c == '{') {
          IsRepeatSpec(pos_, &min, &max);
          end = p_.find('}', pos_) + 1;
          if (min > kMaxRepeat || max > kMaxRepeat || (max >= 0 && max < min)) {
            Fail("invalid repeat count", p_.substr(pos_, end - pos_));
            return nullptr;
          }
        }
        pos_ = end;
        if (pos_ < p_.size() && Peek() == '?') ++pos_;  // lazy: same set of matches
        if (cat->subs.empty()) {
          Fail("missing argument to repetition operator", p_.substr(op_start, pos_ - op_start));
          return nullptr;
        }
        if (last_was_repeat) {
          Fail("invalid nested repetition operator", p_.substr(op_start, pos_ - op_start));
          return nullptr;
        }
        auto rep = MakeNode(Node::kRepeat);
        rep->min = min;
        rep->max = max;
        rep->subs.push_back(std::move(cat->subs.back()));
        cat->subs.back() = std::move(rep);
        last_was_repeat = true;
        continue;
      }
      last_was_repeat = false;
      NodePtr atom = ParseAtom(flags, depth);
      if (!err_.empty()) return nullptr;
      if (atom) cat->subs.push_back(std::move(atom));
    }
    return cat;
  }

  // {n}, {n,}, {n,m} at `at`; anything else makes '{' a literal (Go's rule).
  bool IsRepeatSpec(size_t at, int* min, int* max) const {
    size_t i = at + 1;
    auto number = [&](int* v) {
      size_t start = i;
      long long n = 0;
      while (i < p_.size() && std::isdigit(static_cast<unsigned char>(p_[i]))) {
        n = std::min<long long>(n * 10 + (p_[i] - '0'), 100000);
        ++i;
      }
      if (v) *v = static_cast<int>(n);
      return i > start;
    };
    int lo = 0, hi = 0;
    if (!number(&lo)) return false;
    hi = lo;
    if (i < p_.size() && p_[i] == ',') {
      ++i;
      hi = -1;
      if (i < p_.size() && p_[i] != '}' && !number(&hi)) return false;
    }
    if (i >= p_.size() || p_[i] != '}') return false;
    if (min) *min = lo;
    if (max) *max = hi;
    return true;
  }

  NodePtr Literal(uint32_t r, const Flags& flags) {
    auto n = MakeNode(Node::kRunes);
    n->ranges = {r, r};
    if (flags.fold) n->ranges = FoldAscii(n->ranges);
    return n;
  }

  NodePtr Assertion(uint8_t op) {
    auto n = MakeNode(Node::kAssert);
    n->assertion = op;
    return n;
  }

  // Returns nullptr (without an error) for a flags-only group such as (?i).
  NodePtr ParseAtom(Flags* flags, int depth) {
    const size_t start = pos_;
    char c = Peek();
    if (c == '(') {
      if (depth + 1 > kMaxNesting) {
        Fail("expression nests too deeply", p_.substr(start, 1));
        return nullptr;
      }
      ++pos_;
      Flags inner = *flags;
      if (pos_ < p_.size() && Peek() == '?') {
        ++pos_;
        if (p_.substr(pos_, 2) == "P<" || (pos_ < p_.size() && Peek() == '<')) {
          pos_ += Peek() == 'P' ? 2 : 1;
          size_t close = p_.find('>', pos_);
          if (close == std::string_view::npos || close == pos_) {
            Fail("invalid named capture", p_.substr(start));
            return nullptr;
          }
          pos_ = close + 1;
        } else if (!ParseFlags(&inner, start)) {
          return nullptr;
        } else if (p_[pos_ - 1] == ')') {
          *flags = inner;  // (?i): applies to the rest of the enclosing group
          return nullptr;
        }
      }
      NodePtr body = ParseAlt(&inner, depth + 1);
      if (!err_.empty()) return nullptr;
      if (pos_ >= p_.size() || Peek() != ')') {
        Fail("missing closing )", p_.substr(start));
        return nullptr;
      }
      ++pos_;
      return body;
    }
    if (c == '[') return ParseClass(*flags);
    ++pos_;
    switch (c) {
      case '.': {
        auto n = MakeNode(Node::kRunes);
        n->ranges = flags->dot_nl ? std::vector<uint32_t>{0, kMaxRune}
                                  : std::vector<uint32_t>{0, '\n' - 1, '\n' + 1, kMaxRune};
        return n;
      }
      case '^':
        return Assertion(flags->multiline ? kBeginLine : kBeginText);
      case '$':
        return Assertion(flags->multiline ? kEndLine : kEndText);
      case '\\':
        return ParseEscapeAtom(*flags, start);
      default:
        break;
    }
    pos_ = start;
    size_t i = pos_;
    uint32_t r = DecodeRune(p_, &i);
    pos_ = i;
    return Literal(r, *flags);
  }

  // After "(?": flags like "i", "-s", "im-s" then ')' or ':'.
  bool ParseFlags(Flags* f, size_t start) {
    bool neg = false, any = false;
    while (pos_ < p_.size()) {
      char c = p_[pos_++];
      switch (c) {
        case 'i':
          f->fold = !neg;
          any = true;
          break;
        case 'm':
          f->multiline = !neg;
          any = true;
          break;
        case 's':
          f->dot_nl = !neg;
          any = true;
          break;
        case 'U':
          any = true;  // ungreedy changes which match, not whether one exists
          break;
        case '-':
          if (neg)
            return Fail("invalid or unsupported Perl syntax", p_.substr(start, pos_ - start));
          neg = true;
          any = false;
          break;
        case ':':
        case ')':
          if (neg && !any) {
            return Fail("invalid or unsupported Perl syntax", p_.substr(start, pos_ - start));
          }
          if (c == ')' && !any && !neg) {
            return Fail("missing argument to repetition operator", p_.substr(start, pos_ - start));
          }
          return true;
        default:
          return Fail("invalid or unsupported Perl syntax", p_.substr(start, pos_ - start));
      }
    }
    return Fail("missing closing )", p_.substr(start));
  }

  // After a backslash outside a class.
  NodePtr ParseEscapeAtom(const Flags& flags, size_t start) {
    if (pos_ >= p_.size()) {
      Fail("trailing backslash at end of expression", "");
      return nullptr;
    }
    char c = Peek();
    switch (c) {
      case 'A':
        ++pos_;
        return Assertion(kBeginText);
      case 'z':
        ++pos_;
        return Assertion(kEndText);
      case 'b':
        ++pos_;
        return Assertion(kWordBoundary);
      case 'B':
        ++pos_;
        return Assertion(kNoWordBoundary);
      case 'Q': {
        ++pos_;
        size_t end = p_.find("\\E", pos_);
        std::string_view lit = p_.substr(pos_, end == std::string_view::npos ? end : end - pos_);
        pos_ = end == std::string_view::npos ? p_.size() : end + 2;
        auto cat = MakeNode(Node::kConcat);
        for (size_t i = 0; i < lit.size();)
          cat->subs.push_back(Literal(DecodeRune(lit, &i), flags));
        return cat;
      }
      case 'd':
      case 'D':
      case 'w':
      case 'W':
      case 's':
      case 'S': {
        ++pos_;
        auto n = MakeNode(Node::kRunes);
        const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        n->ranges = lower == c ? PerlClass(lower) : Complement(PerlClass(lower));
        return n;
      }
      default:
        break;
    }
    uint32_t r = 0;
    if (!ParseEscapeRune(start, &r)) return nullptr;
    return Literal(r, flags);
  }

  // A single-rune escape at pos_ (after the backslash); shared with classes.
  bool ParseEscapeRune(size_t start, uint32_t* r) {
    if (pos_ >= p_.size()) return Fail("trailing backslash at end of expression", "");
    char c = p_[pos_++];
    auto bad = [&] { return Fail("invalid escape sequence", p_.substr(start, pos_ - start)); };
    switch (c) {
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
        // A single non-zero digit is a backreference, which RE2 does not have.
        if (pos_ >= p_.size() || p_[pos_] < '0' || p_[pos_] > '7') return bad();
        [[fallthrough]];
      case '0': {
        uint32_t v = static_cast<uint32_t>(c - '0');
        for (int k = 0; k < 2 && pos_ < p_.size() && p_[pos_] >= '0' && p_[pos_] <= '7'; ++k) {
          v = v * 8 + static_cast<uint32_t>(p_[pos_++] - '0');
        }
        *r = v;
        return true;
      }
      case 'x': {
        auto hex = [](char h) {
          return std::isxdigit(static_cast<unsigned char>(h))
                     ? (std::isdigit(static_cast<unsigned char>(h)) ? h - '0'
                                                                    : (std::tolower(h) - 'a' + 10))
                     : -1;
        };
        if (pos_ < p_.size() && p_[pos_] == '{') {
          ++pos_;
          uint32_t v = 0;
          int digits = 0;
          while (pos_ < p_.size() && hex(p_[pos_]) >= 0) {
            v = v * 16 + static_cast<uint32_t>(hex(p_[pos_++]));
            if (v > kMaxRune) return bad();
            ++digits;
          }
          if (digits == 0 || pos_ >= p_.size() || p_[pos_] != '}') return bad();
          ++pos_;
          *r = v;
          return true;
        }
        if (pos_ + 1 < p_.size() + 0 && hex(p_[pos_]) >= 0 && hex(p_[pos_ + 1]) >= 0) {
          *r = static_cast<uint32_t>(hex(p_[pos_]) * 16 + hex(p_[pos_ + 1]));
          pos_ += 2;
          return true;
        }
        return bad();
      }
      case 'a':
        *r = 7;
        return true;
      case 'f':
        *r = '\f';
        return true;
      case 'n':
        *r = '\n';
        return true;
      case 'r':
        *r = '\r';
        return true;
      case 't':
        *r = '\t';
        return true;
      case 'v':
        *r = '\v';
        return true;
      default:
        if (static_cast<unsigned char>(c) < 0x80 && !std::isalnum(static_cast<unsigned char>(c))) {
          *r = static_cast<unsigned char>(c);
          return true;
        }
        return bad();
    }
  }

  NodePtr ParseClass(const Flags& flags) {
    const size_t start = pos_;
    ++pos_;  // '['
    bool negate = false;
    if (pos_ < p_.size() && Peek() == '^') {
      negate = true;
      ++pos_;
    }
    std::vector<uint32_t> ranges;
    bool first = true;
    while (true) {
      if (pos_ >= p_.size()) {
        Fail("missing closing ]", p_.substr(start));
        return nullptr;
      }
      char c = Peek();
      if (c == ']' && !first) {
        ++pos_;
        break;
      }
      first = false;
      if (c == '[' && p_.substr(pos_, 2) == "[:") {
        size_t close = p_.find(":]", pos_ + 2);
        if (close != std::string_view::npos) {
          std::string name(p_.substr(pos_ + 2, close - pos_ - 2));
          bool neg = !name.empty() && name[0] == '^';
          if (neg) name.erase(0, 1);
          std::vector<uint32_t> cls;
          if (!PosixClass(name, &cls)) {
            Fail("invalid character class range", p_.substr(pos_, close + 2 - pos_));
            return nullptr;
          }
          if (neg) cls = Complement(cls);
          ranges.insert(ranges.end(), cls.begin(), cls.end());
          pos_ = close + 2;
          continue;
        }
      }
      uint32_t lo = 0;
      if (c == '\\') {
        const size_t esc = pos_;
        ++pos_;
        if (pos_ < p_.size() && std::string_view("dDwWsS").find(Peek()) != std::string_view::npos) {
          char k = p_[pos_++];
          const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(k)));
          const auto& cls = PerlClass(lower);
          std::vector<uint32_t> add = lower == k ? cls : Complement(cls);
          ranges.insert(ranges.end(), add.begin(), add.end());
          continue;
        }
        if (!ParseEscapeRune(esc, &lo)) return nullptr;
      } else {
        size_t i = pos_;
        lo = DecodeRune(p_, &i);
        pos_ = i;
      }
      uint32_t hi = lo;
      if (pos_ + 1 < p_.size() && Peek() == '-' && p_[pos_ + 1] != ']') {
        const size_t range_start = pos_;
        ++pos_;
        if (Peek() == '\\') {
          const size_t esc = pos_;
          ++pos_;
          if (!ParseEscapeRune(esc, &hi)) return nullptr;
        } else {
          size_t i = pos_;
          hi = DecodeRune(p_, &i);
          pos_ = i;
        }
        if (hi < lo) {
          Fail("invalid character class range", p_.substr(range_start - 1, pos_ - range_start + 1));
          return nullptr;
        }
      }
      ranges.push_back(lo);
      ranges.push_back(hi);
    }
    ranges = Normalize(std::move(ranges));
    if (flags.fold) ranges = FoldAscii(std::move(ranges));
    if (negate) ranges = Complement(ranges);
    auto n = MakeNode(Node::kRunes);
    n->ranges = std::move(ranges);
    return n;
  }

  std::string_view p_;
  size_t pos_ = 0;
  std::string err_;
};

}  // namespace

NodePtr Parse(std::string_view pattern, std::string* error) {
  Parser parser(pattern);
  return parser.Parse(error);
}

uint32_t DecodeRune(std::string_view s, size_t* i) {
  const auto b0 = static_cast<unsigned char>(s[*i]);
  if (b0 < 0x80) {
    ++*i;
    return b0;
  }
  int len = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC2 ? 2 : 0;
  if (b0 > 0xF4) len = 0;
  if (len == 0 || *i + len > s.size()) {
    ++*i;
    return kRuneError;
  }
  uint32_t r = b0 & (0xFF >> (len + 1));
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[*i + k]);
    if ((b & 0xC0) != 0x80) {
      ++*i;
      return kRuneError;
    }
    r = (r << 6) | (b & 0x3F);
  }
  // Overlong forms, surrogates and values above U+10FFFF are invalid in Go too.
  const uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
  if (r < min_for_len[len] || r > kMaxRune || (r >= 0xD800 && r <= 0xDFFF)) {
    ++*i;
    return kRuneError;
  }
  *i += len;
  return r;
}

bool IsWordRune(int64_t r) {
  return r >= 0 && r < 0x80 && (std::isalnum(static_cast<int>(r)) || r == '_');
}

}  // namespace pygrid::sim::kube::go_regexp_syntax
