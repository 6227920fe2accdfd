// The C++ half of the Kafka byte oracle (see tests/oracle/README.md).
//
//   oracle_check JAVA_CORPUS KWIRE_CORPUS [--per-version N] [--seed S]
//
// 1. Every line of JAVA_CORPUS (messages serialized by Apache Kafka's own
//    classes) must decode with kwire, consume all its bytes, and re-encode to
//    exactly the same bytes; decoding the re-encoding must give an equal message.
// 2. For every schema version that occurs in JAVA_CORPUS, N random kwire
//    messages are encoded into KWIRE_CORPUS (same line format) for the Java
//    side to verify. Each must encode, and decode back to an equal message.
//
// Corpus line: "<schemaName> <apiKey or -1> <version> <hex>", hex empty for a
// zero-byte message; lines starting with '#' are comments.
// Prints "N passed, N failed" and exits non-zero on any failure.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "kwire/codec.hpp"
#include "kwire/messages/all.hpp"
#include "kwire/messages/dispatch.hpp"

namespace {

using kwire::FieldInfo;

// ------------------------------------------------------------------ corpus --

struct Line {
  std::size_t number = 0;
  std::string name;
  int api_key = -1;
  int version = 0;
  std::string hex;
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parse_hex(std::string_view hex, std::vector<std::uint8_t>& out) {
  if (hex.size() % 2 != 0) return false;
  out.clear();
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  return true;
}

std::string to_hex(kwire::bytes_view b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(b.size() * 2);
  for (auto c : b) {
    s += digits[c >> 4];
    s += digits[c & 15];
  }
  return s;
}

std::string abbreviate(std::string s) {
  if (s.size() > 400) s = s.substr(0, 400) + "... (" + std::to_string(s.size() / 2) + " bytes)";
  return s;
}

// ---------------------------------------------------------------- dispatch --

/// Calls f(std::type_identity<M>{}) for the kwire type of a schema name; false if none.
template <class F>
bool with_schema(std::string_view name, int api_key, F&& f) {
  bool found = false;
  auto match = [&](auto id) {
    using M = typename decltype(id)::type;
    if (!found && M::message_name == name) {
      found = true;
      f(id);
    }
  };
  if (api_key >= 0) {
    auto key = static_cast<std::int16_t>(api_key);
    if (name.ends_with("Request")) kwire::with_request_type(key, match);
    if (name.ends_with("Response")) kwire::with_response_type(key, match);
    return found;
  }
  match(std::type_identity<kwire::RequestHeader>{});
  match(std::type_identity<kwire::ResponseHeader>{});
  match(std::type_identity<kwire::AbortedTxn>{});
  match(std::type_identity<kwire::ConsumerProtocolAssignment>{});
  match(std::type_identity<kwire::ConsumerProtocolSubscription>{});
  match(std::type_identity<kwire::ControlRecordTypeSchema>{});
  match(std::type_identity<kwire::DefaultPrincipalData>{});
  match(std::type_identity<kwire::EndTxnMarker>{});
  match(std::type_identity<kwire::KRaftVersionRecord>{});
  match(std::type_identity<kwire::LeaderChangeMessage>{});
  match(std::type_identity<kwire::SnapshotFooterRecord>{});
  match(std::type_identity<kwire::SnapshotHeaderRecord>{});
  match(std::type_identity<kwire::VotersRecord>{});
  return found;
}

// ------------------------------------------------------- random messages --

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
struct is_array : std::false_type {};
template <class T>
struct is_array<kwire::array<T>> : std::true_type {};

struct NoopVisitor {
  template <class M>
  void operator()(const FieldInfo&, M&) const {}
};
template <class T>
concept Struct = requires(T& t) { t.visit(NoopVisitor{}); };

/// Fills a kwire message with random values for one version, the way the Java
/// side does: fields outside the version keep their defaults; tagged fields
/// are left at their default now and then; unknown tags appear in flexible
/// versions. Strings and bytes point into `store_`, which outlives the message.
class Filler {
 public:
  Filler(std::uint64_t seed, std::int16_t version, bool flexible)
      : rng_(seed), version_(version), flexible_(flexible) {}

