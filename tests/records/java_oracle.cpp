// Compares kwire's batch builder with Kafka's Java client.
//
//   java_oracle gen CASES KWIRE_BUILT   writes test cases and kwire's batches
//   java_oracle check CASES JAVA_BUILT  compares them with Java's
//
// The Java side (java-oracle/) builds the same cases with MemoryRecordsBuilder
// and also checks that Kafka's reader accepts kwire's batches.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kwire/records/compression.hpp"
#include "kwire/records/records.hpp"
#include "records_check.hpp"

using namespace kwire;

namespace {

enum Kind : std::int8_t { batch = 0, end_txn = 1, legacy = 2 };

struct Rec {
  std::int64_t timestamp = 0;
  std::optional<std::vector<std::uint8_t>> key, value;
  std::vector<std::pair<std::string, std::optional<std::vector<std::uint8_t>>>> headers;
};

struct Case {
  std::int32_t id = 0;
  Kind kind = batch;
  std::int8_t magic = 2;
  Compression compression = Compression::none;
  TimestampType timestamp_type = TimestampType::create_time;
  std::int64_t base_offset = 0, log_append_time = -1, producer_id = -1;
  std::int16_t producer_epoch = -1;
  std::int32_t base_sequence = -1;
  bool transactional = false, control = false;
  std::int32_t partition_leader_epoch = -1;
  std::int64_t delete_horizon = -1;
  std::int16_t control_type = 0;
  std::int32_t coordinator_epoch = 0;
  std::vector<Rec> records;
  std::string name;
  /// kwire's side builds the batch with CreateTime at offset 0, then stamps
  /// LogAppendTime, base offset and leader epoch in place as a broker does;
  /// Java builds it directly with those settings (not sent: kwire-side only).
  bool stamped = false;
};

// ---- big-endian file I/O matching java.io.DataOutputStream ----
struct Out {
  std::vector<std::uint8_t> b;
  template <class T>
  void put(T v) {
    for (int i = sizeof(T) - 1; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (8 * i)));
  }
  void bytes(const std::optional<std::vector<std::uint8_t>>& v) {
    if (!v) {
      put<std::int32_t>(-1);
      return;
    }
    put<std::int32_t>(static_cast<std::int32_t>(v->size()));
    b.insert(b.end(), v->begin(), v->end());
  }
};
struct In {
  std::vector<std::uint8_t> b;
  std::size_t p = 0;
  template <class T>
  T get() {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v = (v << 8) | b.at(p++);
    return static_cast<T>(v);
  }
  std::optional<std::vector<std::uint8_t>> bytes() {
    auto n = get<std::int32_t>();
    if (n < 0) return std::nullopt;
    std::vector<std::uint8_t> v(b.begin() + static_cast<std::ptrdiff_t>(p), b.begin() + static_cast<std::ptrdiff_t>(p) + n);
    p += static_cast<std::size_t>(n);
    return v;
  }
};

