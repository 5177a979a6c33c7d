//! Timing: read and verify a CAR of 100,000 blocks of ~100 bytes held in
//! memory, next to raw SHA-256 over the same block bytes.
//!
//! `cargo run --release -p atproto-repo --example car_read`

use std::hint::black_box;
use std::time::Duration;

use atproto_core::data::dag_cbor_cid;
use atproto_repo::car::{CarLimits, CarReader, CarStreamReader, CarWriter, load_car};
use atproto_workloads::timing::{mb_per_s, ms, repeat, time};
use bytes::Bytes;
use sha2::{Digest, Sha256};

const BLOCKS: usize = 100_000;
const ROUNDS: usize = 20;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The best of `ROUNDS` timings of `f`.
fn best<F: FnMut() -> Result<()>>(f: F) -> Result<Duration> {
    Ok(repeat(ROUNDS, f)?.0.best())
}

fn main() -> Result<()> {
    // Blocks of 90–110 bytes, distinct content, dag-cbor CIDs.
    let blocks: Vec<Vec<u8>> = (0..BLOCKS)
        .map(|i| {
            let len = 90 + i % 21;
            let mut b = format!("block {i} ").into_bytes();
            b.resize(len, (i % 251) as u8);
            b
        })
        .collect();
    let cids: Vec<_> = blocks.iter().map(|b| dag_cbor_cid(b)).collect();
    let mut writer = CarWriter::new(Vec::new(), &cids[..1])?;
    let (written, write_time) = time(|| -> Result<()> {
        for (cid, block) in cids.iter().zip(&blocks) {
            writer.write_block(cid, block)?;
        }
        Ok(())
    });
    written?;
    let car = Bytes::from(writer.finish());
    let block_bytes: usize = blocks.iter().map(Vec::len).sum();

    // Check once that everything comes back.
    let loaded = load_car(car.clone(), CarLimits::DEFAULT)?;
    assert_eq!(loaded.blocks.len(), BLOCKS);

    let read = best(|| {
        let mut n = 0;
        let mut reader = CarReader::new(car.clone())?;
        while let Some((cid, block)) = reader.next_block()? {
            black_box((cid, block));
            n += 1;
        }
        assert_eq!(n, BLOCKS);
        Ok(())
    })?;
    let stream = best(|| {
        let mut n = 0;
        for block in CarStreamReader::new(&car[..])? {
            black_box(block?);
            n += 1;
        }
        assert_eq!(n, BLOCKS);
        Ok(())
    })?;
    let load = best(|| {
        black_box(load_car(car.clone(), CarLimits::DEFAULT)?);
        Ok(())
    })?;
    let sha = best(|| {
        for b in &blocks {
            black_box(Sha256::digest(black_box(b)));
        }
        Ok(())
    })?;

    println!(
        "CAR: {} blocks, {} block bytes, {} CAR bytes (written in {:.1} ms)",
        BLOCKS,
        block_bytes,
        car.len(),
        ms(write_time)
    );
    println!(
        "CarReader (slice, verify):      {:>7.2} ms  {:>7.0} MB/s of CAR",
        ms(read),
        mb_per_s(car.len(), read)
    );
    println!(
        "CarStreamReader (io::Read):     {:>7.2} ms  {:>7.0} MB/s of CAR",
        ms(stream),
        mb_per_s(car.len(), stream)
    );
    println!(
        "load_car (into BTreeMap):       {:>7.2} ms  {:>7.0} MB/s of CAR",
        ms(load),
        mb_per_s(car.len(), load)
    );
    println!(
        "raw SHA-256 over the blocks:    {:>7.2} ms  {:>7.0} MB/s of CAR-equivalent ({:.0} MB/s of block bytes)",
        ms(sha),
        mb_per_s(car.len(), sha),
        mb_per_s(block_bytes, sha)
    );
    println!(
        "reader / raw SHA-256 time:      {:.2}x",
        read.as_secs_f64() / sha.as_secs_f64()
    );
    Ok(())
}