  template <class S>
  void fill_struct(S& s, int depth) {
    std::set<std::uint32_t> known;
    s.visit([&](const FieldInfo& fi, auto& member) {
      if (fi.tag >= 0) known.insert(static_cast<std::uint32_t>(fi.tag));
      if (!fi.present(version_)) return;
      if (fi.tag >= 0) {
        if (!fi.tagged(version_)) return;
        if (pick(3) == 0) return;
      }
      fill(member, fi, depth);
    });
    if (flexible_ && pick(6) == 0) add_unknown_tags(s.unknown_tags, known);
  }

 private:
  std::uint64_t pick(std::uint64_t n) { return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_); }

  template <class T>
  void fill(T& m, const FieldInfo& fi, int depth) {
    if constexpr (is_optional<T>::value) {
      if (fi.nullable(version_) && pick(5) == 0) {
        m.reset();
        return;
      }
      m.emplace();
      fill_value(*m, fi, depth);
    } else {
      fill_value(m, fi, depth);
    }
  }

  template <class T>
  void fill_value(T& m, const FieldInfo& fi, int depth) {
    if constexpr (is_array<T>::value) {
      using E = typename T::value_type;
      std::size_t n = pick(depth == 0 ? 4 : depth < 3 ? 3 : 2);
      // Now and then a scalar array long enough for a two-byte length varint.
      if (!Struct<E> && depth == 0 && pick(25) == 0) n = 120 + pick(20);
      m.clear();
      m.resize(n);
      for (auto& e : m) {
        if constexpr (Struct<E>) {
          fill_struct(e, depth + 1);
        } else {
          fill_scalar(e);
        }
      }
    } else if constexpr (Struct<T>) {
      fill_struct(m, depth + 1);
    } else {
      (void)fi;
      fill_scalar(m);
    }
  }

  template <class I>
  I integer() {
    using L = std::numeric_limits<I>;
    switch (pick(8)) {
      case 0: return 0;
      case 1: return L::is_signed ? static_cast<I>(-1) : I{0};
      case 2: return L::min();
      case 3: return L::max();
      case 4: return 1;
      default: return static_cast<I>(rng_());
    }
  }

  template <class T>
  void fill_scalar(T& m) {
    if constexpr (std::is_same_v<T, bool>) {
      m = pick(2) == 1;
    } else if constexpr (std::is_integral_v<T>) {
      m = integer<T>();
    } else if constexpr (std::is_enum_v<T>) {
      m = static_cast<T>(integer<std::underlying_type_t<T>>());  // error codes: any int16
    } else if constexpr (std::is_same_v<T, double>) {
      switch (pick(6)) {
        case 0: m = 0.0; break;
        case 1: m = -0.0; break;
        case 2: m = std::numeric_limits<double>::max(); break;
        case 3: m = std::numeric_limits<double>::denorm_min(); break;
        default: m = std::uniform_real_distribution<double>(-1e9, 1e9)(rng_);
      }
    } else if constexpr (std::is_same_v<T, kwire::Uuid>) {
      m = kwire::Uuid{};
      if (pick(6) != 0)
        for (auto& b : m.bytes) b = static_cast<std::uint8_t>(rng_());
    } else if constexpr (std::is_same_v<T, std::string_view>) {
      m = string();
    } else if constexpr (std::is_same_v<T, kwire::bytes_view>) {
      m = bytes(pick(4) == 0 ? 0 : pick(20) == 0 ? 120 + pick(300) : pick(24));
    } else {
      static_assert(sizeof(T) == 0, "oracle_check: a field type the random filler does not know");
    }
  }

  std::string_view string() {
    // Valid UTF-8 only: the Java side decodes strings to text and back.
    static constexpr std::string_view pieces[] = {"a", "b", "z", "Q", "0", "9", "-", "_", ".", " ",
                                                  "topic", "group", "kwire", "\xc3\xa9", "\xc3\x9f",
                                                  "\xd0\x96", "\xe4\xb8\xad", "\xe6\x96\x87",
                                                  "\xf0\x9f\x98\x80"};
    std::string s;
    // Mostly short; now and then over 127 bytes (a two-byte length varint).
    std::size_t n = pick(5) == 0 ? 0 : pick(20) == 0 ? 40 + pick(120) : 1 + pick(10);
    for (std::size_t i = 0; i < n; ++i) s += pieces[pick(std::size(pieces))];
    return store_.emplace_back(std::move(s));
  }