std::vector<std::uint8_t> read_file(const char* path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}
void write_file(const char* path, const std::vector<std::uint8_t>& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::vector<std::uint8_t> text(std::mt19937& rng, std::size_t n, bool compressible) {
  static const char words[][8] = {"kafka", "record", "batch", "offset", "topic", "value", "key", "log"};
  std::vector<std::uint8_t> v;
  while (v.size() < n) {
    if (compressible) {
      const char* w = words[rng() % 8];
      v.insert(v.end(), w, w + std::char_traits<char>::length(w));
      v.push_back(' ');
    } else {
      v.push_back(static_cast<std::uint8_t>(rng()));
    }
  }
  v.resize(n);
  return v;
}

std::vector<Case> make_cases() {
  std::mt19937 rng(20240601);
  std::vector<Case> cases;
  const Compression codecs[] = {Compression::none, Compression::gzip, Compression::snappy, Compression::lz4,
                                Compression::zstd};
  auto records = [&](std::size_t n, std::size_t value_size, bool headers, bool compressible) {
    std::vector<Rec> v;
    std::int64_t ts = 1700000000000;
    for (std::size_t i = 0; i < n; ++i) {
      Rec r;
      r.timestamp = ts + static_cast<std::int64_t>(rng() % 5000);
      if (i % 7 != 3) r.key = text(rng, 1 + rng() % 16, true);
      if (i % 11 != 5) r.value = text(rng, value_size ? value_size : rng() % 200, compressible);
      if (headers) {
        for (std::size_t h = 0; h < rng() % 4; ++h) {
          std::optional<std::vector<std::uint8_t>> hv;
          if (h != 1) hv = text(rng, rng() % 12, true);
          auto k = text(rng, 1 + rng() % 6, true);
          r.headers.emplace_back(std::string(k.begin(), k.end()), hv);
        }
      }
      v.push_back(std::move(r));
    }
    return v;
  };
  for (Compression c : codecs) {
    auto add = [&](std::string name, auto&& tweak) {
      Case k;
      k.id = static_cast<std::int32_t>(cases.size());
      k.compression = c;
      k.name = std::string(to_string(c)) + "/" + name;
      tweak(k);
      cases.push_back(std::move(k));
    };
    add("one record", [&](Case& k) { k.records = records(1, 10, false, true); });
    add("small records with headers", [&](Case& k) { k.records = records(10, 0, true, true); });
    add("1000 records", [&](Case& k) { k.records = records(1000, 100, true, true); });
    add("incompressible 1 KiB values", [&](Case& k) { k.records = records(20, 1024, false, false); });
    add("large values over several codec blocks", [&](Case& k) { k.records = records(3, 100000, false, true); });
    add("idempotent producer", [&](Case& k) {
      k.producer_id = 123456789;
      k.producer_epoch = 7;
      k.base_sequence = 1000;
      k.base_offset = 4242;
      k.partition_leader_epoch = 12;
      k.records = records(5, 0, true, true);
    });
    add("transactional", [&](Case& k) {
      k.producer_id = 99;
      k.producer_epoch = 1;
      k.base_sequence = 0;
      k.transactional = true;
      k.records = records(4, 0, false, true);
    });
    add("log append time", [&](Case& k) {
      k.timestamp_type = TimestampType::log_append_time;
      k.log_append_time = 1800000000000;
      k.records = records(6, 0, true, true);
    });
    add("log append time stamped in place", [&](Case& k) {
      k.timestamp_type = TimestampType::log_append_time;
      k.log_append_time = 1800000000000;
      k.base_offset = 9000;
      k.partition_leader_epoch = 3;
      k.producer_id = 12;
      k.producer_epoch = 2;
      k.base_sequence = 7;
      k.records = records(6, 0, true, true);
      k.stamped = true;
    });
    add("delete horizon", [&](Case& k) {
      k.delete_horizon = 1750000000000;
      k.records = records(3, 0, false, true);
    });
    add("no timestamps", [&](Case& k) {
      k.records = records(3, 0, false, true);
      for (auto& r : k.records) r.timestamp = -1;
    });
    for (std::int8_t magic : {0, 1}) {
      if (c == Compression::zstd) continue;  // zstd needs magic 2
      add("legacy magic " + std::to_string(magic), [&](Case& k) {
        k.kind = legacy;
        k.magic = magic;
        k.base_offset = 77;
        k.records = records(8, 0, false, true);
      });
      if (magic == 1)
        add("legacy magic 1 log append time", [&](Case& k) {
          k.kind = legacy;
          k.magic = 1;
          k.timestamp_type = TimestampType::log_append_time;
          k.log_append_time = 1800000000000;
          k.records = records(5, 0, false, true);
        });
    }
  }
  for (std::int16_t type : {0, 1}) {
    Case k;
    k.id = static_cast<std::int32_t>(cases.size());
    k.kind = end_txn;
    k.name = type ? "commit marker" : "abort marker";
    k.base_offset = 31337;
    k.producer_id = 555;
    k.producer_epoch = 4;
    k.transactional = true;
    k.control = true;
    k.partition_leader_epoch = 6;
    k.control_type = type;
    k.coordinator_epoch = 27;
    Rec r;
    r.timestamp = 1700000000999;
    k.records.push_back(r);
    cases.push_back(std::move(k));
  }
  return cases;
}

std::vector<std::uint8_t> build_ours(const Case& k) {
  std::vector<std::uint8_t> out;
  if (k.kind == legacy) {
    std::vector<LegacyRecordInput> in;
    for (const auto& r : k.records) {
      LegacyRecordInput x;
      x.timestamp = r.timestamp;
      if (r.key) x.key = bytes_view(*r.key);
      if (r.value) x.value = bytes_view(*r.value);
      in.push_back(x);
    }
    if (!build_legacy_message_set(out, k.magic, k.compression, k.timestamp_type, k.base_offset, k.log_append_time, in,
                                  &kwire::compress))
      std::fprintf(stderr, "case %d: legacy build failed\n", k.id);
    return out;
  }
  RecordBatchOptions o;
  o.base_offset = k.stamped ? 0 : k.base_offset;
  o.partition_leader_epoch = k.stamped ? no_partition_leader_epoch : k.partition_leader_epoch;
  o.compression = k.compression;
  o.timestamp_type = k.stamped ? TimestampType::create_time : k.timestamp_type;
  o.log_append_time = k.stamped ? no_timestamp : k.log_append_time;
  o.producer_id = k.producer_id;
  o.producer_epoch = k.producer_epoch;
  o.base_sequence = k.base_sequence;
  o.transactional = k.transactional;
  o.control = k.control;
  if (k.delete_horizon >= 0) o.delete_horizon_ms = k.delete_horizon;
  RecordBatchBuilder b(o);
  if (k.kind == end_txn) {
    b.append_end_txn_marker(k.records[0].timestamp, static_cast<ControlType>(k.control_type), k.coordinator_epoch);
  } else {
    for (const auto& r : k.records) {
      std::vector<RecordHeader> hs;
      for (const auto& [key, v] : r.headers) hs.push_back({key, v ? nullable_bytes(bytes_view(*v)) : std::nullopt});
      b.append(r.timestamp, r.key ? nullable_bytes(bytes_view(*r.key)) : std::nullopt,
               r.value ? nullable_bytes(bytes_view(*r.value)) : std::nullopt, hs);
    }
  }
  auto batch_bytes = b.build(&kwire::compress);
  if (k.stamped) {
    set_log_append_time(batch_bytes, k.log_append_time);
    set_base_offset(batch_bytes, k.base_offset);
    set_partition_leader_epoch(batch_bytes, k.partition_leader_epoch);
  }
  return batch_bytes;
}

int gen(const char* cases_path, const char* ours_path) {
  auto cases = make_cases();
  Out c, o;
  c.put<std::int32_t>(static_cast<std::int32_t>(cases.size()));
  o.put<std::int32_t>(static_cast<std::int32_t>(cases.size()));
  for (const auto& k : cases) {
    c.put<std::int32_t>(k.id);
    c.put<std::int8_t>(k.kind);
    c.put<std::int8_t>(k.magic);
    c.put<std::int8_t>(static_cast<std::int8_t>(k.compression));
    c.put<std::int8_t>(static_cast<std::int8_t>(k.timestamp_type));
    c.put<std::int64_t>(k.base_offset);
    c.put<std::int64_t>(k.log_append_time);
    c.put<std::int64_t>(k.producer_id);
    c.put<std::int16_t>(k.producer_epoch);
    c.put<std::int32_t>(k.base_sequence);
    c.put<std::int8_t>(k.transactional);
    c.put<std::int8_t>(k.control);
    c.put<std::int32_t>(k.partition_leader_epoch);
    c.put<std::int64_t>(k.delete_horizon);
    c.put<std::int16_t>(k.control_type);
    c.put<std::int32_t>(k.coordinator_epoch);
    c.put<std::int32_t>(static_cast<std::int32_t>(k.records.size()));
    for (const auto& r : k.records) {
      c.put<std::int64_t>(r.timestamp);
      c.bytes(r.key);
      c.bytes(r.value);
      c.put<std::int32_t>(static_cast<std::int32_t>(r.headers.size()));
      for (const auto& [key, v] : r.headers) {
        c.bytes(std::vector<std::uint8_t>(key.begin(), key.end()));
        c.bytes(v);
      }
    }
    o.put<std::int32_t>(k.id);
    o.bytes(build_ours(k));
  }
  write_file(cases_path, c.b);
  write_file(ours_path, o.b);
  std::printf("wrote %zu cases\n", cases.size());
  return 0;
}

// Checks one magic-2 case; returns a problem or "".
std::string check_v2(const Case& k, const std::vector<std::uint8_t>& java, const std::vector<std::uint8_t>& ours,
                     bool& identical) {
  identical = java == ours;
  DecodeError err;
  auto jv = RecordBatchView::parse(java, &err);
  if (!jv) return "kwire cannot frame Java's batch: " + err.message();
  if (jv->size() != java.size()) return "Java's output holds more than one batch";
  auto ov = RecordBatchView::parse(ours, &err);
  if (!ov) return "cannot frame our batch: " + err.message();
  // Java's batch must read back as the case's records.
  std::vector<kwire_test::ReadRecord> recs;
  std::vector<std::uint8_t> scratch;
  if (auto e = kwire_test::read_batch(*jv, recs, scratch)) return "kwire rejects Java's batch: " + *e;
  if (recs.size() != k.records.size()) return "record count";
  for (std::size_t i = 0; i < recs.size(); ++i) {
    if (recs[i].offset != k.base_offset + static_cast<std::int64_t>(i)) return "offset of record " + std::to_string(i);
    std::int64_t ts = k.timestamp_type == TimestampType::log_append_time ? k.log_append_time : k.records[i].timestamp;
    if (recs[i].timestamp != ts) return "timestamp of record " + std::to_string(i);
    if (k.kind == batch) {
      if (recs[i].key != k.records[i].key) return "key of record " + std::to_string(i);
      if (recs[i].value != k.records[i].value) return "value of record " + std::to_string(i);
      if (recs[i].headers != k.records[i].headers) return "headers of record " + std::to_string(i);
    } else {
      std::vector<std::uint8_t> scratch2;
      auto rr = jv->records(scratch2, &kwire::decompress);
      RecordView r;
      rr.next(r);
      auto key = parse_control_key(r.key);
      auto marker = parse_end_txn_marker(r.value);
      if (!key || key->type != k.control_type || !marker || marker->coordinator_epoch != k.coordinator_epoch)
        return "transaction marker";
    }
  }
  // Rebuilding from what was read gives Java's batch again.
  auto rebuilt = kwire_test::rebuild(*jv, recs);
  if (k.compression == Compression::none) {
    if (!identical) return "bytes differ from Java's";
    if (rebuilt != java) return "rebuilding from the decoded batch changes bytes";
    return "";
  }
  // Compressed: same header (except the CRC and length) and same records once inflated.
  auto same_header = [&](const RecordBatchView& a, const RecordBatchView& b) {
    return a.base_offset() == b.base_offset() && a.partition_leader_epoch() == b.partition_leader_epoch() &&
           a.attributes() == b.attributes() && a.last_offset_delta() == b.last_offset_delta() &&
           a.base_timestamp() == b.base_timestamp() && a.max_timestamp() == b.max_timestamp() &&
           a.producer_id() == b.producer_id() && a.producer_epoch() == b.producer_epoch() &&
           a.base_sequence() == b.base_sequence() && a.record_count() == b.record_count();
  };
  if (!same_header(*jv, *ov)) return "header fields differ from Java's";
  auto jp = kwire_test::inflated_records(*jv);
  if (jp.empty() || jp != kwire_test::inflated_records(*ov)) return "inflated records differ from Java's";
  auto rv = RecordBatchView::parse(rebuilt);
  if (!rv || !same_header(*rv, *jv) || kwire_test::inflated_records(*rv) != jp)
    return "rebuilding from the decoded batch changes the records";
  return "";
}

std::string check_legacy(const Case& k, const std::vector<std::uint8_t>& java, const std::vector<std::uint8_t>& ours,
                         bool& identical) {
  identical = java == ours;
  // Read Java's set with kwire: every message, CRC checked, absolute offsets.
  RecordSetReader rs(java);
  LogEntry e;
  std::vector<LegacyMessage> all, part;
  std::vector<std::vector<std::uint8_t>> scratches;
  while (rs.next_entry(e)) {
    scratches.emplace_back();
    if (auto err = read_legacy_entry(e.bytes, part, scratches.back(), &kwire::decompress, 1 << 26, e.position))
      return "kwire rejects Java's message: " + err->message();
    all.insert(all.end(), part.begin(), part.end());
  }
  if (!rs.ok()) return "kwire cannot frame Java's set: " + rs.error()->message();
  if (all.size() != k.records.size()) return "message count " + std::to_string(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& m = all[i];
    if (m.offset != k.base_offset + static_cast<std::int64_t>(i)) return "offset of message " + std::to_string(i);
    std::int64_t ts = k.magic == 0 ? -1
                      : k.timestamp_type == TimestampType::log_append_time ? k.log_append_time
                                                                           : k.records[i].timestamp;
    if (m.timestamp != ts) return "timestamp of message " + std::to_string(i);
    if (kwire_test::copy(m.key) != k.records[i].key || kwire_test::copy(m.value) != k.records[i].value)
      return "key/value of message " + std::to_string(i);
  }
  if (k.compression == Compression::none) return identical ? "" : "bytes differ from Java's";
  // Compressed: the same wrapper fields and the same inner message set.
  auto jw = parse_legacy_message(java);
  auto ow = parse_legacy_message(ours);
  if (!jw || !ow) return "wrapper does not parse";
  if (jw->offset != ow->offset || jw->attributes != ow->attributes || jw->timestamp != ow->timestamp ||
      jw->key.has_value() != ow->key.has_value())
    return "wrapper fields differ from Java's";
  std::vector<std::uint8_t> ji, oi;
  if (kwire::decompress(jw->compression(), *jw->value, ji, 1 << 26) ||
      kwire::decompress(ow->compression(), *ow->value, oi, 1 << 26) || ji != oi)
    return "inner message sets differ from Java's";
  return "";
}

int check(const char* cases_path, const char* java_path) {
  auto cases = make_cases();
  In j{read_file(java_path)};
  if (j.b.empty()) {
    std::printf("no Java output\n");
    return 1;
  }
  std::map<std::int32_t, std::vector<std::uint8_t>> java;
  auto n = j.get<std::int32_t>();
  for (std::int32_t i = 0; i < n; ++i) {
    auto id = j.get<std::int32_t>();
    java[id] = *j.bytes();
  }
  (void)cases_path;
  int passed = 0, failed = 0;
  std::map<std::string, std::pair<int, int>> identical_by_codec;  // compressed: identical / total
  for (const auto& k : cases) {
    auto ours = build_ours(k);
    bool identical = false;
    std::string problem = !java.count(k.id) ? "Java built nothing"
                          : k.kind == legacy ? check_legacy(k, java[k.id], ours, identical)
                                             : check_v2(k, java[k.id], ours, identical);
    if (k.compression != Compression::none) {
      auto& s = identical_by_codec[std::string(to_string(k.compression))];
      s.second++;
      if (identical) s.first++;
    }
    if (problem.empty()) {
      ++passed;
    } else {
      ++failed;
      std::printf("FAIL case %d (%s): %s\n", k.id, k.name.c_str(), problem.c_str());
    }
  }
  for (const auto& [codec, s] : identical_by_codec)
    std::printf("%s: compressed bytes identical to Java's in %d of %d cases\n", codec.c_str(), s.first, s.second);
  std::printf("java oracle: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "gen") return gen(argv[2], argv[3]);
  if (argc == 4 && std::string(argv[1]) == "check") return check(argv[2], argv[3]);
  std::fprintf(stderr, "usage: java_oracle gen CASES KWIRE_BUILT | check CASES JAVA_BUILT\n");
  return 2;
}
