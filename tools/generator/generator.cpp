// kwire-gen: writes include/kwire/messages/ from the normalized schemas in
// schemas/. One header per schema, plus the API table, dispatch and an
// umbrella header. Output is deterministic so CI can compare it with what is
// committed.
//
//   kwire-gen <schemas-dir> <output-dir>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// ------------------------------------------------------------------ model --

/// An inclusive version range; lo < 0 means "no versions", hi < 0 "and later".
struct Versions {
  int lo = -1;
  int hi = -1;

  static Versions parse(const std::string& s) {
    Versions v;
    if (s.empty() || s == "none") return v;
    if (s.back() == '+') {
      v.lo = std::stoi(s.substr(0, s.size() - 1));
      return v;
    }
    auto dash = s.find('-');
    if (dash == std::string::npos) {
      v.lo = v.hi = std::stoi(s);
    } else {
      v.lo = std::stoi(s.substr(0, dash));
      v.hi = std::stoi(s.substr(dash + 1));
    }
    return v;
  }
  bool none() const { return lo < 0; }
  bool contains(int v) const { return !none() && v >= lo && (hi < 0 || v <= hi); }
  /// True if the range covers every version of `all`.
  bool covers(const Versions& all) const {
    if (none()) return all.none();
    return lo <= all.lo && (hi < 0 || (all.hi >= 0 && hi >= all.hi));
  }
  bool intersects(const Versions& o) const {
    if (none() || o.none()) return false;
    int a = std::max(lo, o.lo);
    int b = hi < 0 ? o.hi : (o.hi < 0 ? hi : std::min(hi, o.hi));
    return b < 0 || a <= b;
  }
};

/// A C++ boolean expression over `v` testing membership in `r`, simplified
/// against the versions the message can have at all.
std::string cond(const Versions& r, const Versions& all) {
  if (r.none() || !r.intersects(all)) return "false";
  std::vector<std::string> parts;
  if (r.lo > all.lo) parts.push_back(fmt::format("v >= {}", r.lo));
  if (r.hi >= 0 && (all.hi < 0 || r.hi < all.hi)) parts.push_back(fmt::format("v <= {}", r.hi));
  if (parts.empty()) return "true";
  if (parts.size() == 1) return parts[0];
  if (r.lo == r.hi) return fmt::format("v == {}", r.lo);
  return fmt::format("{} && {}", parts[0], parts[1]);
}

struct Field {
  std::string name;       // schema name, CamelCase
  std::string member;     // C++ member, snake_case
  std::string type;       // schema type without []
  bool is_array = false;
  Versions versions, nullable, tagged;
  int tag = -1;
  std::optional<Versions> flexible;  // per-field override
  std::optional<std::string> dflt;
  bool ignorable = false;
  bool map_key = false;
  bool error_code = false;  // an int16 carrying one of Kafka's error codes: typed ErrorCode
};

struct Struct {
  std::string name;
  std::vector<Field> fields;
};

struct Schema {
  std::string name, kind, file;
  int api_key = -1;
  bool uses_error_codes = false;  // some field is typed ErrorCode
  Versions valid, flexible;
  bool latest_unstable = false;
  std::vector<std::string> listeners;
  std::vector<Struct> structs;  // nested, in dependency order (used before users)
  Struct top;
};

const std::set<std::string> kScalars = {"int8",   "int16",  "int32",   "int64", "uint16", "uint32",
                                        "float64", "bool",  "uuid",    "string", "bytes", "records"};

const std::set<std::string> kReserved = {
    "default", "delete", "new",     "operator", "class",  "template", "register", "switch", "case",
    "int",     "bool",   "char",    "this",     "union",  "struct",   "auto",     "const",  "friend",
    "private", "public", "protected", "return", "typename", "namespace", "explicit", "virtual",
    "signed",  "unsigned", "short", "long",     "float",  "double",   "static",   "extern", "inline",
    "do",      "if",     "else",    "for",      "while",  "break",    "continue", "try",    "catch",
    "throw",   "true",   "false",   "nullptr",  "and",    "or",       "not",      "xor",    "v",
    "r",       "w",      "flex",    "self",     "visit",  "visitor",  "tag",      "in",     "o",
    "e",       "fn",       "unknown_tags", "min_size", "decode_from", "encode_to", "visit_fields", "tag_writer"};

// Static members of a message type; a top-level field with the same name gets a '_'.
const std::set<std::string> kMessageStatics = {"api_key", "min_version", "max_version", "flexible_from",
                                               "message_name"};

