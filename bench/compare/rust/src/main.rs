//! kafka-protocol on the comparison's workloads.
//!
//!   kwire-compare-rust check DIR          decode, re-encode, compare with the input
//!   kwire-compare-rust bench DIR OUT.json [--quick]
//!
//! `bench` times decode and encode of every row with criterion and counts the
//! allocations of one operation through a counting global allocator (outside
//! timing); it writes one JSON object per measurement to OUT.json.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::Criterion;
use kafka_protocol::messages::{
    ApiVersionsResponse, FetchResponse, JoinGroupResponse, MetadataResponse, OffsetCommitRequest,
    ProduceRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(l.size() as u64, Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(n as u64, Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// One row's decoder and encoder over a decoded value of any type.
enum Decoded {
    Produce(ProduceRequest),
    Fetch(FetchResponse),
    Metadata(MetadataResponse),
    OffsetCommit(OffsetCommitRequest),
    JoinGroup(JoinGroupResponse),
    ApiVersions(ApiVersionsResponse),
    Records(Vec<Record>),
}

fn decode(message: &str, version: i16, input: &Bytes) -> Decoded {
    let mut b = input.clone();
    match message {
        "ProduceRequest" => Decoded::Produce(ProduceRequest::decode(&mut b, version).unwrap()),
        "FetchResponse" => Decoded::Fetch(FetchResponse::decode(&mut b, version).unwrap()),
        "MetadataResponse" => Decoded::Metadata(MetadataResponse::decode(&mut b, version).unwrap()),
        "OffsetCommitRequest" => {
            Decoded::OffsetCommit(OffsetCommitRequest::decode(&mut b, version).unwrap())
        }
        "JoinGroupResponse" => Decoded::JoinGroup(JoinGroupResponse::decode(&mut b, version).unwrap()),
        "ApiVersionsResponse" => {
            Decoded::ApiVersions(ApiVersionsResponse::decode(&mut b, version).unwrap())
        }
        // The decoder checks the CRC-32C and returns every record of the batch.
        "RecordBatch" => Decoded::Records(RecordBatchDecoder::decode(&mut b).unwrap().records),
        _ => panic!("unknown message {message}"),
    }
}

fn encode(d: &Decoded, version: i16, out: &mut BytesMut) {
    out.clear();
    match d {
        Decoded::Produce(m) => m.encode(out, version).unwrap(),
        Decoded::Fetch(m) => m.encode(out, version).unwrap(),
        Decoded::Metadata(m) => m.encode(out, version).unwrap(),
        Decoded::OffsetCommit(m) => m.encode(out, version).unwrap(),
        Decoded::JoinGroup(m) => m.encode(out, version).unwrap(),
        Decoded::ApiVersions(m) => m.encode(out, version).unwrap(),
        Decoded::Records(r) => RecordBatchEncoder::encode(
            out,
            r.iter(),
            &RecordEncodeOptions { version: 2, compression: Compression::None },
        )
        .unwrap(),
    }
}

struct Row {
    name: String,
    message: String,
    version: i16,
    input: Bytes,
}

fn rows(dir: &str) -> Vec<Row> {
    let tsv = std::fs::read_to_string(format!("{dir}/rows.tsv")).unwrap();
    tsv.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Row {
                name: f[0].to_string(),
                message: f[1].to_string(),
                version: f[2].parse().unwrap(),
                input: Bytes::from(std::fs::read(format!("{dir}/{}.bin", f[0])).unwrap()),
            }
        })
        .collect()
}

fn counted<F: FnMut()>(mut f: F) -> (f64, f64) {
    const N: u64 = 10;
    let (a0, b0) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    for _ in 0..N {
        f();
    }
    let (a1, b1) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    ((a1 - a0) as f64 / N as f64, (b1 - b0) as f64 / N as f64)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = &args[2];
    match args[1].as_str() {
        "check" => {
            for r in rows(dir) {
                let d = decode(&r.message, r.version, &r.input);
                let mut out = BytesMut::new();
                encode(&d, r.version, &mut out);
                let verdict = if out[..] == r.input[..] {
                    "ok".to_string()
                } else {
                    let at = out.iter().zip(r.input.iter()).position(|(a, b)| a != b);
                    format!("MISMATCH {} bytes vs {}, first difference at {:?}", out.len(), r.input.len(), at)
                };
                println!("rust\t{}\t{}", r.name, verdict);
            }
        }
        "bench" => {
            let quick = args.iter().any(|a| a == "--quick");
            let mut c = Criterion::default().without_plots();
            c = if quick {
                c.warm_up_time(Duration::from_millis(20))
                    .measurement_time(Duration::from_millis(100))
                    .sample_size(10)
            } else {
                c.warm_up_time(Duration::from_secs(1))
                    .measurement_time(Duration::from_secs(3))
                    .sample_size(30)
            };
            let mut results = Vec::new();
            for r in rows(dir) {
                let mut out = BytesMut::with_capacity(r.input.len() + 4096);
                let d = decode(&r.message, r.version, &r.input);
                for op in ["decode", "encode"] {
                    let id = format!("{op}/{}", r.name);
                    let (allocs, bytes) = if op == "decode" {
                        c.bench_function(&id, |b| {
                            b.iter(|| black_box(decode(&r.message, r.version, black_box(&r.input))))
                        });
                        counted(|| {
                            black_box(decode(&r.message, r.version, &r.input));
                        })
                    } else {
                        c.bench_function(&id, |b| {
                            b.iter(|| {
                                encode(black_box(&d), r.version, &mut out);
                                black_box(out.len())
                            })
                        });
                        counted(|| encode(&d, r.version, &mut out))
                    };
                    results.push(serde_json::json!({
                        "codec": "rust", "row": r.name, "op": op,
                        "allocs_per_op": allocs, "bytes_per_op": bytes,
                    }));
                }
            }
            std::fs::write(&args[3], serde_json::to_string_pretty(&results).unwrap()).unwrap();
        }
        other => panic!("unknown command {other}"),
    }
}
