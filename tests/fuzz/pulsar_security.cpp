// Fuzzes how a gateway reads the messages of the Pulsar security topic
// (storage/pulsar/security_record.hpp): any gateway of a namespace, or
// anyone allowed to produce to that topic, can put any key and value there,
// and every gateway applies what it reads. Whatever the message:
//  - reading it neither crashes nor hits UB nor throws;
//  - what it reads back is what the writer would have written: a credential,
//    binding or quota value it accepts, encoded again with the writer's own functions,
//    reads back equal (so nothing is accepted in part, or changed on the way).
//
// Input: [key length u8][key][0: a null value, else a value follows][value].
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "storage/pulsar/security_record.hpp"

namespace {

namespace sp = kwire_broker::storage::pulsar;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool same(const kwire_broker::storage::ScramCredential& a, const kwire_broker::storage::ScramCredential& b) {
  return a.user == b.user && a.mechanism == b.mechanism && a.iterations == b.iterations && a.salt == b.salt &&
         a.stored_key == b.stored_key && a.server_key == b.server_key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t key_size = static_cast<std::uint8_t>(in[0]);
  if (1 + key_size + 1 > size) return 0;
  const auto key = in.substr(1, key_size);
  std::optional<std::string_view> value;
  if (in[1 + key_size] != 0) value = in.substr(2 + key_size);

  const auto change = sp::read_security_message(key, value);
  if (!change) return 0;
  if (const auto* scram = std::get_if<sp::ScramChange>(&*change)) {
    check(scram->mechanism == 1 || scram->mechanism == 2);
    check(sp::scram_key(scram->user, scram->mechanism) == key);
    check(scram->credential.has_value() == value.has_value());
    if (!scram->credential) return 0;
    check(scram->credential->iterations > 0);
    const auto again = sp::read_security_message(key, sp::scram_value(*scram->credential));
    const auto* back = again ? std::get_if<sp::ScramChange>(&*again) : nullptr;
    check(back && back->credential && same(*back->credential, *scram->credential));
    return 0;
  }
  if (const auto* acl = std::get_if<sp::AclChange>(&*change)) {
    check(acl->added == value.has_value());
    const auto key_again = sp::acl_key(acl->binding);  // strings that came from JSON are valid UTF-8
    const auto again = sp::read_security_message(key_again, sp::acl_value);
    const auto* back = again ? std::get_if<sp::AclChange>(&*again) : nullptr;
    check(back && back->added && back->binding == acl->binding);
    return 0;
  }
  const auto& quota = std::get<sp::QuotaValueChange>(*change);
  check(quota.value.has_value() == value.has_value());
  check(!quota.entity.empty() && !quota.key.empty());
  for (const auto& part : quota.entity) check(!part.name || !part.name->empty());
  check(sp::quota_key(quota.entity, quota.key) == key);
  if (!quota.value) return 0;
  const auto again = sp::read_security_message(key, sp::quota_value(*quota.value));
  const auto* back = again ? std::get_if<sp::QuotaValueChange>(&*again) : nullptr;
  check(back && back->value == quota.value && back->entity == quota.entity && back->key == quota.key);
  return 0;
}