std::string snake(const std::string& camel) {
  std::string out;
  for (size_t i = 0; i < camel.size(); ++i) {
    char c = camel[i];
    bool upper = std::isupper(static_cast<unsigned char>(c));
    if (upper && i > 0) {
      char p = camel[i - 1];
      bool prev_lower = std::islower(static_cast<unsigned char>(p)) || std::isdigit(static_cast<unsigned char>(p));
      bool next_lower = i + 1 < camel.size() && std::islower(static_cast<unsigned char>(camel[i + 1]));
      if (prev_lower || (std::isupper(static_cast<unsigned char>(p)) && next_lower)) out += '_';
    }
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

/// Kafka's schemas type error codes as plain int16, but name them consistently:
/// `ErrorCode`, or a prefix and `ErrorCode` (`PartitionErrorCode`,
/// `TopicConfigErrorCode`, `AcknowledgeErrorCode`). Every such field holds a
/// code from Kafka's error table, and no other int16 field does, so the name
/// decides. Only single values: no schema has an array of error codes.
bool carries_error_code(const Field& f) {
  static const std::string suffix = "ErrorCode";
  return f.type == "int16" && !f.is_array && f.name.size() >= suffix.size() &&
         f.name.compare(f.name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string member_name(const std::string& camel) {
  std::string s = snake(camel);
  if (kReserved.count(s)) s += '_';
  return s;
}

class Loader {
 public:
  Schema load(const fs::path& file) {
    std::ifstream in(file);
    json doc = json::parse(in);
    Schema s;
    s.file = file.filename().string();
    s.name = doc.at("name");
    s.kind = doc.at("type");
    s.api_key = doc.value("apiKey", -1);
    s.valid = Versions::parse(doc.at("validVersions"));
    s.flexible = Versions::parse(doc.value("flexibleVersions", "none"));
    s.latest_unstable = doc.value("latestVersionUnstable", false);
    if (doc.contains("listeners")) s.listeners = doc["listeners"].get<std::vector<std::string>>();
    common_.clear();
    for (auto& c : doc.value("commonStructs", json::array())) common_[c.at("name")] = c;
    emitted_.clear();
    schema_ = &s;
    s.top.name = s.name;
    s.top.fields = fields(doc.value("fields", json::array()));
    for (auto& f : s.top.fields)
      if (kMessageStatics.count(f.member)) f.member += '_';
    return s;
  }

 private:
  std::vector<Field> fields(const json& arr) {
    std::vector<Field> out;
    for (auto& f : arr) out.push_back(field(f));
    return out;
  }

  Field field(const json& f) {
    Field x;
    x.name = f.at("name");
    x.member = member_name(x.name);
    std::string t = f.at("type");
    if (t.rfind("[]", 0) == 0) {
      x.is_array = true;
      t = t.substr(2);
    }
    x.type = t;
    x.versions = Versions::parse(f.at("versions"));
    x.nullable = Versions::parse(f.value("nullableVersions", "none"));
    x.tagged = Versions::parse(f.value("taggedVersions", "none"));
    x.tag = f.value("tag", -1);
    if (f.contains("flexibleVersions")) x.flexible = Versions::parse(f["flexibleVersions"]);
    if (f.contains("default")) {
      auto& d = f["default"];
      x.dflt = d.is_string() ? d.get<std::string>() : d.dump();
    }
    x.ignorable = f.value("ignorable", false);
    x.map_key = f.value("mapKey", false);
    x.error_code = carries_error_code(x);
    if (x.error_code) schema_->uses_error_codes = true;
    if (!kScalars.count(t)) {
      // A struct: defined inline here, or a common struct of the schema.
      if (!emitted_.count(t)) {
        emitted_.insert(t);
        Struct st;
        st.name = t;
        if (f.contains("fields")) {
          st.fields = fields(f["fields"]);
        } else if (common_.count(t)) {
          st.fields = fields(common_[t].at("fields"));
        } else {
          throw std::runtime_error(fmt::format("{}: unknown type {}", schema_->name, t));
        }
        schema_->structs.push_back(std::move(st));  // after its own nested structs
      } else if (f.contains("fields") && !common_.count(t)) {
        throw std::runtime_error(fmt::format("{}: struct {} defined twice", schema_->name, t));
      }
    }
    return x;
  }

  std::map<std::string, json> common_;
  std::set<std::string> emitted_;
  Schema* schema_ = nullptr;
};

// ---------------------------------------------------------------- emitter --

bool is_struct(const Field& f) { return !kScalars.count(f.type); }

/// Encoded size of a fixed-width scalar type, or 0 for any other type.
int fixed_size(const std::string& type) {
  static const std::map<std::string, int> sz = {{"int8", 1},  {"bool", 1},   {"int16", 2}, {"uint16", 2},
                                                {"int32", 4}, {"uint32", 4}, {"int64", 8}, {"float64", 8},
                                                {"uuid", 16}};
  auto it = sz.find(type);
  return it == sz.end() ? 0 : it->second;
}

/// A field read by the struct's body (not a tagged field) with a fixed width.
bool fixed_width(const Field& f) { return !f.is_array && f.tag < 0 && fixed_size(f.type) > 0; }
bool any_nullable(const Field& f) { return !f.nullable.none(); }

std::string scalar_cpp(const std::string& t) {
  static const std::map<std::string, std::string> m = {
      {"int8", "std::int8_t"},     {"int16", "std::int16_t"},   {"int32", "std::int32_t"},
      {"int64", "std::int64_t"},   {"uint16", "std::uint16_t"}, {"uint32", "std::uint32_t"},
      {"float64", "double"},       {"bool", "bool"},            {"uuid", "Uuid"},
      {"string", "std::string_view"}, {"bytes", "bytes_view"},  {"records", "records_view"}};
  return m.at(t);
}

std::string cpp_type(const Field& f) {
  if (f.error_code) return "ErrorCode";
  if (f.is_array) {
    std::string elem = is_struct(f) ? f.type : scalar_cpp(f.type);
    std::string a = fmt::format("array<{}>", elem);
    return any_nullable(f) ? fmt::format("std::optional<{}>", a) : a;
  }
  if (is_struct(f)) return any_nullable(f) ? fmt::format("std::optional<{}>", f.type) : f.type;
  if (f.type == "string") return any_nullable(f) ? "nullable_string" : "std::string_view";
  if (f.type == "bytes") return any_nullable(f) ? "nullable_bytes" : "bytes_view";
  return scalar_cpp(f.type);
}

bool default_is_null(const Field& f) { return f.dflt && *f.dflt == "null"; }

std::string int_literal(const Field& f) {
  if (!f.dflt) return "0";
  long long v = std::stoll(*f.dflt, nullptr, 0);
  std::string t = scalar_cpp(f.type);
  if (f.type == "int64" && v == INT64_MIN) return "INT64_MIN";
  if (f.type == "int32" && v == INT32_MIN) return "INT32_MIN";
  return fmt::format("{}", v);
}

/// An error-code field's default as an ErrorCode expression (Kafka's schemas
/// give none but 0, which is ErrorCode::None).
std::string error_code_literal(const Field& f) {
  long long v = f.dflt ? std::stoll(*f.dflt, nullptr, 0) : 0;
  return v == 0 ? "ErrorCode::None" : fmt::format("static_cast<ErrorCode>({})", v);
}

std::string string_literal(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

/// The member's initializer (including the leading " = " or braces), empty for
/// value-initialized defaults.
std::string initializer(const Field& f) {
  if (f.is_array) return any_nullable(f) && !default_is_null(f) ? "{std::in_place}" : "";
  if (is_struct(f)) return any_nullable(f) && !default_is_null(f) ? "{std::in_place}" : "";
  const std::string& t = f.type;
  if (t == "bool") return (f.dflt && *f.dflt == "true") ? " = true" : " = false";
  if (t == "float64") return f.dflt ? fmt::format(" = {}", *f.dflt) : " = 0.0";
  if (t == "uuid" || t == "records") return "";
  if (t == "string") {
    if (any_nullable(f) && default_is_null(f)) return "";
    std::string d = f.dflt ? *f.dflt : "";
    if (any_nullable(f)) return fmt::format(" = std::string_view({})", string_literal(d));
    return d.empty() ? "" : fmt::format(" = {}", string_literal(d));
  }
  if (t == "bytes") return any_nullable(f) && !default_is_null(f) ? "{std::in_place}" : "";
  if (f.error_code) return fmt::format(" = {}", error_code_literal(f));
  return fmt::format(" = {}", int_literal(f));
}

/// A C++ expression, true when member `m` holds something other than its default.
std::string non_default(const Field& f, const std::string& m) {
  bool nul = any_nullable(f);
  if (f.is_array) {
    if (!nul) return fmt::format("!{}.empty()", m);
    if (default_is_null(f)) return fmt::format("{}.has_value()", m);
    return fmt::format("(!{0} || !{0}->empty())", m);
  }
  if (is_struct(f)) {
    if (!nul) return fmt::format("!({} == {}{{}})", m, f.type);
    if (default_is_null(f)) return fmt::format("{}.has_value()", m);
    return fmt::format("(!{0} || !(*{0} == {1}{{}}))", m, f.type);
  }
  const std::string& t = f.type;
  if (t == "uuid") return fmt::format("!{}.is_zero()", m);
  if (t == "records") return fmt::format("{}.has_value()", m);
  if (t == "bytes") {
    if (!nul) return fmt::format("!{}.empty()", m);
    if (default_is_null(f)) return fmt::format("{}.has_value()", m);
    return fmt::format("(!{0} || !{0}->empty())", m);
  }
  if (t == "string") {
    std::string d = f.dflt ? *f.dflt : "";
    if (!nul) return d.empty() ? fmt::format("!{}.empty()", m) : fmt::format("{} != {}", m, string_literal(d));
    if (default_is_null(f)) return fmt::format("{}.has_value()", m);
    return fmt::format("(!{0} || *{0} != {1})", m, string_literal(d));
  }
  if (t == "bool") return (f.dflt && *f.dflt == "true") ? fmt::format("!{}", m) : m;
  if (t == "float64") return fmt::format("{} != {}", m, f.dflt ? *f.dflt : "0.0");
  if (f.error_code) return fmt::format("{} != {}", m, error_code_literal(f));
  return fmt::format("{} != {}", m, int_literal(f));
}

class Emitter {
 public:
  /// `api_names`: each API key's ApiKey enumerator.
  Emitter(const Schema& s, const std::map<int, std::string>& api_names) : s_(s), api_names_(api_names) {}

  std::string header() {
    out_.clear();
    line("// Generated by kwire-gen from schemas/{}. Do not edit.", s_.file);
    line("#pragma once");
    line("");
    if (s_.api_key >= 0) line("#include \"kwire/messages/api.hpp\"");
    if (s_.uses_error_codes) line("#include \"kwire/messages/error_code.hpp\"");
    line("#include \"kwire/wire/fields.hpp\"");
    line("");
    line("namespace kwire {{");
    line("");
    line("struct {} {{", s_.name);
    indent_ += 2;
    if (s_.api_key >= 0) line("static constexpr ApiKey api_key = ApiKey::{};", api_names_.at(s_.api_key));
    line("static constexpr std::int16_t min_version = {};", std::max(s_.valid.lo, 0));
    line("static constexpr std::int16_t max_version = {};", s_.valid.hi < 0 ? s_.valid.lo : s_.valid.hi);
    line("static constexpr std::int16_t flexible_from = {};", s_.flexible.lo);
    line("static constexpr std::string_view message_name = \"{}\";", s_.name);
    for (auto& st : s_.structs) {
      line("");
      emit_struct(st, false);
    }
    line("");
    emit_body(s_.top);
    indent_ -= 2;
    line("}};");
    line("");
    line("}}  // namespace kwire");
    return out_;
  }

 private:
  template <class... A>
  void line(fmt::format_string<A...> f, A&&... a) {
    std::string text = fmt::format(f, std::forward<A>(a)...);
    if (!text.empty()) out_.append(static_cast<size_t>(indent_), ' ');
    out_ += text;
    out_ += '\n';
  }

  std::string c(const Versions& r) const { return cond(r, s_.valid); }
  /// Like c(), but for a test made only where field `f` is present.
  std::string c_in(const Versions& r, const Field& f) const {
    Versions ctx = f.versions;
    if (ctx.lo < s_.valid.lo) ctx.lo = s_.valid.lo;
    if (ctx.hi < 0 || (s_.valid.hi >= 0 && ctx.hi > s_.valid.hi)) ctx.hi = s_.valid.hi;
    return cond(r, ctx);
  }

  /// The compact-encoding expression for a field: the message's flexibility,
  /// unless the field overrides it.
  std::string compact(const Field& f) const {
    if (!f.flexible) return "flex";
    std::string fc = c(*f.flexible);
    return fc == "true" ? "flex" : (fc == "false" ? "false" : fmt::format("(flex && {})", fc));
  }

  void emit_struct(const Struct& st, bool) {
    line("struct {} {{", st.name);
    indent_ += 2;
    emit_body(st);
    indent_ -= 2;
    line("}};");
  }

  void emit_body(const Struct& st) {
    for (auto& f : st.fields) line("{} {}{};", cpp_type(f), f.member, initializer(f));
    line("unknown_tagged_fields unknown_tags;");
    line("");
    emit_min_size(st);
    line("");
    emit_decode(st);
    line("");
    emit_encode(st);
    line("");
    emit_visit(st);
    line("");
    emit_equal(st);
  }

  void emit_min_size(const Struct& st) {
    line("/// The fewest bytes an encoding of this struct can take (bounds array counts).");
    line("static constexpr std::size_t min_size([[maybe_unused]] std::int16_t v, bool flex) noexcept {{");
    indent_ += 2;
    line("std::size_t n = flex ? 1 : 0;");
    for (auto& f : st.fields) {
      if (f.tag >= 0) continue;
      std::string add;
      std::string fc = compact(f);
      if (f.is_array || f.type == "bytes" || f.type == "records") {
        add = fmt::format("{} ? 1 : 4", fc);
      } else if (f.type == "string") {
        add = fmt::format("{} ? 1 : 2", fc);
      } else if (is_struct(f)) {
        add = any_nullable(f) ? "1" : fmt::format("{}::min_size(v, flex)", f.type);
      } else {
        add = std::to_string(fixed_size(f.type));
      }
      std::string cc = c(f.versions);
      if (cc == "false") continue;
      if (cc == "true")
        line("n += {};", add);
      else
        line("if ({}) n += {};", cc, add);
    }
    line("return n;");
    indent_ -= 2;
    line("}}");
  }

  // ---- decoding ----
  void emit_read(const Field& f, const std::string& fc) {
    const std::string& m = f.member;
    std::string nc = c_in(f.nullable, f);
    if (f.is_array) {
      if (is_struct(f)) {
        if (any_nullable(f))
          line("fields::read_structs(r, {}, v, flex, {});", m, nc);
        else
          line("fields::read_structs(r, {}, v, flex);", m);
        return;
      }
      // Numbers are converted in one pass once the count is checked.
      if (f.type != "uuid" && f.type != "bool" && fixed_size(f.type) > 0) {
        if (any_nullable(f))
          line("fields::read_fixed(r, {}, {}, {});", m, fc, nc);
        else
          line("fields::read_fixed(r, {}, {});", m, fc);
        return;
      }
      std::string one, min_elem;
      if (f.type == "string") {
        one = fmt::format("[&](auto& in) {{ return in.str({}); }}", fc);
        min_elem = "1";
      } else if (f.type == "uuid") {
        one = "[](auto& in) { return in.uuid(); }";
        min_elem = "16";
      } else if (f.type == "bool") {
        one = "[](auto& in) { return in.boolean(); }";
        min_elem = "1";
      } else {
        throw std::runtime_error(fmt::format("{}: no array reader for {}", s_.name, f.type));
      }
      if (any_nullable(f))
        line("fields::read_scalars(r, {}, {}, {}, {}, {});", m, fc, nc, min_elem, one);
      else
        line("fields::read_scalars(r, {}, {}, {}, {});", m, fc, min_elem, one);
      return;
    }
    if (is_struct(f)) {
      if (any_nullable(f))
        line("fields::read_struct(r, {}, v, flex, {});", m, nc);
      else
        line("fields::read_struct(r, {}, v, flex);", m);
      return;
    }
    const std::string& t = f.type;
    if (t == "string") {
      if (any_nullable(f))
        line("{} = r.nullable_str({}, {});", m, fc, nc);
      else
        line("{} = r.str({});", m, fc);
    } else if (t == "bytes" || t == "records") {
      if (any_nullable(f) || t == "records")
        line("{} = r.nullable_byts({}, {});", m, fc, t == "records" && !any_nullable(f) ? "false" : nc);
      else
        line("{} = r.byts({});", m, fc);
    } else {
      static const std::map<std::string, std::string> rd = {
          {"int8", "i8"},     {"int16", "i16"},   {"int32", "i32"},     {"int64", "i64"}, {"uint16", "u16"},
          {"uint32", "u32"},  {"float64", "f64"}, {"bool", "boolean"},  {"uuid", "uuid"}};
      // Any int16 is kept as it came, named in Kafka's table or not.
      if (f.error_code)
        line("{} = static_cast<ErrorCode>(r.i16());", m);
      else
        line("{} = r.{}();", m, rd.at(t));
    }
  }

  /// The unchecked load of a fixed-width field from `p` (see BasicReader::take).
  static std::string unchecked_read(const Field& f) {
    static const std::map<std::string, std::string> rd = {
        {"int8", "i8"},    {"int16", "i16"},   {"int32", "i32"},    {"int64", "i64"}, {"uint16", "u16"},
        {"uint32", "u32"}, {"float64", "f64"}, {"bool", "boolean"}, {"uuid", "uuid"}};
    std::string e = fmt::format("unchecked::{}(p)", rd.at(f.type));
    return f.error_code ? fmt::format("static_cast<ErrorCode>({})", e) : e;
  }

  /// Reads one field of the struct's body with its own checks, naming it first
  /// for a TracingReader.
  void emit_checked(const Field& f, const std::string& cc) {
    if (cc == "true") {
      line("r.field(\"{}\");", f.name);
      emit_read(f, compact(f));
      return;
    }
    line("if ({}) {{", cc);
    indent_ += 2;
    line("r.field(\"{}\");", f.name);
    emit_read(f, compact(f));
    indent_ -= 2;
    line("}}");
  }

  /// A run of consecutive fixed-width fields, bounds-checked once: the run's
  /// size in this version is taken in one step and the fields are loaded
  /// without checks. If the input is shorter, the fields are read one by one,
  /// so that the error names the first one cut, at its offset.
  void emit_fixed_run(const std::vector<std::pair<const Field*, std::string>>& run) {
    int constant = 0;
    std::string size;
    for (auto& [f, cc] : run) {
      if (cc == "true")
        constant += fixed_size(f->type);
      else
        size += fmt::format(" + ({} ? {} : 0)", cc, fixed_size(f->type));
    }
    line("if (const std::uint8_t* p = r.take({}{})) [[likely]] {{", constant, size);
    indent_ += 2;
    for (auto& [f, cc] : run) {
      if (cc == "true")
        line("{} = {};", f->member, unchecked_read(*f));
      else
        line("if ({}) {} = {};", cc, f->member, unchecked_read(*f));
    }
    indent_ -= 2;
    line("}} else {{");
    indent_ += 2;
    for (auto& [f, cc] : run) emit_checked(*f, cc);
    indent_ -= 2;
    line("}}");
  }

  void emit_decode(const Struct& st) {
    line("template <class R>");
    line("void decode_from(R& r, [[maybe_unused]] std::int16_t v, [[maybe_unused]] bool flex) {{");
    indent_ += 2;
    std::vector<std::pair<const Field*, std::string>> run;
    auto flush = [&] {
      if (run.size() == 1) emit_checked(*run[0].first, run[0].second);
      if (run.size() > 1) emit_fixed_run(run);
      run.clear();
    };
    for (auto& f : st.fields) {
      if (f.tag >= 0) continue;
      std::string cc = c(f.versions);
      if (cc == "false") continue;
      if (fixed_width(f)) {
        run.emplace_back(&f, cc);
        continue;
      }
      flush();
      emit_checked(f, cc);
    }
    flush();
    std::vector<const Field*> tagged;
    for (auto& f : st.fields)
      if (f.tag >= 0) tagged.push_back(&f);
    std::sort(tagged.begin(), tagged.end(), [](auto a, auto b) { return a->tag < b->tag; });
    // Nearly every struct ends in an empty tag section, the byte 0: consumed
    // inline, without the general reader's call.
    line("if (flex && !r.empty_tags()) {{");
    indent_ += 2;
    line("r.field(nullptr);");
    if (tagged.empty()) {
      line("fields::read_tags(r, unknown_tags, [](std::uint32_t) {{ return false; }});");
    } else {
      line("fields::read_tags(r, unknown_tags, [&](std::uint32_t tag) {{");
      indent_ += 2;
      line("switch (tag) {{");
      for (auto* f : tagged) {
        line("  case {}:", f->tag);
        indent_ += 4;
        std::string tc = c(f->tagged);
        // A known tag outside its taggedVersions is kept as an unknown field.
        if (tc != "true") line("if (!({})) return false;", tc);
        line("r.field(\"{}\");", f->name);
        emit_read(*f, "true");
        line("return true;");
        indent_ -= 4;
      }
      line("  default:");
      line("    return false;");
      line("}}");
      indent_ -= 2;
      line("}});");
    }
    indent_ -= 2;
    line("}}");
    indent_ -= 2;
    line("}}");
  }

  // ---- encoding ----
  void emit_write(const Field& f, const std::string& fc, const std::string& w, const std::string& m) {
    std::string nc = c_in(f.nullable, f);
    if (f.is_array) {
      if (is_struct(f)) {
        if (any_nullable(f))
          line("fields::put_structs({}, {}, v, flex, {}, \"{}\");", w, m, nc, f.name);
        else
          line("fields::put_structs({}, {}, v, flex);", w, m);
        return;
      }
      // Numbers: sized as count × width and written in one loop.
      if (f.type != "uuid" && f.type != "bool" && fixed_size(f.type) > 0) {
        if (any_nullable(f))
          line("fields::put_fixed({}, {}, {}, {}, \"{}\");", w, m, fc, nc, f.name);
        else
          line("fields::put_fixed({}, {}, {});", w, m, fc);
        return;
      }
      std::string one;
      if (f.type == "string")
        one = fmt::format("[&](auto& out, std::string_view e) {{ fields::put_str(out, e, {}, \"{}\"); }}", fc, f.name);
      else
        one = fmt::format("[](auto& out, const {}& e) {{ out.{}(e); }}", scalar_cpp(f.type), writer_op(f.type));
      if (any_nullable(f))
        line("fields::put_scalars({}, {}, {}, {}, \"{}\", {});", w, m, fc, nc, f.name, one);
      else
        line("fields::put_scalars({}, {}, {}, {});", w, m, fc, one);
      return;
    }
    if (is_struct(f)) {
      if (any_nullable(f))
        line("fields::put_struct({}, {}, v, flex, {}, \"{}\");", w, m, nc, f.name);
      else
        line("fields::put_struct({}, {}, v, flex);", w, m);
      return;
    }
    const std::string& t = f.type;
    if (t == "string") {
      if (any_nullable(f))
        line("fields::put_str({}, {}, {}, {}, \"{}\");", w, m, fc, nc, f.name);
      else
        line("fields::put_str({}, {}, {}, \"{}\");", w, m, fc, f.name);
    } else if (t == "bytes" || t == "records") {
      if (any_nullable(f) || t == "records")
        line("fields::put_bytes({}, {}, {}, {}, \"{}\");", w, m, fc, any_nullable(f) ? nc : "false", f.name);
      else
        line("fields::put_bytes({}, {}, {}, \"{}\");", w, m, fc, f.name);
    } else if (f.error_code) {
      line("{}.i16(static_cast<std::int16_t>({}));", w, m);
    } else {
      line("{}.{}({});", w, writer_op(t), m);
    }
  }

  static std::string writer_op(const std::string& t) {
    static const std::map<std::string, std::string> op = {
        {"int8", "i8"},    {"int16", "i16"},   {"int32", "i32"},    {"int64", "i64"}, {"uint16", "u16"},
        {"uint32", "u32"}, {"float64", "f64"}, {"bool", "boolean"}, {"uuid", "uuid"}};
    return op.at(t);
  }

  /// The unchecked store of a fixed-width field at `p` (see Writer::take).
  static std::string unchecked_write(const Field& f) {
    std::string value = f.error_code ? fmt::format("static_cast<std::int16_t>({})", f.member) : f.member;
    return fmt::format("unchecked::put_{}(p, {});", writer_op(f.type), value);
  }

  /// A run of consecutive fixed-width fields: the size pass checks and counts
  /// them field by field; the write pass reserves the run's bytes in this
  /// version at once and stores them through a local pointer.
  void emit_fixed_run_write(const std::vector<const Field*>& run) {
    line("if constexpr (Out::checks) {{");
    indent_ += 2;
    for (auto* f : run) emit_encode_field(*f);
    indent_ -= 2;
    line("}} else {{");
    indent_ += 2;
    int constant = 0;
    std::string size;
    for (auto* f : run) {
      std::string cc = c(f->versions);
      if (cc == "true")
        constant += fixed_size(f->type);
      else
        size += fmt::format(" + ({} ? {} : 0)", cc, fixed_size(f->type));
    }
    line("std::uint8_t* p = w.take({}{});", constant, size);
    for (auto* f : run) {
      std::string cc = c(f->versions);
      if (cc == "true")
        line("{}", unchecked_write(*f));
      else
        line("if ({}) {}", cc, unchecked_write(*f));
    }
    indent_ -= 2;
    line("}}");
  }

  /// One field of the struct's body, with the size pass's check that a field
  /// absent from this version holds its default.
  void emit_encode_field(const Field& f) {
    std::string cc = c(f.versions);
    if (cc == "true") {
      emit_write(f, compact(f), "w", f.member);
      return;
    }
    if (cc != "false") {
      line("if ({}) {{", cc);
      indent_ += 2;
      emit_write(f, compact(f), "w", f.member);
      indent_ -= 2;
      if (f.ignorable) {
        line("}}");
        return;
      }
      line("}} else if constexpr (Out::checks) {{");
    } else {
      if (f.ignorable) return;
      line("if constexpr (Out::checks) {{");
    }
    indent_ += 2;
    line("if ({}) w.fail(EncodeErrc::field_not_in_version, \"{}\");", non_default(f, f.member), f.name);
    indent_ -= 2;
    line("}}");
  }

  void emit_encode(const Struct& st) {
    line("template <class Out>");
    line("void encode_to(Out& w, [[maybe_unused]] std::int16_t v, [[maybe_unused]] bool flex) const {{");
    indent_ += 2;
    // Runs of fixed-width fields present in some version; a field in no
    // version ends a run (only the size pass has anything to do for it).
    std::vector<const Field*> run;
    auto flush = [&] {
      if (run.size() == 1) emit_encode_field(*run[0]);
      if (run.size() > 1) emit_fixed_run_write(run);
      run.clear();
    };
    for (auto& f : st.fields) {
      if (f.tag >= 0) continue;
      if (fixed_width(f) && c(f.versions) != "false") {
        run.push_back(&f);
        continue;
      }
      flush();
      emit_encode_field(f);
    }
    flush();
    std::vector<const Field*> tagged;
    for (auto& f : st.fields)
      if (f.tag >= 0) tagged.push_back(&f);
    std::sort(tagged.begin(), tagged.end(), [](auto a, auto b) { return a->tag < b->tag; });
    // Tagged fields with non-default values in versions that cannot carry them.
    for (auto* f : tagged) {
      if (f->ignorable) continue;
      std::string tc = c(f->tagged);
      std::string when = tc == "true" ? "!flex" : fmt::format("!(flex && {})", tc);
      line("if constexpr (Out::checks) {{");
      line("  if ({} && {}) w.fail(EncodeErrc::field_not_in_version, \"{}\");", when, non_default(*f, f->member),
           f->name);
      line("}}");
    }
    line("if (flex) {{");
    indent_ += 2;
    if (tagged.empty()) {
      line("fields::put_unknown_tags(w, unknown_tags);");
    } else {
      for (auto* f : tagged) {
        std::string tc = c(f->tagged);
        std::string nd = non_default(*f, f->member);
        line("const bool has_{} = {};", f->member, tc == "true" ? nd : fmt::format("({}) && {}", tc, nd));
      }
      // No tagged field to write, the usual case: the single byte 0.
      std::string none = "unknown_tags.empty()";
      for (auto* f : tagged) none += fmt::format(" && !has_{}", f->member);
      line("if ({}) {{", none);
      line("  w.u8(0);");
      line("  return;");
      line("}}");
      std::string count = "unknown_tags.size()";
      for (auto* f : tagged) count += fmt::format(" + has_{}", f->member);
      line("w.uvarint(static_cast<std::uint32_t>({}));", count);
      line("fields::TagWriter tag_writer(unknown_tags);");
      for (auto* f : tagged) {
        line("if (has_{}) {{", f->member);
        indent_ += 2;
        line("tag_writer.known(w, {}, [&](auto& o) {{", f->tag);
        indent_ += 2;
        emit_write(*f, "true", "o", f->member);
        indent_ -= 2;
        line("}});");
        indent_ -= 2;
        line("}}");
      }
      line("tag_writer.finish(w);");
    }
    indent_ -= 2;
    line("}}");
    indent_ -= 2;
    line("}}");
  }

  // ---- reflection ----
  void emit_visit(const Struct& st) {
    line("/// Calls fn(FieldInfo, member) for every field, in wire order.");
    line("template <class Self, class V>");
    line("static void visit_fields(Self& self, V&& fn) {{");
    indent_ += 2;
    for (auto& f : st.fields) {
      std::string info = fmt::format(".name = \"{}\", .min = {}, .max = {}", f.name, f.versions.lo, f.versions.hi);
      if (!f.nullable.none()) info += fmt::format(", .nullable_min = {}, .nullable_max = {}", f.nullable.lo, f.nullable.hi);
      if (f.tag >= 0)
        info += fmt::format(", .tag = {}, .tagged_min = {}, .tagged_max = {}", f.tag, f.tagged.lo, f.tagged.hi);
      if (f.ignorable) info += ", .ignorable = true";
      line("fn(FieldInfo{{{}}}, self.{});", info, f.member);
    }
    indent_ -= 2;
    line("}}");
    line("template <class V>");
    line("void visit(V&& visitor) {{ visit_fields(*this, visitor); }}");
    line("template <class V>");
    line("void visit(V&& visitor) const {{ visit_fields(*this, visitor); }}");
  }

  void emit_equal(const Struct& st) {
    line("friend bool operator==(const {0}& a, const {0}& b) noexcept {{", st.name);
    indent_ += 2;
    std::string expr;
    for (auto& f : st.fields) {
      std::string e;
      if (!f.is_array && (f.type == "bytes" || f.type == "records"))
        e = fmt::format("same_bytes(a.{0}, b.{0})", f.member);
      else if (!f.is_array && f.type == "float64")
        e = fmt::format("same_bits(a.{0}, b.{0})", f.member);  // NaN equals its own encoding
      else
        e = fmt::format("a.{0} == b.{0}", f.member);
      expr += e + " &&\n" + std::string(static_cast<size_t>(indent_ + 7), ' ');
    }
    expr += "a.unknown_tags == b.unknown_tags";
    line("return {};", expr);
    indent_ -= 2;
    line("}}");
  }

  const Schema& s_;
  const std::map<int, std::string>& api_names_;
  std::string out_;
  int indent_ = 0;
};

std::string file_stem(const std::string& name) { return snake(name); }

void write_if_changed(const fs::path& p, const std::string& text) {
  std::ifstream in(p, std::ios::binary);
  if (in) {
    std::string old((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (old == text) return;
  }
  std::ofstream out(p, std::ios::binary);
  out << text;
}

/// Each API key's request and response schemas. Every API has exactly one of
/// each: the pairing trait and the API table rely on it.
using ApiPairs = std::map<int, std::pair<const Schema*, const Schema*>>;

ApiPairs api_pairs(const std::vector<Schema>& all) {
  ApiPairs apis;
  for (auto& s : all) {
    if (s.api_key < 0) continue;
    if (s.kind != "request" && s.kind != "response")
      throw std::runtime_error(fmt::format("{}: an API key on a {} schema", s.name, s.kind));
    auto& slot = apis[s.api_key];
    auto& mine = s.kind == "request" ? slot.first : slot.second;
    if (mine) throw std::runtime_error(fmt::format("API key {}: {} and {}", s.api_key, mine->name, s.name));
    mine = &s;
  }
  for (auto& [key, pair] : apis)
    if (!pair.first || !pair.second)
      throw std::runtime_error(fmt::format("API key {} has a {} but no {}", key, pair.first ? "request" : "response",
                                           pair.first ? "response" : "request"));
  return apis;
}

/// The ApiKey enumerator of each API: its request's name without "Request".
std::map<int, std::string> api_names(const ApiPairs& apis) {
  std::map<int, std::string> names;
  for (auto& [key, pair] : apis) names[key] = pair.first->name.substr(0, pair.first->name.size() - 7);
  return names;
}

std::string api_table(const std::vector<Schema>& all) {
  ApiPairs apis = api_pairs(all);
  std::string o;
  o += "// Generated by kwire-gen from schemas/. Do not edit.\n";
  o += "#pragma once\n\n#include <array>\n#include <cstdint>\n#include <string_view>\n\nnamespace kwire {\n\n";
  o += "enum class ApiKey : std::int16_t {\n";
  for (auto& [key, pair] : apis) {
    std::string n = pair.first->name.substr(0, pair.first->name.size() - 7);  // drop "Request"
    o += fmt::format("  {} = {},\n", n, key);
  }
  o += "};\n\n";
  o += "/// What kwire knows of an API: its versions and from which one it is flexible\n";
  o += "/// (-1: never). `latest_unstable` marks a newest version still under development.\n";
  o += "struct ApiInfo {\n  std::int16_t key;\n  std::string_view name;\n  std::int16_t min_version;\n";
  o += "  std::int16_t max_version;\n  std::int16_t flexible_from;\n  bool latest_unstable;\n\n";
  o += "  constexpr bool supports(std::int16_t v) const noexcept { return v >= min_version && v <= max_version; }\n";
  o += "  constexpr bool flexible(std::int16_t v) const noexcept { return flexible_from >= 0 && v >= flexible_from; }\n";
  o += "};\n\n";
  o += fmt::format("inline constexpr std::array<ApiInfo, {}> apis = {{{{\n", apis.size());
  for (auto& [key, pair] : apis) {
    const Schema& s = *pair.first;
    std::string n = s.name.substr(0, s.name.size() - 7);
    o += fmt::format("    {{{}, \"{}\", {}, {}, {}, {}}},\n", key, n, std::max(s.valid.lo, 0),
                     s.valid.hi < 0 ? s.valid.lo : s.valid.hi, s.flexible.lo, s.latest_unstable ? "true" : "false");
  }
  o += "}};\n\n";
  o += "/// The API with this key, or nullptr.\n";
  o += "constexpr const ApiInfo* find_api(std::int16_t key) noexcept {\n";
  o += "  for (const auto& a : apis)\n    if (a.key == key) return &a;\n  return nullptr;\n}\n\n";
  o += "constexpr const ApiInfo* find_api(ApiKey key) noexcept { return find_api(static_cast<std::int16_t>(key)); }\n\n";
  o += "}  // namespace kwire\n";
  return o;
}

std::string pairing(const std::vector<Schema>& all) {
  ApiPairs apis = api_pairs(all);
  std::string o;
  o += "// Generated by kwire-gen from schemas/. Do not edit.\n";
  o += "//\n";
  o += "// Which response answers which request, at compile time, so that a handler\n";
  o += "// written for a request type can name its response (and a response its\n";
  o += "// request) without a table of its own. Declarations only: include the\n";
  o += "// message headers (or all.hpp) for the types themselves.\n";
  o += "#pragma once\n\nnamespace kwire {\n\n";
  for (auto& [key, pair] : apis) o += fmt::format("struct {};\nstruct {};\n", pair.first->name, pair.second->name);
  o += "\n/// `type`: the response to request M. Empty for any other type.\n";
  o += "template <class M>\nstruct response_of {};\n";
  o += "/// `type`: the request that response M answers. Empty for any other type.\n";
  o += "template <class M>\nstruct request_of {};\n\n";
  o += "template <class M>\nusing response_of_t = typename response_of<M>::type;\n";
  o += "template <class M>\nusing request_of_t = typename request_of<M>::type;\n\n";
  o += "/// The request, or the response, of one of Kafka's APIs (not a header or a\n";
  o += "/// data schema such as ConsumerProtocolAssignment).\n";
  o += "template <class M>\nconcept RequestMessage = requires { typename response_of<M>::type; };\n";
  o += "template <class M>\nconcept ResponseMessage = requires { typename request_of<M>::type; };\n\n";
  for (auto& [key, pair] : apis) {
    o += fmt::format("template <>\nstruct response_of<{}> {{\n  using type = {};\n}};\n", pair.first->name,
                     pair.second->name);
    o += fmt::format("template <>\nstruct request_of<{}> {{\n  using type = {};\n}};\n", pair.second->name,
                     pair.first->name);
  }
  o += "\n}  // namespace kwire\n";
  return o;
}

std::string dispatch(const std::vector<Schema>& all) {
  std::string o;
  o += "// Generated by kwire-gen from schemas/. Do not edit.\n";
  o += "#pragma once\n\n#include <type_traits>\n\n#include \"kwire/messages/all.hpp\"\n\nnamespace kwire {\n\n";
  for (std::string kind : {"request", "response"}) {
    o += fmt::format("/// Calls f(std::type_identity<M>{{}}) with the {} type of `api_key`; false if unknown.\n", kind);
    o += "template <class F>\n";
    o += fmt::format("bool with_{}_type(std::int16_t api_key, F&& f) {{\n", kind);
    o += "  switch (api_key) {\n";
    std::vector<const Schema*> v;
    for (auto& s : all)
      if (s.kind == kind && s.api_key >= 0) v.push_back(&s);
    std::sort(v.begin(), v.end(), [](auto a, auto b) { return a->api_key < b->api_key; });
    for (auto* s : v) o += fmt::format("    case {}: f(std::type_identity<{}>{{}}); return true;\n", s->api_key, s->name);
    o += "    default: return false;\n  }\n}\n\n";
  }
  o += "/// Calls f(std::type_identity<M>{}) for every generated message type,\n";
  o += "/// including headers and the data schemas carried inside messages.\n";
  o += "template <class F>\nvoid for_each_message_type(F&& f) {\n";
  for (auto& s : all)
    if (!s.valid.none()) o += fmt::format("  f(std::type_identity<{}>{{}});\n", s.name);
  o += "}\n\n";
  o += "}  // namespace kwire\n";
  return o;
}

std::string camel_from_upper(const std::string& upper) {
  std::string out;
  bool up = true;
  for (char ch : upper) {
    if (ch == '_') {
      up = true;
      continue;
    }
    out += up ? ch : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    up = false;
  }
  return out;
}

std::string error_table(const json& errors) {
  std::string o;
  o += "// Generated by kwire-gen from schemas/error_codes.json. Do not edit.\n";
  o += "#pragma once\n\n#include <array>\n#include <cstdint>\n#include <string_view>\n\nnamespace kwire {\n\n";
  o += "/// Kafka's protocol error codes.\n";
  o += "enum class ErrorCode : std::int16_t {\n";
  for (auto& e : errors) o += fmt::format("  {} = {},\n", camel_from_upper(e.at("name")), e.at("code").get<int>());
  o += "};\n\n";
  o += "/// An error code's name as Kafka spells it, and whether a client may retry.\n";
  o += "struct ErrorInfo {\n  ErrorCode code;\n  std::string_view name;\n  bool retriable;\n};\n\n";
  o += fmt::format("inline constexpr std::array<ErrorInfo, {}> errors = {{{{\n", errors.size());
  for (auto& e : errors)
    o += fmt::format("    {{ErrorCode::{}, \"{}\", {}}},\n", camel_from_upper(e.at("name")), e.at("name").get<std::string>(),
                     e.at("retriable").get<bool>() ? "true" : "false");
  o += "}};\n\n";
  o += "/// The table entry of `code`, or nullptr for a code Kafka does not define.\n";
  o += "constexpr const ErrorInfo* find_error(std::int16_t code) noexcept {\n";
  o += "  for (const auto& e : errors)\n    if (static_cast<std::int16_t>(e.code) == code) return &e;\n  return nullptr;\n}\n\n";
  o += "constexpr const ErrorInfo* find_error(ErrorCode code) noexcept {\n";
  o += "  return find_error(static_cast<std::int16_t>(code));\n}\n\n";
  o += "constexpr std::string_view to_string(ErrorCode code) noexcept {\n";
  o += "  const ErrorInfo* e = find_error(code);\n  return e ? e->name : \"UNKNOWN\";\n}\n\n";
  o += "constexpr bool is_retriable(ErrorCode code) noexcept {\n";
  o += "  const ErrorInfo* e = find_error(code);\n  return e && e->retriable;\n}\n\n";
  o += "}  // namespace kwire\n";
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: kwire-gen <schemas-dir> <output-dir>\n";
    return 2;
  }
  fs::path in = argv[1], out = argv[2];
  try {
    std::vector<fs::path> files;
    for (auto& e : fs::directory_iterator(in)) {
      auto n = e.path().filename().string();
      if (e.path().extension() == ".json" && n != "SOURCE.json" && n != "error_codes.json") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    std::vector<Schema> schemas;
    Loader loader;
    for (auto& f : files) schemas.push_back(loader.load(f));
    const std::map<int, std::string> names = api_names(api_pairs(schemas));
    const bool have_errors = fs::exists(in / "error_codes.json");
    for (auto& s : schemas)
      if (s.uses_error_codes && !have_errors)
        throw std::runtime_error(fmt::format("{} has error codes, but there is no error_codes.json", s.name));
    fs::create_directories(out);
    std::set<std::string> written;
    std::string all = "// Generated by kwire-gen from schemas/. Do not edit.\n#pragma once\n\n";
    for (auto& s : schemas) {
      if (s.valid.none()) continue;
      std::string name = file_stem(s.name) + ".hpp";
      write_if_changed(out / name, Emitter(s, names).header());
      written.insert(name);
      all += fmt::format("#include \"kwire/messages/{}\"\n", name);
    }
    all += "#include \"kwire/messages/pairing.hpp\"\n";
    write_if_changed(out / "all.hpp", all);
    write_if_changed(out / "api.hpp", api_table(schemas));
    write_if_changed(out / "pairing.hpp", pairing(schemas));
    write_if_changed(out / "dispatch.hpp", dispatch(schemas));
    if (have_errors) {
      std::ifstream ein(in / "error_codes.json");
      write_if_changed(out / "error_code.hpp", error_table(json::parse(ein)));
      written.insert("error_code.hpp");
      all += "#include \"kwire/messages/error_code.hpp\"\n";
      write_if_changed(out / "all.hpp", all);
    }
    written.insert("all.hpp");
    written.insert("api.hpp");
    written.insert("pairing.hpp");
    written.insert("dispatch.hpp");
    for (auto& e : fs::directory_iterator(out))
      if (!written.count(e.path().filename().string())) fs::remove(e.path());
    std::cerr << "kwire-gen: " << written.size() << " headers in " << out << "\n";
  } catch (const std::exception& e) {
    std::cerr << "kwire-gen: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
