// Reads the log segments a real broker wrote for librdkafka's batches (see
// librdkafka_peer.sh) and checks them against the records that were sent.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "records_check.hpp"

namespace fs = std::filesystem;
using namespace kwire;

namespace {

std::optional<std::vector<std::uint8_t>> unhex(const nlohmann::json& j) {
  if (j.is_null()) return std::nullopt;
  std::string s = j.get<std::string>();
  std::vector<std::uint8_t> v;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) v.push_back(static_cast<std::uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
  return v;
}

std::vector<std::uint8_t> read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: librdkafka_segments DATA_DIR EXPECTED_JSON\n");
    return 2;
  }
  std::ifstream ef(argv[2]);
  auto expected = nlohmann::json::parse(ef);
  int passed = 0, failed = 0;
  std::map<std::string, std::pair<int, int>> identical;  // codec: byte-identical rebuilds / compressed batches
  for (auto& [topic, sent] : expected.items()) {
    std::vector<std::uint8_t> log;
    fs::path dir = fs::path(argv[1]) / (topic + "-0");
    std::vector<fs::path> segments;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".log") segments.push_back(e.path());
    std::sort(segments.begin(), segments.end());
    for (const auto& s : segments) {
      auto b = read_file(s);
      log.insert(log.end(), b.begin(), b.end());
    }
    std::string problem;
    RecordSetReader rs(log);
    RecordBatchView batch;
    std::size_t index = 0, batches = 0;
    while (problem.empty() && rs.next(batch)) {
      ++batches;
      std::vector<kwire_test::ReadRecord> recs;
      std::vector<std::uint8_t> scratch;
      if (auto e = kwire_test::read_batch(batch, recs, scratch)) {
        problem = "batch " + std::to_string(batches) + ": " + *e;
        break;
      }
      for (const auto& r : recs) {
        if (index >= sent.size()) {
          problem = "more records than sent";
          break;
        }
        const auto& want = sent[index];
        std::vector<std::pair<std::string, std::optional<std::vector<std::uint8_t>>>> hs;
        for (const auto& h : want["headers"]) hs.emplace_back(h[0].get<std::string>(), unhex(h[1]));
        if (r.offset != static_cast<std::int64_t>(index) || r.timestamp != want["timestamp"].get<std::int64_t>() ||
            r.key != unhex(want["key"]) || r.value != unhex(want["value"]) || r.headers != hs) {
          problem = "record " + std::to_string(index) + " differs from what was sent";
          break;
        }
        ++index;
      }
      auto rebuilt = kwire_test::rebuild(batch, recs);
      bool same = std::equal(rebuilt.begin(), rebuilt.end(), batch.bytes().begin(), batch.bytes().end());
      if (batch.compression() == Compression::none) {
        if (!same) problem = "batch " + std::to_string(batches) + ": uncompressed rebuild differs";
      } else {
        auto& s = identical[std::string(to_string(batch.compression()))];
        ++s.second;
        if (same) ++s.first;
        auto rv = RecordBatchView::parse(rebuilt);
        if (!rv || kwire_test::inflated_records(*rv) != kwire_test::inflated_records(batch) ||
            rv->attributes() != batch.attributes() || rv->producer_id() != batch.producer_id() ||
            rv->base_sequence() != batch.base_sequence() || rv->max_timestamp() != batch.max_timestamp() ||
            rv->base_timestamp() != batch.base_timestamp())
          problem = "batch " + std::to_string(batches) + ": compressed rebuild differs in header or records";
      }
    }
    if (problem.empty() && !rs.ok()) problem = rs.error()->message();
    if (problem.empty() && index != sent.size()) problem = "read " + std::to_string(index) + " of " + std::to_string(sent.size());
    if (problem.empty()) {
      ++passed;
      std::printf("%s: %zu batches, %zu records ok\n", topic.c_str(), batches, index);
    } else {
      ++failed;
      std::printf("FAIL %s: %s\n", topic.c_str(), problem.c_str());
    }
  }
  for (const auto& [codec, s] : identical)
    std::printf("%s: kwire's recompression identical to librdkafka's in %d of %d batches\n", codec.c_str(), s.first,
                s.second);
  std::printf("librdkafka segments: %d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}
