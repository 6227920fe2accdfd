#include "net/principal_rules.hpp"

#include <cctype>
#include <stdexcept>

namespace kwire_broker {
namespace {

/// Reads up to the next unescaped '/' from `at`; backslash escapes stay in
/// (the regex needs them) except before '/', which is the separator's.
std::string read_part(const std::string& s, std::size_t& at) {
  std::string out;
  while (at < s.size() && s[at] != '/') {
    if (s[at] == '\\' && at + 1 < s.size()) {
      if (s[at + 1] != '/') out += '\\';
      out += s[at + 1];
      at += 2;
      continue;
    }
    out += s[at++];
  }
  if (at >= s.size()) throw std::invalid_argument("ssl.principal.mapping.rules: a RULE lacks its closing '/'");
  ++at;  // the '/'
  return out;
}

void skip_space(const std::string& s, std::size_t& at) {
  while (at < s.size() && std::isspace(static_cast<unsigned char>(s[at]))) ++at;
}

}  // namespace

PrincipalRules PrincipalRules::parse(const std::string& spec) {
  PrincipalRules out;
  std::size_t at = 0;
  for (;;) {
    skip_space(spec, at);
    if (at >= spec.size()) break;
    Rule r;
    if (spec.compare(at, 7, "DEFAULT") == 0) {
      r.is_default = true;
      at += 7;
    } else if (spec.compare(at, 5, "RULE:") == 0) {
      at += 5;
      const std::string pattern = read_part(spec, at);
      r.replacement = read_part(spec, at);
      if (at < spec.size() && (spec[at] == 'L' || spec[at] == 'U')) r.casing = spec[at++];
      try {
        r.pattern = std::regex(pattern);
      } catch (const std::regex_error& e) {
        throw std::invalid_argument("ssl.principal.mapping.rules: bad pattern '" + pattern + "': " + e.what());
      }
    } else {
      throw std::invalid_argument("ssl.principal.mapping.rules: expected DEFAULT or RULE: at '" + spec.substr(at) + "'");
    }
    skip_space(spec, at);
    if (at < spec.size()) {
      if (spec[at] != ',' && spec[at] != '\n')
        throw std::invalid_argument("ssl.principal.mapping.rules: unexpected '" + spec.substr(at) + "'");
      ++at;
    }
    out.rules_.push_back(std::move(r));
  }
  if (out.rules_.empty()) {
    Rule r;
    r.is_default = true;
    out.rules_.push_back(std::move(r));
  }
  return out;
}

std::optional<std::string> PrincipalRules::map(const std::string& subject) const {
  for (const auto& r : rules_) {
    if (r.is_default) return subject;
    if (!std::regex_match(subject, r.pattern)) continue;
    std::string name = std::regex_replace(subject, r.pattern, r.replacement);
    for (auto& ch : name) {
      if (r.casing == 'L') ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (r.casing == 'U') ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    return name;
  }
  return std::nullopt;
}

}  // namespace kwire_broker
