#include "core/authorizer.hpp"

#include <array>
#include <set>
#include <unordered_map>

namespace kwire_broker {

using acl::Operation;
using acl::PatternType;
using acl::Permission;
using storage::AclBinding;

/// One snapshot of bindings, found by resource. Keys are views into the
/// snapshot's strings, which the index keeps alive.
class AclIndex {
 public:
  explicit AclIndex(std::shared_ptr<const std::vector<AclBinding>> all) : all_(std::move(all)) {
    for (const auto& b : *all_) {
      if (b.resource_type < 0 || static_cast<std::size_t>(b.resource_type) >= kTypes) continue;
      auto& t = types_[static_cast<std::size_t>(b.resource_type)];
      t.all.push_back(&b);
      switch (static_cast<PatternType>(b.pattern_type)) {
        case PatternType::literal: t.literal[b.resource_name].push_back(&b); break;
        case PatternType::prefixed:
          t.prefixed[b.resource_name].push_back(&b);
          t.prefix_lengths.insert(b.resource_name.size());
          break;
        default: break;  // applies to nothing
      }
    }
  }

  const std::vector<AclBinding>* source() const noexcept { return all_.get(); }

  /// Calls f(binding) for every binding that applies to `r`: its LITERAL
  /// ones, the LITERAL wildcard of its type, the PREFIXED ones that begin
  /// its name.
  template <class F>
  void for_each_applying(const AclResource& r, F&& f) const {
    const Type* t = type(r.type);
    if (!t) return;
    auto visit = [&](const Bucket& bucket, std::string_view key) {
      if (auto it = bucket.find(key); it != bucket.end())
        for (const AclBinding* b : it->second) f(*b);
    };
    visit(t->literal, r.name);
    if (r.name != acl::wildcard) visit(t->literal, acl::wildcard);
    for (std::size_t n : t->prefix_lengths) {
      if (n > r.name.size()) break;
      visit(t->prefixed, r.name.substr(0, n));
    }
  }

  /// Every binding of a resource type.
  const std::vector<const AclBinding*>& of_type(acl::ResourceType type_code) const {
    static const std::vector<const AclBinding*> none;
    const Type* t = type(type_code);
    return t ? t->all : none;
  }

 private:
  using Bucket = std::unordered_map<std::string_view, std::vector<const AclBinding*>>;
  struct Type {
    std::vector<const AclBinding*> all;
    Bucket literal, prefixed;
    std::set<std::size_t> prefix_lengths;  // ascending
  };
  static constexpr std::size_t kTypes = 8;

  const Type* type(acl::ResourceType t) const {
    const auto i = static_cast<std::size_t>(t);
    return i < kTypes ? &types_[i] : nullptr;
  }

  std::shared_ptr<const std::vector<AclBinding>> all_;
  std::array<Type, kTypes> types_;
};

namespace {

bool for_whom(const AclBinding& b, std::string_view principal, std::string_view host) {
  return (b.principal == principal || b.principal == acl::any_user) && (b.host == host || b.host == acl::wildcard);
}

/// Whether an ALLOW for `granted` grants `asked`.
bool grants(Operation granted, Operation asked) {
  if (granted == Operation::all || granted == asked) return true;
  if (asked == Operation::describe)
    return granted == Operation::read || granted == Operation::write || granted == Operation::del ||
           granted == Operation::alter;
  if (asked == Operation::describe_configs) return granted == Operation::alter_configs;
  return false;
}

}  // namespace

std::shared_ptr<const AclIndex> Authorizer::index() const {
  auto all = bindings_();
  std::lock_guard lk(mu_);
  if (!index_ || index_->source() != all.get()) index_ = std::make_shared<const AclIndex>(std::move(all));
  return index_;
}

bool Authorizer::authorize(std::string_view principal, std::string_view host, Operation op, AclResource resource) const {
  if (!config_.enabled) return true;
  if (config_.super_users.count(std::string(principal))) return true;
  bool any_binding = false, allowed = false, denied = false;
  index()->for_each_applying(resource, [&](const AclBinding& b) {
    any_binding = true;
    if (!for_whom(b, principal, host)) return;
    const auto granted = static_cast<Operation>(b.operation);
    if (static_cast<Permission>(b.permission) == Permission::deny) {
      // A DENY forbids only what it names (or everything, with ALL): a DENY
      // READ leaves DESCRIBE to whatever else grants it.
      if (granted == Operation::all || granted == op) denied = true;
    } else if (grants(granted, op)) {
      allowed = true;
    }
  });
  if (denied) return false;
  if (!any_binding) return config_.allow_if_no_acl;
  return allowed;
}

bool Authorizer::authorize_any(std::string_view principal, std::string_view host, Operation op,
                               acl::ResourceType type) const {
  if (!config_.enabled) return true;
  if (config_.super_users.count(std::string(principal))) return true;
  const auto idx = index();
  const auto& all = idx->of_type(type);
  bool allowed = false;
  for (const AclBinding* b : all) {
    if (!for_whom(*b, principal, host)) continue;
    const auto granted = static_cast<Operation>(b->operation);
    if (static_cast<Permission>(b->permission) == Permission::deny) {
      // Only a DENY on every name of the type takes "any" away.
      if ((granted == Operation::all || granted == op) &&
          static_cast<PatternType>(b->pattern_type) == PatternType::literal && b->resource_name == acl::wildcard)
        return false;
    } else if (grants(granted, op)) {
      allowed = true;
    }
  }
  if (all.empty()) return config_.allow_if_no_acl;
  return allowed;
}

}  // namespace kwire_broker
