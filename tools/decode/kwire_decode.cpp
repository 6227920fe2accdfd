// kwire-decode: prints the Kafka frames of a captured connection as JSON, one
// object per line.
//
//   kwire-decode [options] <client-to-broker file | ->
//     --responses FILE   also decode the broker-to-client bytes; responses are
//                        matched to requests by correlation id
//     --hex              inputs are hex text (whitespace ignored), not raw bytes
//     --records          decode every record set (Produce, Fetch, ...) and
//                        print its records; CRCs are checked
//     --roundtrip        re-encode every decoded frame; fail unless identical
//     --allow-trailing-bytes
//                        bytes left in a frame after its message body (which
//                        Kafka's broker ignores) are shown as "trailingBytes"
//                        (hex) instead of failing the frame; the round trip
//                        then compares the frame without them
//     --max-frame-size N reject frames larger than N bytes (default 100 MiB)
//
// Exit status: 0 if every frame decoded (and round-tripped, and every record
// set was valid), 1 otherwise, 2 on bad usage.

#include <kwire/codec.hpp>
#include <kwire/framing/frame.hpp>
#include <kwire/framing/request.hpp>
#include <kwire/json/json.hpp>
#include <kwire/messages/dispatch.hpp>
#include <kwire/records/walk.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory_resource>
#include <optional>
#include <string>
#include <vector>

namespace {

struct Options {
  std::string requests, responses;
  bool hex = false, records = false, roundtrip = false, allow_trailing = false;
  std::size_t max_frame = kwire::default_max_frame_size;
};

[[noreturn]] void usage() {
  std::cerr << "usage: kwire-decode [--responses FILE] [--hex] [--records] [--roundtrip] [--allow-trailing-bytes] "
               "[--max-frame-size N] <requests-file|->\n";
  std::exit(2);
}

std::optional<std::vector<std::uint8_t>> read_input(const std::string& path, bool hex) {
  std::string raw;
  if (path == "-") {
    raw.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    raw.assign(std::istreambuf_iterator<char>(in), {});
  }
  if (!hex) return std::vector<std::uint8_t>(raw.begin(), raw.end());
  std::vector<std::uint8_t> out;
  int nibble = -1;
  for (char c : raw) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else if (std::isspace(static_cast<unsigned char>(c)))
      continue;
    else
      return std::nullopt;
    if (nibble < 0) {
      nibble = d;
    } else {
      out.push_back(static_cast<std::uint8_t>(nibble << 4 | d));
      nibble = -1;
    }
  }
  if (nibble >= 0) return std::nullopt;
  return out;
}

/// Structural UTF-8 check (lead byte, continuation bytes, no truncation).
bool valid_utf8(kwire::bytes_view b) {
  std::size_t i = 0;
  while (i < b.size()) {
    std::uint8_t c = b[i];
    std::size_t extra;
    if (c < 0x80)
      extra = 0;
    else if ((c & 0xe0) == 0xc0)
      extra = 1;
    else if ((c & 0xf0) == 0xe0)
      extra = 2;
    else if ((c & 0xf8) == 0xf0)
      extra = 3;
    else
      return false;
    if (i + extra >= b.size() && extra > 0) return false;
    for (std::size_t k = 1; k <= extra; ++k)
      if ((b[i + k] & 0xc0) != 0x80) return false;
    i += extra + 1;
  }
  return true;
}

nlohmann::json show_bytes(const kwire::nullable_bytes& b) {
  if (!b) return nullptr;
  if (valid_utf8(*b)) return std::string(reinterpret_cast<const char*>(b->data()), b->size());
  return nlohmann::json{{"base64", kwire::json_detail::base64(*b)}};
}

