//! Scenario 7 of the shared workloads: DAG-CBOR codec and crypto baselines.
//!
//! Run with `cargo bench --manifest-path benches/Cargo.toml --bench core`.

use atproto_benches::{post, record, record_value};
use atproto_core::crypto::{Curve, Keypair};
use atproto_core::data::{cbor, dag_cbor_cid};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sha2::{Digest, Sha256};
use std::hint::black_box;

/// Records per batch: large enough to amortise the loop, small enough to stay in cache.
const BATCH: usize = 10_000;

fn codec(c: &mut Criterion) {
    let values: Vec<_> = (0..BATCH)
        .map(|i| record_value(&format!("post {i}")))
        .collect();
    let posts: Vec<_> = (0..BATCH).map(|i| post(&format!("post {i}"))).collect();
    let encoded: Vec<_> = (0..BATCH).map(|i| record(&format!("post {i}"))).collect();

    let mut g = c.benchmark_group("dag-cbor record (batch of 10k)");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("encode Value", |b| {
        let mut out = Vec::with_capacity(128);
        b.iter(|| {
            for v in &values {
                out.clear();
                cbor::encode_into(v, &mut out);
                black_box(&out);
            }
        })
    });
    g.bench_function("strict decode to Value", |b| {
        b.iter(|| {
            for bytes in &encoded {
                black_box(cbor::decode(bytes).expect("valid record"));
            }
        })
    });
    g.bench_function("encode typed (serde)", |b| {
        b.iter(|| {
            for p in &posts {
                black_box(cbor::to_vec(p).expect("serialisable"));
            }
        })
    });
    g.bench_function("decode typed (serde)", |b| {
        b.iter(|| {
            for bytes in &encoded {
                black_box(cbor::from_slice::<atproto_benches::Post>(bytes).expect("valid record"));
            }
        })
    });
    g.bench_function("cid of encoded record", |b| {
        b.iter(|| {
            for bytes in &encoded {
                black_box(dag_cbor_cid(bytes));
            }
        })
    });
    g.finish();
}

fn sha256(c: &mut Criterion) {
    let mut g = c.benchmark_group("sha256");
    for size in [64usize, 1024, 1 << 20] {
        let data = vec![0xa5u8; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &data, |b, data| {
            b.iter(|| black_box(Sha256::digest(black_box(data))))
        });
    }
    g.finish();
}

fn crypto(c: &mut Criterion) {
    let message = record("post 0");
    let mut g = c.benchmark_group("ecdsa");
    g.throughput(Throughput::Elements(1));
    for curve in [Curve::K256, Curve::P256] {
        let key = Keypair::from_private_bytes(curve, &[7u8; 32]).expect("valid scalar");
        let public = key.public_key();
        let sig = key.sign(&message);
        g.bench_function(BenchmarkId::new("sign", curve), |b| {
            b.iter(|| black_box(key.sign(black_box(&message))))
        });
        g.bench_function(BenchmarkId::new("verify", curve), |b| {
            b.iter(|| {
                public
                    .verify(black_box(&message), &sig)
                    .expect("valid signature")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, codec, sha256, crypto);
criterion_main!(benches);
