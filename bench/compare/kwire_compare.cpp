// kwire on the comparison's workloads (bench/compare/run.sh writes them with
// Kafka's Java classes). Two modes:
//
//   kwire_compare check DIR            decode, re-encode, compare with the input
//   kwire_compare bench DIR [google benchmark flags]
//   kwire_compare profile DIR ROW OP N   N operations of OP (decode, decode_arena,
//                                        encode or encode_scatter), no timing
//                                        (for perf or valgrind --tool=callgrind)
//
// Each row has a decode and an encode benchmark. decode_arena repeats decode
// with a std::pmr::monotonic_buffer_resource released after each message;
// encode_buffer repeats encode with encoded_size() and encode_to_buffer() into
// a buffer the caller reuses, where encode uses encode_into(); encode_scatter
// encodes into pieces (kwire/scatter.hpp), record sets left where they are.
// Allocations are counted in one untimed run of each: what decode asks of a
// counting std::pmr::memory_resource, and what a counting global operator new
// sees beyond it.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory_resource>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "kwire/codec.hpp"
#include "kwire/messages/api_versions_response.hpp"
#include "kwire/messages/fetch_response.hpp"
#include "kwire/messages/join_group_response.hpp"
#include "kwire/messages/metadata_response.hpp"
#include "kwire/messages/offset_commit_request.hpp"
#include "kwire/messages/produce_request.hpp"
#include "kwire/records/records.hpp"
#include "kwire/scatter.hpp"

// ---- counting operator new (whole process, only while g_counting) ----
// Allocations are counted in a pass of their own, outside the timed loops, as
// the Rust harness counts them: atomic counters on every allocation would add
// their own cost to the rows that allocate most.
namespace {
bool g_counting = false;
std::atomic<std::uint64_t> g_news{0};
std::atomic<std::uint64_t> g_new_bytes{0};
void count_new(std::size_t n) {
  if (!g_counting) return;
  g_news.fetch_add(1, std::memory_order_relaxed);
  g_new_bytes.fetch_add(n, std::memory_order_relaxed);
}
}  // namespace

