//! Timing: repository export, load + full verify, and commit proofs on the
//! S(100,000) workload of the benchmark notes (scenarios 3, 4 and 5).
//!
//! `cargo run --release -p atproto-repo --example repo_bench`

use std::hint::black_box;
use std::time::Duration;

use atproto_core::syntax::{Did, Nsid, RecordKey};
use atproto_repo::repo::{RecordValue, RecordWrite, Repo, verify_car, verify_car_unsigned};
use atproto_repo::sync::verify_commit_proof;
use atproto_repo::{MemoryBlockStore, mst::EMPTY_TREE_ROOT};
use atproto_workloads::timing::{mb_per_s, ms, repeat, time, us};
use atproto_workloads::{self as workload, tid};
use bytes::Bytes;
use sha2::{Digest, Sha256};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const N: u64 = 100_000;
const NOW: u64 = 1_800_000_000_000_000;

fn record(text: &str) -> Bytes {
    Bytes::from(workload::record(text))
}

fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "n/a".into())
}

/// Scenario 4 alone, in a fresh process, so that peak RSS is the verifier's.
fn verify_only(path: &str) -> Result<()> {
    let car = Bytes::from(std::fs::read(path)?);
    let before = vm_hwm();
    let v = verify_car_unsigned(car.clone(), None)?;
    println!(
        "  [child] peak RSS: {} after reading the {:.1} MB CAR, {} after verify_car",
        before,
        car.len() as f64 / 1e6,
        vm_hwm()
    );
    black_box(v);
    Ok(())
}

/// Scenario 4 repeated `rounds` times on a CAR file, for profilers
/// (`--verify-loop FILE ROUNDS`; `REPO_BENCH_SAVE=FILE` keeps the S(100k)
/// CAR of a normal run).
fn verify_loop(path: &str, rounds: usize) -> Result<()> {
    let car = Bytes::from(std::fs::read(path)?);
    let (t, _) = repeat(rounds, || -> Result<()> {
        black_box(verify_car_unsigned(car.clone(), None)?);
        Ok(())
    })?;
    println!(
        "load+verify best of {rounds}: {:.2} ms, {:.0} MB/s",
        ms(t.best()),
        mb_per_s(car.len(), t.best())
    );
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == "--verify-only" {
        return verify_only(&args[2]);
    }
    if args.len() == 4 && args[1] == "--verify-loop" {
        return verify_loop(&args[2], args[3].parse()?);
    }
    let key = workload::bench_keypair()?;
    let did: Did = "did:plc:benchbenchbenchbenchbenc".parse()?;
    let coll: Nsid = "app.bsky.feed.post".parse()?;
    let writes: Vec<RecordWrite> = (0..N)
        .map(|i| -> Result<RecordWrite> {
            Ok(RecordWrite::Create {
                collection: coll.clone(),
                rkey: RecordKey::try_from(tid(i).as_str())?,
                value: RecordValue::Cbor(record(&format!("post {i}"))),
            })
        })
        .collect::<Result<_>>()?;

    let (created, t) =
        time(|| Repo::create_at(MemoryBlockStore::new(), did.clone(), &key, &writes, NOW));
    let (mut repo, first) = created?;
    println!(
        "S(100k) repo create: {:.1} ms, data {} commit {}",
        ms(t),
        first.data,
        first.cid
    );

    // Scenario 3: export.
    let mut car = Vec::new();
    let export = repeat(5, || -> Result<()> {
        car = repo.export_car(Vec::with_capacity(24 << 20))?;
        Ok(())
    })?
    .0
    .best();
    let car = Bytes::from(car);
    println!(
        "scenario 3  export S(100k) CAR: {:.2} ms, {:.1} MB ({:.0} MB/s)",
        ms(export),
        car.len() as f64 / 1e6,
        mb_per_s(car.len(), export)
    );

    // Scenario 4: load + full verify.
    let pk = key.public_key();
    let v = verify_car(car.clone(), Some(&did), &pk)?;
    assert_eq!(v.record_count() as u64, N);
    assert_eq!(v.commit.data, repo.data_root());
    let verify = repeat(10, || -> Result<()> {
        black_box(verify_car(car.clone(), Some(&did), &pk)?);
        Ok(())
    })?
    .0
    .best();
    let sha = repeat(10, || -> Result<()> {
        let mut h = Sha256::new();
        h.update(&car);
        black_box(h.finalize());
        Ok(())
    })?
    .0
    .best();
    println!(
        "scenario 4  load+verify: {:.2} ms, {:.0} MB/s; raw SHA-256 {:.2} ms, {:.0} MB/s (ratio {:.2}); {} records, {} nodes, {} blocks; data {}",
        ms(verify),
        mb_per_s(car.len(), verify),
        ms(sha),
        mb_per_s(car.len(), sha),
        sha.as_secs_f64() / verify.as_secs_f64(),
        v.record_count(),
        v.node_count,
        v.block_count,
        v.commit.data
    );
    let path = std::env::temp_dir().join("atproto-repo-bench-s100k.car");
    std::fs::write(&path, &car)?;
    if let Some(keep) = std::env::var_os("REPO_BENCH_SAVE") {
        std::fs::write(keep, &car)?;
    }
    let status = std::process::Command::new(std::env::current_exe()?)
        .arg("--verify-only")
        .arg(&path)
        .status()?;
    let _ = std::fs::remove_file(&path);
    if !status.success() {
        return Err("child verify failed".into());
    }

    // Scenario 5: commit proofs, batches of 1, 10, 200 writes (half new
    // records, half updates of existing ones).
    let mut next = N;
    let mut now = NOW + 1;
    for batch in [1usize, 10, 200] {
        let rounds = if batch == 200 { 50 } else { 300 };
        let (mut produce, mut check) = (Duration::ZERO, Duration::ZERO);
        let mut last_root = repo.data_root();
        for r in 0..rounds {
            let ws: Vec<RecordWrite> = (0..batch)
                .map(|j| -> Result<RecordWrite> {
                    let value = RecordValue::Cbor(record(&format!("edit {r} {j}")));
                    Ok(if j % 2 == 0 {
                        next += 1;
                        RecordWrite::Create {
                            collection: coll.clone(),
                            rkey: RecordKey::try_from(tid(next).as_str())?,
                            value,
                        }
                    } else {
                        RecordWrite::Update {
                            collection: coll.clone(),
                            rkey: RecordKey::try_from(
                                tid((r * batch + j) as u64 * 37 % N).as_str(),
                            )?,
                            value,
                        }
                    })
                })
                .collect::<Result<_>>()?;
            now += 1000;
            let (committed, t) = time(|| -> Result<_> {
                let data = repo.apply_writes_at(&ws, &key, now)?;
                let slice = Bytes::from(data.car_slice()?);
                Ok((data, slice))
            });
            let (data, slice) = committed?;
            produce += t;
            let prev = data
                .prev_data
                .unwrap_or_else(|| EMPTY_TREE_ROOT.parse().unwrap_or(data.data));
            let (verified, t) =
                time(|| verify_commit_proof(slice, &data.ops, &prev, &did, &pk).map(black_box));
            verified?;
            check += t;
            last_root = data.data;
        }
        println!(
            "scenario 5  batch {batch:>3}: apply+slice {:.1} µs, verify by inversion {:.1} µs per commit; root {last_root}",
            us(produce) / rounds as f64,
            us(check) / rounds as f64,
        );
    }
    Ok(())
}
