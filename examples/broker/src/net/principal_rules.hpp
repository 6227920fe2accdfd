// ssl.principal.mapping.rules: how a client certificate's subject becomes a
// principal name, as Kafka's default principal builder does it. Rules are
// tried in order; the first whose pattern matches the whole subject gives
// the name. Forms: DEFAULT (the subject as it is) and
// RULE:pattern/replacement/ with an optional L or U after the last slash
// (lower- or upper-case the result). A subject no rule matches is refused.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace kwire_broker {

class PrincipalRules {
 public:
  /// Parses the rules; throws std::invalid_argument on a malformed rule.
  static PrincipalRules parse(const std::string& spec);

  /// The principal name for `subject`, or nothing when no rule matches.
  std::optional<std::string> map(const std::string& subject) const;

 private:
  struct Rule {
    bool is_default = false;
    std::regex pattern;
    std::string replacement;  // in std::regex format syntax ($1)
    char casing = 0;          // 'L', 'U' or 0
  };
  std::vector<Rule> rules_;
};

}  // namespace kwire_broker