void* operator new(std::size_t n) {
  count_new(n);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a) {
  count_new(n);
  std::size_t al = static_cast<std::size_t>(a);
  if (void* p = std::aligned_alloc(al, (n + al - 1) / al * al)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

/// Counts what decode asks of its memory resource, then forwards to new/delete.
class CountingResource final : public std::pmr::memory_resource {
 public:
  std::uint64_t allocations = 0;
  std::uint64_t bytes = 0;

 private:
  void* do_allocate(std::size_t n, std::size_t align) override {
    ++allocations;
    bytes += n;
    return std::pmr::new_delete_resource()->allocate(n, align);
  }
  void do_deallocate(void* p, std::size_t n, std::size_t align) override {
    std::pmr::new_delete_resource()->deallocate(p, n, align);
  }
  bool do_is_equal(const std::pmr::memory_resource& o) const noexcept override { return this == &o; }
};

struct Row {
  std::string name, message;
  std::int16_t version = 0;
  std::vector<std::uint8_t> input;
};

std::vector<Row> load_rows(const std::string& dir) {
  std::vector<Row> rows;
  std::ifstream tsv(dir + "/rows.tsv");
  std::string line;
  while (std::getline(tsv, line)) {
    if (line.empty()) continue;
    std::istringstream f(line);
    Row r;
    std::string version;
    std::getline(f, r.name, '\t');
    std::getline(f, r.message, '\t');
    std::getline(f, version, '\t');
    r.version = static_cast<std::int16_t>(std::stoi(version));
    std::ifstream in(dir + "/" + r.name + ".bin", std::ios::binary);
    r.input.assign(std::istreambuf_iterator<char>(in), {});
    rows.push_back(std::move(r));
  }
  return rows;
}

// ---- records: the batch view, record iteration, and the builder ----

struct BatchSummary {
  std::size_t records = 0;
  std::size_t payload = 0;
};

/// Validates the batch (framing, header, CRC-32C) and reads every record.
bool read_batch(kwire::bytes_view in, BatchSummary& s) {
  auto batch = kwire::RecordBatchView::parse(in);
  if (!batch || batch->validate()) return false;
  auto reader = batch->records();
  kwire::RecordView r;
  while (reader.next(r)) {
    ++s.records;
    s.payload += (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0) + r.header_count;
  }
  return reader.ok();
}

/// A decoded batch: its view (the header fields) and its records, collected
/// once, as the peers' readers hand out a list of records.
struct DecodedBatch {
  kwire::RecordBatchView batch;
  std::vector<kwire::RecordView> records;
};

DecodedBatch collect_batch(kwire::bytes_view in) {
  DecodedBatch d;
  d.batch = *kwire::RecordBatchView::parse(in);
  auto reader = d.batch.records();
  kwire::RecordView r;
  while (reader.next(r)) d.records.push_back(r);
  return d;
}

/// Writes the batch again from its decoded header and records.
void rebuild_batch(const DecodedBatch& d, kwire::RecordBatchBuilder& b, std::vector<std::uint8_t>& out,
                   std::vector<kwire::RecordHeader>& headers) {
  const auto& batch = d.batch;
  kwire::RecordBatchOptions o;
  o.base_offset = batch.base_offset();
  o.partition_leader_epoch = batch.partition_leader_epoch();
  o.timestamp_type = batch.timestamp_type();
  o.producer_id = batch.producer_id();
  o.producer_epoch = batch.producer_epoch();
  o.base_sequence = batch.base_sequence();
  o.transactional = batch.is_transactional();
  b.reset(o);
  for (const auto& r : d.records) {
    headers.clear();
    for (const auto& h : r.headers()) headers.push_back({h.key, h.value});
    b.append_with_offset(batch.base_offset() + r.offset_delta, batch.timestamp_of(r), r.key, r.value, headers);
  }
  out.clear();
  b.build(out);
}

// ---- per-message dispatch ----

template <class F>
bool with_message(const std::string& name, F&& f) {
  if (name == "ProduceRequest") return f(std::type_identity<kwire::ProduceRequest>{}), true;
  if (name == "FetchResponse") return f(std::type_identity<kwire::FetchResponse>{}), true;
  if (name == "MetadataResponse") return f(std::type_identity<kwire::MetadataResponse>{}), true;
  if (name == "OffsetCommitRequest") return f(std::type_identity<kwire::OffsetCommitRequest>{}), true;
  if (name == "JoinGroupResponse") return f(std::type_identity<kwire::JoinGroupResponse>{}), true;
  if (name == "ApiVersionsResponse") return f(std::type_identity<kwire::ApiVersionsResponse>{}), true;
  return false;
}

std::string verdict(const std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& in) {
  if (out == in) return "ok";
  std::size_t at = 0;
  while (at < out.size() && at < in.size() && out[at] == in[at]) ++at;
  return "MISMATCH " + std::to_string(out.size()) + " bytes vs " + std::to_string(in.size()) +
         ", first difference at " + std::to_string(at);
}

int check(const std::string& dir) {
  int bad = 0;
  for (const auto& row : load_rows(dir)) {
    std::string v;
    if (row.message == "RecordBatch") {
      BatchSummary s;
      if (!read_batch(row.input, s)) {
        v = "DECODE ERROR";
      } else {
        kwire::RecordBatchBuilder b;
        std::vector<std::uint8_t> out;
        std::vector<kwire::RecordHeader> headers;
        rebuild_batch(collect_batch(row.input), b, out, headers);
        v = verdict(out, row.input);
      }
    } else {
      with_message(row.message, [&]<class M>(std::type_identity<M>) {
        M msg;
        if (auto res = kwire::decode(msg, row.input, row.version); !res) {
          v = "DECODE ERROR " + res.error().message();
          return;
        }
        auto enc = kwire::encode(msg, row.version);
        v = enc ? verdict(enc.bytes, row.input) : "ENCODE ERROR";
      });
    }
    if (v != "ok") ++bad;
    std::printf("kwire\t%s\t%s\n", row.name.c_str(), v.c_str());
  }
  return bad == 0 ? 0 : 1;
}

/// The scattered encoding, concatenated, is the plain encoding.
template <class M>
bool same_as_plain(const M& msg, std::int16_t version, const kwire::Scattered& out) {
  std::vector<std::uint8_t> plain, joined;
  if (kwire::encode_into(msg, version, plain)) return false;
  out.concatenate(joined, [](std::size_t, std::vector<std::uint8_t>&) {});
  return plain == joined;
}

/// Allocations of one operation: from the memory resource decode was given
/// and from operator new beyond those.
struct Allocs {
  std::uint64_t res_allocs = 0, res_bytes = 0, news = 0, new_bytes = 0;
};

/// Runs `op(resource)` once with counting on; `op` is run once before, so
/// buffers it reuses are warm as in the timed loop.
template <class Op>
Allocs count_allocations(Op&& op) {
  CountingResource mem;
  op(&mem);
  mem.allocations = mem.bytes = 0;
  const auto n0 = g_news.load(), b0 = g_new_bytes.load();
  g_counting = true;
  op(&mem);
  g_counting = false;
  // The resource allocates through operator new: what operator new saw
  // beyond that is allocation outside the resource.
  return {mem.allocations, mem.bytes, g_news.load() - n0 - mem.allocations, g_new_bytes.load() - b0 - mem.bytes};
}

void report(benchmark::State& state, const Row& row, const Allocs& a) {
  state.counters["pmr_allocs_per_op"] = static_cast<double>(a.res_allocs);
  state.counters["pmr_bytes_per_op"] = static_cast<double>(a.res_bytes);
  state.counters["new_allocs_per_op"] = static_cast<double>(a.news);
  state.counters["new_bytes_per_op"] = static_cast<double>(a.new_bytes);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(row.input.size()));
}

/// Byte fields at least this long are borrowed by the scattered encode
/// rather than copied: record sets, not names.
constexpr std::size_t scatter_borrow_from = 512;

void register_row(const Row& row) {
  if (row.message == "RecordBatch") {
    benchmark::RegisterBenchmark(("decode/" + row.name).c_str(), [&row](benchmark::State& state) {
      auto once = [&row](std::pmr::memory_resource*) {
        BatchSummary s;
        return read_batch(row.input, s);
      };
      const auto allocs = count_allocations(once);
      for (auto _ : state) {
        BatchSummary s;
        if (!read_batch(row.input, s)) state.SkipWithError("decode failed");
        benchmark::DoNotOptimize(s);
      }
      report(state, row, allocs);
    });
    benchmark::RegisterBenchmark(("encode/" + row.name).c_str(), [&row](benchmark::State& state) {
      kwire::RecordBatchBuilder b;
      std::vector<std::uint8_t> out;
      std::vector<kwire::RecordHeader> headers;
      auto decoded = collect_batch(row.input);
      const auto allocs = count_allocations([&](std::pmr::memory_resource*) { rebuild_batch(decoded, b, out, headers); });
      for (auto _ : state) {
        rebuild_batch(decoded, b, out, headers);
        benchmark::DoNotOptimize(out.data());
      }
      report(state, row, allocs);
    });
    return;
  }
  with_message(row.message, [&]<class M>(std::type_identity<M>) {
    // Timed with the default resource (new and delete), as a caller who
    // passes none gets.
    benchmark::RegisterBenchmark(("decode/" + row.name).c_str(), [&row](benchmark::State& state) {
      const auto allocs = count_allocations([&row](std::pmr::memory_resource* mem) {
        M msg;
        (void)kwire::decode(msg, row.input, row.version, mem);
      });
      for (auto _ : state) {
        M msg;
        auto res = kwire::decode(msg, row.input, row.version);
        if (!res) state.SkipWithError("decode failed");
        benchmark::DoNotOptimize(msg);
      }
      report(state, row, allocs);
    });
    // The same decode with an arena, as a server that reuses one per request
    // would run it: arrays come from a monotonic buffer released after each
    // message, so the allocator's cost leaves the loop.
    benchmark::RegisterBenchmark(("decode_arena/" + row.name).c_str(), [&row](benchmark::State& state) {
      std::vector<std::byte> buffer(8 << 20);
      // Counted: what the arena asks of its upstream beyond its buffer.
      const auto allocs = count_allocations([&](std::pmr::memory_resource* upstream) {
        std::pmr::monotonic_buffer_resource arena(buffer.data(), buffer.size(), upstream);
        M msg;
        (void)kwire::decode(msg, row.input, row.version, &arena);
      });
      std::pmr::monotonic_buffer_resource arena(buffer.data(), buffer.size());
      for (auto _ : state) {
        {
          M msg;
          auto res = kwire::decode(msg, row.input, row.version, &arena);
          if (!res) state.SkipWithError("decode failed");
          benchmark::DoNotOptimize(msg);
        }
        arena.release();
      }
      report(state, row, allocs);
    });
    benchmark::RegisterBenchmark(("encode/" + row.name).c_str(), [&row](benchmark::State& state) {
      M msg;
      (void)kwire::decode(msg, row.input, row.version);
      std::vector<std::uint8_t> out;
      out.reserve(row.input.size());
      auto once = [&](std::pmr::memory_resource*) {
        out.clear();
        return kwire::encode_into(msg, row.version, out);
      };
      const auto allocs = count_allocations(once);
      for (auto _ : state) {
        if (once(nullptr)) state.SkipWithError("encode failed");
        benchmark::DoNotOptimize(out.data());
      }
      report(state, row, allocs);
    });
    // The same encode into memory the caller manages (encoded_size, then
    // encode_to_buffer), as the peers write into a reused buffer: no zero fill.
    benchmark::RegisterBenchmark(("encode_buffer/" + row.name).c_str(), [&row](benchmark::State& state) {
      M msg;
      (void)kwire::decode(msg, row.input, row.version);
      std::vector<std::uint8_t> buffer(row.input.size() + 4096);
      auto once = [&](std::pmr::memory_resource*) {
        auto size = kwire::encoded_size(msg, row.version);
        if (!size || size.size > buffer.size()) return false;
        kwire::encode_to_buffer(msg, row.version, buffer.data(), size.size);
        return true;
      };
      const auto allocs = count_allocations(once);
      for (auto _ : state) {
        if (!once(nullptr)) state.SkipWithError("encode failed");
        benchmark::DoNotOptimize(buffer.data());
        benchmark::ClobberMemory();
      }
      report(state, row, allocs);
    });
    // Scattered (kwire/scatter.hpp): the encoder writes its own bytes into a
    // reused buffer and leaves record sets where they are, as pieces for one
    // vectored write. Its output is checked against the plain encode once.
    benchmark::RegisterBenchmark(("encode_scatter/" + row.name).c_str(), [&row](benchmark::State& state) {
      M msg;
      (void)kwire::decode(msg, row.input, row.version);
      kwire::Scattered out;
      const kwire::ScatterOptions options{.borrow_from = scatter_borrow_from};
      auto once = [&](std::pmr::memory_resource*) { return !kwire::encode_scattered(msg, row.version, out, options); };
      if (!once(nullptr) || !same_as_plain(msg, row.version, out)) {
        state.SkipWithError("scattered encode differs from the plain one");
        return;
      }
      const auto allocs = count_allocations(once);
      for (auto _ : state) {
        if (!once(nullptr)) state.SkipWithError("encode failed");
        benchmark::DoNotOptimize(out.pieces.data());
        benchmark::ClobberMemory();
      }
      report(state, row, allocs);
    });
  });
}

/// Runs one row's operation n times with nothing around it, for a profiler
/// (valgrind --tool=callgrind --toggle-collect='*profile_loop*'). What encode
/// starts from is decoded before, outside the profiled function.
template <class Op>
[[gnu::noinline]] std::size_t profile_loop(long n, Op&& op) {
  std::size_t sink = 0;
  for (long i = 0; i < n; ++i) sink += op();
  return sink;
}

int profile(const std::string& dir, const std::string& name, const std::string& op, long n) {
  for (const auto& row : load_rows(dir)) {
    if (row.name != name) continue;
    bool decode = op == "decode" || op == "decode_arena";
    std::size_t sink = 0;
    if (row.message == "RecordBatch") {
      kwire::RecordBatchBuilder b;
      std::vector<std::uint8_t> out;
      std::vector<kwire::RecordHeader> headers;
      auto decoded = collect_batch(row.input);
      sink = decode ? profile_loop(n, [&] {
        BatchSummary s;
        read_batch(row.input, s);
        return s.payload;
      })
                    : profile_loop(n, [&] {
                        rebuild_batch(decoded, b, out, headers);
                        return out.size();
                      });
    } else {
      with_message(row.message, [&]<class M>(std::type_identity<M>) {
        M decoded;
        (void)kwire::decode(decoded, row.input, row.version);
        std::vector<std::uint8_t> out;
        std::vector<std::byte> buffer(8 << 20);
        std::pmr::monotonic_buffer_resource arena(buffer.data(), buffer.size());
        if (op == "decode_arena") {
          sink = profile_loop(n, [&] {
            {
              M msg;
              (void)kwire::decode(msg, row.input, row.version, &arena);
              benchmark::DoNotOptimize(msg);
            }
            arena.release();
            return std::size_t{1};
          });
          return;
        }
        if (op == "encode_scatter") {
          kwire::Scattered scattered;
          const kwire::ScatterOptions options{.borrow_from = scatter_borrow_from};
          sink = profile_loop(n, [&] {
            (void)kwire::encode_scattered(decoded, row.version, scattered, options);
            return scattered.pieces.size();
          });
          return;
        }
        sink = decode ? profile_loop(n, [&] {
          M msg;
          (void)kwire::decode(msg, row.input, row.version);
          benchmark::DoNotOptimize(msg);
          return std::size_t{1};
        })
                      : profile_loop(n, [&] {
                          out.clear();
                          (void)kwire::encode_into(decoded, row.version, out);
                          return out.size();
                        });
      });
    }
    benchmark::DoNotOptimize(sink);
    return 0;
  }
  std::fprintf(stderr, "no row %s\n", name.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || (std::strcmp(argv[1], "check") != 0 && std::strcmp(argv[1], "bench") != 0 &&
                    std::strcmp(argv[1], "profile") != 0)) {
    std::fprintf(stderr, "usage: %s check DIR | bench DIR [benchmark flags] | profile DIR ROW OP N\n", argv[0]);
    return 2;
  }
  std::string dir = argv[2];
  if (std::strcmp(argv[1], "check") == 0) return check(dir);
  if (std::strcmp(argv[1], "profile") == 0) {
    if (argc != 6) return 2;
    return profile(dir, argv[3], argv[4], std::atol(argv[5]));
  }
  static std::vector<Row> rows = load_rows(dir);
  if (rows.empty()) {
    std::fprintf(stderr, "no rows in %s\n", dir.c_str());
    return 1;
  }
  for (const auto& row : rows) register_row(row);
  // Hand google benchmark the flags after DIR.
  std::vector<char*> args{argv[0]};
  for (int i = 3; i < argc; ++i) args.push_back(argv[i]);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
