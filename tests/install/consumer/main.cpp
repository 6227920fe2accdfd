// Uses the installed headers: encodes a request and decodes it back.
#include <kwire/codec.hpp>
#include <kwire/messages/heartbeat_request.hpp>

int main() {
  kwire::HeartbeatRequest hb;
  hb.group_id = "group";
  hb.generation_id = 3;
  hb.member_id = "member";
  auto wire = kwire::encode(hb, 4);
  if (!wire) return 1;
  kwire::HeartbeatRequest back;
  if (!kwire::decode(back, wire.bytes, 4)) return 2;
  return back == hb ? 0 : 3;
}
