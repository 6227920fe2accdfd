// Records layer throughput: CRC-32C (hardware and portable) next to memcpy,
// validating and iterating batches, building batches, and each codec.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kwire/records/compression.hpp"
#include "kwire/records/records.hpp"

using namespace kwire;

namespace {

std::vector<std::uint8_t> random_bytes(std::size_t n) {
  std::mt19937 rng(1);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

// Text-like values so that codecs have something to work on.
std::vector<std::uint8_t> text_bytes(std::size_t n, std::uint32_t seed) {
  static const char* words[] = {"kafka ", "record ", "batch ", "offset ", "topic ", "value ", "key ", "log "};
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> v;
  while (v.size() < n) {
    const char* w = words[rng() % 8];
    v.insert(v.end(), w, w + std::strlen(w));
  }
  v.resize(n);
  return v;
}

void BM_memcpy(benchmark::State& state) {
  auto src = random_bytes(static_cast<std::size_t>(state.range(0)));
  std::vector<std::uint8_t> dst(src.size());
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size());
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_memcpy)->Arg(4096)->Arg(64 << 10)->Arg(1 << 20);

void BM_crc32c_hardware(benchmark::State& state) {
  if (!crc32c::hardware_available()) {
    state.SkipWithError("no SSE4.2/PCLMUL");
    return;
  }
  auto src = random_bytes(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(crc32c::extend_hardware(0, src.data(), src.size()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_crc32c_hardware)->Arg(64)->Arg(4096)->Arg(64 << 10)->Arg(1 << 20);

void BM_crc32c_portable(benchmark::State& state) {
  auto src = random_bytes(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(crc32c::extend_portable(0, src.data(), src.size()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_crc32c_portable)->Arg(4096)->Arg(1 << 20);

std::vector<std::uint8_t> make_batch(std::size_t records, std::size_t value_size, Compression c) {
  RecordBatchOptions o;
  o.compression = c;
  RecordBatchBuilder b(o);
  auto value = text_bytes(value_size, 7);
  for (std::size_t i = 0; i < records; ++i) {
    std::string key = "key-" + std::to_string(i);
    b.append(1700000000000 + static_cast<std::int64_t>(i), as_bytes(key), bytes_view(value));
  }
  return b.build(&kwire::compress);
}

// CRC only: the floor that validating a batch is measured against.
void BM_batch_crc_only(benchmark::State& state) {
  auto batch = make_batch(static_cast<std::size_t>(state.range(0)), static_cast<std::size_t>(state.range(1)),
                          Compression::none);
  auto v = *RecordBatchView::parse(batch);
  for (auto _ : state) benchmark::DoNotOptimize(v.crc_valid());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * batch.size()));
}

// Frame the batch and validate it (CRC and header), without reading records.
void BM_validate(benchmark::State& state) {
  auto batch = make_batch(static_cast<std::size_t>(state.range(0)), static_cast<std::size_t>(state.range(1)),
                          Compression::none);
  for (auto _ : state) {
    RecordSetReader rs(batch);
    RecordBatchView b;
    bool ok = true;
    while (rs.next(b)) ok &= !b.validate();
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * batch.size()));
}

// Frame, check the CRC and header, then read every record.
void BM_validate_and_iterate(benchmark::State& state) {
  auto batch = make_batch(static_cast<std::size_t>(state.range(0)), static_cast<std::size_t>(state.range(1)),
                          Compression::none);
  for (auto _ : state) {
    RecordSetReader rs(batch);
    RecordBatchView b;
    std::size_t sum = 0;
    while (rs.next(b)) {
      if (b.validate()) state.SkipWithError("invalid");
      auto rr = b.records();
      RecordView r;
      while (rr.next(r)) sum += r.value->size();
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * batch.size()));
  state.counters["records/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * static_cast<std::uint64_t>(state.range(0))),
                         benchmark::Counter::kIsRate);
}

void batch_shapes(benchmark::internal::Benchmark* b) {
  for (int records : {1, 10, 1000})
    for (int size : {100, 1024}) b->Args({records, size});
}
BENCHMARK(BM_batch_crc_only)->Apply(batch_shapes);
BENCHMARK(BM_validate)->Apply(batch_shapes);
BENCHMARK(BM_validate_and_iterate)->Apply(batch_shapes);

void BM_build(benchmark::State& state) {
  auto value = text_bytes(static_cast<std::size_t>(state.range(1)), 3);
  std::vector<std::uint8_t> out;
  RecordBatchBuilder b;  // reused, as a producer would
  for (auto _ : state) {
    b.reset({});
    for (std::int64_t i = 0; i < state.range(0); ++i) b.append(1700000000000 + i, as_bytes("key"), bytes_view(value));
    out.clear();
    b.build(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["records/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * static_cast<std::uint64_t>(state.range(0))),
                         benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_build)->Apply(batch_shapes);

// Codecs on 1000 records of 100 bytes (as a batch's records section).
void BM_compress(benchmark::State& state) {
  auto c = static_cast<Compression>(state.range(0));
  RecordBatchBuilder b;
  auto value = text_bytes(100, 5);
  for (int i = 0; i < 1000; ++i) b.append(1700000000000 + i, as_bytes("key"), bytes_view(value));
  auto raw = b.uncompressed_records();
  std::vector<std::uint8_t> out;
  for (auto _ : state) {
    out.clear();
    compress(c, raw, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string(to_string(c)) + " ratio " + std::to_string(static_cast<double>(raw.size()) / out.size()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * raw.size()));
}
BENCHMARK(BM_compress)->DenseRange(1, 4);

void BM_decompress(benchmark::State& state) {
  auto c = static_cast<Compression>(state.range(0));
  RecordBatchBuilder b;
  auto value = text_bytes(100, 5);
  for (int i = 0; i < 1000; ++i) b.append(1700000000000 + i, as_bytes("key"), bytes_view(value));
  auto raw = b.uncompressed_records();
  std::vector<std::uint8_t> packed, out;
  compress(c, raw, packed);
  for (auto _ : state) {
    if (decompress(c, packed, out, 1 << 24)) state.SkipWithError("decompress failed");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string(to_string(c)));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * raw.size()));
}
BENCHMARK(BM_decompress)->DenseRange(1, 4);

}  // namespace

BENCHMARK_MAIN();