  kwire::bytes_view bytes(std::size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng_());
    return kwire::as_bytes(store_.emplace_back(std::move(s)));
  }

  void add_unknown_tags(kwire::unknown_tagged_fields& out, const std::set<std::uint32_t>& known) {
    std::uint32_t top = (known.empty() ? 0 : *known.rbegin()) + 8;
    std::set<std::uint32_t> tags;
    std::size_t n = 1 + pick(2);
    while (tags.size() < n) {
      auto t = static_cast<std::uint32_t>(pick(4) == 0 ? 200 + pick(20000) : pick(top + 1));
      if (!known.contains(t)) tags.insert(t);
    }
    out.clear();
    for (auto t : tags) out.push_back(kwire::RawTaggedField{t, bytes(pick(10) == 0 ? 120 + pick(200) : pick(6))});
  }

  std::mt19937_64 rng_;
  std::int16_t version_;
  bool flexible_;
  std::deque<std::string> store_;
};

std::uint64_t mix(std::uint64_t seed, std::string_view name, int version, int index) {
  std::uint64_t h = seed * 0x9E3779B97F4A7C15ull;
  for (char c : name) h = (h ^ static_cast<std::uint8_t>(c)) * 0x100000001B3ull;
  h ^= static_cast<std::uint64_t>(version) << 32 | static_cast<std::uint32_t>(index);
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 29);
}

// ------------------------------------------------------------------ checks --

struct Stats {
  std::size_t passed = 0;
  std::vector<std::string> failures;
  void fail(std::string s) { failures.push_back(std::move(s)); }
};

/// Java's bytes through kwire: decode, re-encode, compare; decode the
/// re-encoding and compare the messages.
template <class M>
void check_java_line(const Line& l, const std::vector<std::uint8_t>& in, Stats& st) {
  std::string where = "line " + std::to_string(l.number) + " " + l.name + " v" + std::to_string(l.version);
  auto v = static_cast<std::int16_t>(l.version);
  M msg;
  if (auto r = kwire::decode(msg, in, v); !r) {
    st.fail(where + ": kwire cannot decode Kafka's bytes: " + r.error().message() + "\n    input: " +
            abbreviate(l.hex));
    return;
  }
  auto out = kwire::encode(msg, v);
  if (!out) {
    st.fail(where + ": kwire cannot re-encode what it decoded: " + out.error->message());
    return;
  }
  if (out.bytes != in) {
    auto at = std::mismatch(in.begin(), in.end(), out.bytes.begin(), out.bytes.end()).first - in.begin();
    st.fail(where + ": kwire re-encodes differently, first difference at byte " + std::to_string(at) +
            "\n    kafka: " + abbreviate(l.hex) + "\n    kwire: " + abbreviate(to_hex(out.bytes)));
    return;
  }
  M again;
  if (auto r = kwire::decode(again, out.bytes, v); !r || !(again == msg)) {
    st.fail(where + ": decoding kwire's re-encoding gives a different message");
    return;
  }
  ++st.passed;
}

template <class M>
int api_key_of() {
  if constexpr (requires { M::api_key; }) {
    return static_cast<int>(M::api_key);
  } else {
    return -1;
  }
}