/// Renders a record set's records; records an error in `failed`.
nlohmann::json render_records(kwire::bytes_view set, bool partial_tail_ok, bool& failed) {
  nlohmann::json batches = nlohmann::json::array();
  nlohmann::json* current = nullptr;
  auto err = kwire::walk_record_set(
      set,
      [&](const kwire::WalkedEntry& e) {
        nlohmann::json b;
        b["magic"] = e.entry.magic;
        b["position"] = e.entry.position;
        if (e.batch) {
          b["baseOffset"] = e.batch->base_offset();
          b["partitionLeaderEpoch"] = e.batch->partition_leader_epoch();
          b["compression"] = static_cast<int>(e.batch->compression_id());
          b["transactional"] = e.batch->is_transactional();
          b["control"] = e.batch->is_control();
          b["producerId"] = e.batch->producer_id();
          b["producerEpoch"] = e.batch->producer_epoch();
          b["baseSequence"] = e.batch->base_sequence();
          b["crc"] = e.batch->crc();
        } else if (e.legacy) {
          b["offset"] = e.legacy->offset;
          b["compression"] = static_cast<int>(e.legacy->compression());
          b["crc"] = e.legacy->crc;
        }
        b["records"] = nlohmann::json::array();
        batches.push_back(std::move(b));
        current = &batches.back()["records"];
      },
      [&](const kwire::WalkedRecord& r) {
        nlohmann::json rec;
        rec["offset"] = r.offset;
        rec["timestamp"] = r.timestamp;
        rec["key"] = show_bytes(r.key);
        rec["value"] = show_bytes(r.value);
        if (r.record) {
          nlohmann::json hs = nlohmann::json::array();
          for (const auto& h : r.headers) hs.push_back({{"key", std::string(h.key)}, {"value", show_bytes(h.value)}});
          rec["headers"] = std::move(hs);
        }
        current->push_back(std::move(rec));
      },
      {.allow_partial_tail = partial_tail_ok});
  nlohmann::json out{{"batches", std::move(batches)}};
  if (err) {
    failed = true;
    out["error"] = err->message();
  }
  return out;
}

struct Pending {
  std::int16_t key, version;
};

class Decoder {
 public:
  explicit Decoder(const Options& o) : opt_(o), splitter_(o.max_frame) {}

  bool failed() const { return failed_; }

  void requests(kwire::bytes_view stream) {
    std::size_t at = 0;
    while (at < stream.size()) {
      auto st = splitter_.next(stream.subspan(at));
      if (st.kind != kwire::FrameStatus::complete) {
        stop("request", at, st);
        return;
      }
      request(st.frame, at);
      at += st.consumed;
    }
  }

  void responses(kwire::bytes_view stream) {
    std::size_t at = 0;
    while (at < stream.size()) {
      auto st = splitter_.next(stream.subspan(at));
      if (st.kind != kwire::FrameStatus::complete) {
        stop("response", at, st);
        return;
      }
      response(st.frame, at);
      at += st.consumed;
    }
  }

 private:
  void stop(const char* dir, std::size_t at, const kwire::FrameStatus& st) {
    nlohmann::json j{{"direction", dir}, {"offset", at}};
    j["error"] = st.kind == kwire::FrameStatus::failed ? st.error->message()
                                                       : "stream ends inside a frame (needs " +
                                                             std::to_string(st.needed) + " bytes)";
    emit(j);
    failed_ = true;
  }

  void emit(const nlohmann::json& j) {
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  }

  void request(kwire::bytes_view frame, std::size_t at) {
    nlohmann::json j{{"direction", "request"}, {"offset", at}, {"size", frame.size()}};
    kwire::RequestFrame rf;
    if (auto r = kwire::read_request_header(frame, rf); !r) {
      j["error"] = "header: " + r.error().message();
      emit(j);
      failed_ = true;
      return;
    }
    const auto& h = rf.header;
    j["apiKey"] = h.request_api_key;
    j["apiVersion"] = h.request_api_version;
    j["correlationId"] = h.correlation_id;
    j["clientId"] = h.client_id ? nlohmann::json(std::string(*h.client_id)) : nlohmann::json(nullptr);
    if (auto* api = kwire::find_api(h.request_api_key)) j["api"] = std::string(api->name);
    pending_[h.correlation_id] = {h.request_api_key, h.request_api_version};
    bool known = kwire::with_request_type(h.request_api_key, [&]<class M>(std::type_identity<M>) {
      body<M>(j, rf.body, h.request_api_version, false, [&](std::vector<std::uint8_t>& out) {
        return kwire::encode_request_frame(decoded_as<M>(), h, out);
      }, frame);
    });
    if (!known) {
      j["error"] = "unknown API key " + std::to_string(h.request_api_key);
      failed_ = true;
    }
    emit(j);
  }

