use std::time::Duration;

use atproto_workloads::timing::{Timings, mb_per_s, ms, repeat, time, us};

fn millis(ms: &[u64]) -> Timings {
    Timings::from_samples(ms.iter().map(|&m| Duration::from_millis(m)).collect())
}

#[test]
fn summary_of_runs() {
    let t = millis(&[50, 10, 40, 20, 30]);
    assert_eq!(t.len(), 5);
    assert_eq!(t.best(), Duration::from_millis(10));
    assert_eq!(t.median(), Duration::from_millis(30));
    assert_eq!(t.quantile(1.0), Duration::from_millis(50));
    assert_eq!(t.total(), Duration::from_millis(150));
    // 1000 operations per 30 ms run.
    assert!((t.rate(1000) - 1000.0 / 0.030).abs() < 1e-6);
}

#[test]
fn quantiles_use_the_nearest_rank_below() {
    let t = Timings::from_samples((1..=1000).map(Duration::from_micros).collect());
    assert_eq!(t.median(), Duration::from_micros(501));
    assert_eq!(t.quantile(0.99), Duration::from_micros(991));
    assert_eq!(t.quantile(7.0), Duration::from_micros(1000), "q is clamped");
    assert_eq!(t.quantile(-1.0), Duration::from_micros(1));
    // An even count: the upper middle run.
    assert_eq!(millis(&[1, 2, 3, 4]).median(), Duration::from_millis(3));
}

#[test]
fn nothing_timed_is_zero() {
    let t = Timings::from_samples(Vec::new());
    assert!(t.is_empty());
    assert_eq!((t.best(), t.median()), (Duration::ZERO, Duration::ZERO));
    assert_eq!(t.rate(10), 0.0);
}

#[test]
fn repeat_runs_at_least_once_and_keeps_the_last_output() {
    let mut calls = 0;
    let (t, last) = repeat(4, || {
        calls += 1;
        Ok::<_, ()>(calls)
    })
    .expect("no error");
    assert_eq!((t.len(), last, calls), (4, 4, 4));

    let (t, _) = repeat(0, || Ok::<_, ()>(())).expect("no error");
    assert_eq!(t.len(), 1, "zero runs still time one");
}

#[test]
fn repeat_stops_at_the_first_error() {
    let mut calls = 0;
    let result = repeat(5, || {
        calls += 1;
        if calls == 2 {
            Err("second run failed")
        } else {
            Ok(())
        }
    });
    assert_eq!(result, Err("second run failed"));
    assert_eq!(calls, 2);
}

#[test]
fn time_measures_the_call() {
    let (out, elapsed) = time(|| {
        std::thread::sleep(Duration::from_millis(5));
        7
    });
    assert_eq!(out, 7);
    assert!(elapsed >= Duration::from_millis(5));
}

#[test]
fn units() {
    assert_eq!(ms(Duration::from_micros(1500)), 1.5);
    assert_eq!(us(Duration::from_nanos(2500)), 2.5);
    assert_eq!(mb_per_s(3_000_000, Duration::from_secs(2)), 1.5);
    assert_eq!(mb_per_s(1, Duration::ZERO), 0.0);
}