/// kwire's random messages for the Java side: each must encode and decode back equal.
template <class M>
void generate(std::int16_t v, std::uint64_t seed, int per_version, std::ostream& out, Stats& st) {
  for (int i = 0; i < per_version; ++i) {
    std::uint64_t s = mix(seed, M::message_name, v, i);
    std::string where = std::string(M::message_name) + " v" + std::to_string(v) + " sample " + std::to_string(i) +
                        " (seed " + std::to_string(s) + ")";
    Filler filler(s, v, kwire::is_flexible<M>(v));
    M msg;
    filler.fill_struct(msg, 0);
    auto enc = kwire::encode(msg, v);
    if (!enc) {
      st.fail(where + ": kwire cannot encode a random message: " + enc.error->message());
      continue;
    }
    M back;
    if (auto r = kwire::decode(back, enc.bytes, v); !r) {
      st.fail(where + ": kwire cannot decode its own encoding: " + r.error().message() + "\n    bytes: " +
              abbreviate(to_hex(enc.bytes)));
      continue;
    }
    if (!(back == msg)) {
      st.fail(where + ": kwire decodes its own encoding to a different message\n    bytes: " +
              abbreviate(to_hex(enc.bytes)));
      continue;
    }
    out << M::message_name << ' ' << api_key_of<M>() << ' ' << v << ' ' << to_hex(enc.bytes) << '\n';
    ++st.passed;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> pos;
  int per_version = 20;
  std::uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--per-version" && i + 1 < argc) {
      per_version = std::atoi(argv[++i]);
    } else if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (!a.empty() && a[0] == '-') {
      pos.clear();
      break;
    } else {
      pos.push_back(a);
    }
  }
  if (pos.size() != 2) {
    std::cerr << "usage: oracle_check JAVA_CORPUS KWIRE_CORPUS [--per-version N] [--seed S]\n";
    return 2;
  }
  std::ifstream in(pos[0]);
  if (!in) {
    std::cerr << "oracle_check: cannot read " << pos[0] << "\n";
    return 2;
  }
  std::ofstream out(pos[1]);
  if (!out) {
    std::cerr << "oracle_check: cannot write " << pos[1] << "\n";
    return 2;
  }

  Stats java_side, kwire_side;
  // Schema versions the Java side produced: kwire generates for exactly these.
  std::map<std::pair<std::string, int>, int> seen;  // (name, version) -> api key
  std::string text;
  std::vector<std::uint8_t> bytes;
  std::size_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    if (text.empty() || text[0] == '#') continue;
    Line l;
    l.number = number;
    std::istringstream ls(text);
    if (!(ls >> l.name >> l.api_key >> l.version)) {
      java_side.fail("line " + std::to_string(number) + ": malformed");
      continue;
    }
    ls >> l.hex;  // absent for a zero-byte message
    if (!parse_hex(l.hex, bytes)) {
      java_side.fail("line " + std::to_string(number) + ": malformed hex");
      continue;
    }
    seen.emplace(std::make_pair(l.name, l.version), l.api_key);
    bool known = with_schema(l.name, l.api_key, [&](auto id) {
      using M = typename decltype(id)::type;
      if (l.version < M::min_version || l.version > M::max_version) {
        java_side.fail("line " + std::to_string(number) + " " + l.name + " v" + std::to_string(l.version) +
                       ": kwire supports only versions " + std::to_string(M::min_version) + "-" +
                       std::to_string(M::max_version));
        return;
      }
      check_java_line<M>(l, bytes, java_side);
    });
    if (!known) java_side.fail("line " + std::to_string(number) + ": kwire has no schema " + l.name);
  }

  out << "# kwire oracle corpus: random kwire messages, seed " << seed << ", " << per_version
      << " per version; line: schemaName apiKey version hex\n";
  for (const auto& [key, api_key] : seen) {
    const auto& [name, version] = key;
    with_schema(name, api_key, [&](auto id) {
      using M = typename decltype(id)::type;
      if (version < M::min_version || version > M::max_version) return;  // reported above
      generate<M>(static_cast<std::int16_t>(version), seed, per_version, out, kwire_side);
    });
  }
  out.close();
  if (!out) kwire_side.fail("cannot write " + pos[1]);

  auto report = [](const char* what, const Stats& st) {
    std::size_t shown = 0;
    for (const auto& f : st.failures) {
      if (shown++ == 100) {
        std::cerr << "... and " << st.failures.size() - 100 << " more\n";
        break;
      }
      std::cerr << "FAIL " << what << ": " << f << "\n";
    }
  };
  report("kafka->kwire", java_side);
  report("kwire random", kwire_side);
  std::cerr << "kafka->kwire: " << java_side.passed << " lines decoded and re-encoded identically, "
            << java_side.failures.size() << " failed; kwire random: " << kwire_side.passed << " written, "
            << kwire_side.failures.size() << " failed; " << seen.size() << " schema versions\n";
  std::size_t passed = java_side.passed + kwire_side.passed;
  std::size_t failed = java_side.failures.size() + kwire_side.failures.size();
  if (passed == 0 && failed == 0) {
    std::cerr << "FAIL the Java corpus holds no messages\n";
    failed = 1;
  }
  std::cout << "oracle_check: " << passed << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}
