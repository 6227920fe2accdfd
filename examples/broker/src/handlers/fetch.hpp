// The Fetch handler (handlers/fetch.cpp), registered with the other data
// APIs in handlers/data.cpp.
#pragma once

#include "kwire/messages/fetch_request.hpp"
#include "kwire/messages/fetch_response.hpp"
#include "protocol/registry.hpp"

namespace kwire_broker {

asio::awaitable<void> fetch(Broker& b, Ctx& ctx, kwire::FetchRequest& req, kwire::FetchResponse& resp);

}  // namespace kwire_broker