  void response(kwire::bytes_view frame, std::size_t at) {
    nlohmann::json j{{"direction", "response"}, {"offset", at}, {"size", frame.size()}};
    if (frame.size() < 4) {
      j["error"] = "frame too short for a correlation id";
      emit(j);
      failed_ = true;
      return;
    }
    std::int32_t corr = kwire::FrameSplitter::read_size(frame.data());
    j["correlationId"] = corr;
    auto it = pending_.find(corr);
    if (it == pending_.end()) {
      j["error"] = "no request with this correlation id";
      emit(j);
      failed_ = true;
      return;
    }
    auto [key, version] = it->second;
    j["apiKey"] = key;
    j["apiVersion"] = version;
    if (auto* api = kwire::find_api(key)) j["api"] = std::string(api->name);
    kwire::ResponseFrame rf;
    if (auto r = kwire::read_response_header(frame, key, version, rf); !r) {
      j["error"] = "header: " + r.error().message();
      emit(j);
      failed_ = true;
      return;
    }
    kwire::with_response_type(key, [&]<class M>(std::type_identity<M>) {
      body<M>(j, rf.body, version, true, [&](std::vector<std::uint8_t>& out) {
        return kwire::encode_response_frame(decoded_as<M>(), key, version, corr, out);
      }, frame);
    });
    emit(j);
  }

  template <class M>
  const M& decoded_as() {
    return *static_cast<const M*>(decoded_);
  }

  template <class M, class Reencode>
  void body(nlohmann::json& j, kwire::bytes_view bytes, std::int16_t version, bool response, Reencode&& reencode,
            kwire::bytes_view frame) {
    std::pmr::monotonic_buffer_resource arena;
    M msg;
    kwire::Reader r(bytes, &arena);
    kwire::decode_from(r, msg, version);
    if (!r.ok()) {
      j["error"] = "body: " + r.error()->message();
      failed_ = true;
      return;
    }
    // Bytes after the body: kwire::decode() rejects them; Kafka's broker
    // ignores them (librdkafka sends some, see --allow-trailing-bytes).
    const std::size_t trailing = r.remaining();
    if (trailing != 0) {
      static constexpr char digits[] = "0123456789abcdef";
      std::string hex;
      for (std::uint8_t b : bytes.last(trailing)) {
        hex += digits[b >> 4];
        hex += digits[b & 15];
      }
      j["trailingBytes"] = hex;
      if (!opt_.allow_trailing) {
        j["error"] = "body: " + kwire::DecodeError{kwire::DecodeErrc::trailing_bytes, r.offset(), {}}.message();
        failed_ = true;
      }
    }
    kwire::RecordsRenderer rr = [&](kwire::bytes_view set) { return render_records(set, response, failed_); };
    j["body"] = kwire::to_json(msg, version, opt_.records ? &rr : nullptr);
    if (opt_.roundtrip) {
      decoded_ = &msg;
      std::vector<std::uint8_t> out;
      auto err = reencode(out);
      decoded_ = nullptr;
      const auto kept = frame.first(frame.size() - trailing);
      bool same = !err && out.size() == kept.size() + 4 && std::equal(kept.begin(), kept.end(), out.begin() + 4);
      j["roundtrip"] = same;
      if (!same) failed_ = true;
    }
  }

  const Options& opt_;
  kwire::FrameSplitter splitter_;
  std::map<std::int32_t, Pending> pending_;
  const void* decoded_ = nullptr;
  bool failed_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--responses" && i + 1 < argc)
      o.responses = argv[++i];
    else if (a == "--hex")
      o.hex = true;
    else if (a == "--records")
      o.records = true;
    else if (a == "--roundtrip")
      o.roundtrip = true;
    else if (a == "--allow-trailing-bytes")
      o.allow_trailing = true;
    else if (a == "--max-frame-size" && i + 1 < argc)
      o.max_frame = std::stoull(argv[++i]);
    else if (a == "--help" || a == "-h")
      usage();
    else if (o.requests.empty())
      o.requests = a;
    else
      usage();
  }
  if (o.requests.empty()) usage();
  auto req = read_input(o.requests, o.hex);
  if (!req) {
    std::cerr << "kwire-decode: cannot read " << o.requests << (o.hex ? " as hex" : "") << "\n";
    return 2;
  }
  std::optional<std::vector<std::uint8_t>> resp;
  if (!o.responses.empty()) {
    resp = read_input(o.responses, o.hex);
    if (!resp) {
      std::cerr << "kwire-decode: cannot read " << o.responses << "\n";
      return 2;
    }
  }
  Decoder d(o);
  d.requests(*req);
  if (resp) d.responses(*resp);
  return d.failed() ? 1 : 0;
}
