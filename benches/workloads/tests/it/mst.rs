use atproto_core::Cid;
use atproto_repo::mst::{EMPTY_TREE_ROOT, Mst};
use atproto_workloads::Workload;
use atproto_workloads::mst::{
    bench_build, bench_writes, build, fresh_entries, insert_root, remove_root,
};

/// The S(10,000) root: `atp bench mst` printed it first, and a separate
/// Python build of the same tree gives it too.
const S10K_ROOT: &str = "bafyreic5cqr43yvwrykhwngfipl3zhs73acj65ehkkkjrhvpuwtdd7luri";

#[test]
fn build_gives_the_known_s10k_root() {
    let (mst, root) = build(&Workload::Sequential.entries(10_000)).expect("build");
    assert_eq!(root.to_string(), S10K_ROOT);
    assert_eq!(mst.iter().count(), 10_000);
}

#[test]
fn build_of_nothing_is_the_empty_tree() {
    let (_, root) = build(&[]).expect("build");
    assert_eq!(root.to_string(), EMPTY_TREE_ROOT);
}

#[test]
fn build_refuses_a_repeated_key() {
    let mut entries = Workload::Random.entries(3);
    entries.push(entries[1].clone());
    let err = build(&entries).expect_err("a key twice");
    assert!(err.to_string().contains("inserted twice"), "{err}");
}

#[test]
fn build_report_prints_what_atp_bench_mst_prints() {
    let report = bench_build(Workload::Random, 500, 3).expect("bench");
    let (mst, root) = build(&Workload::Random.entries(500)).expect("build");
    assert_eq!(report.root, root);
    assert_eq!(report.nodes, mst.node_count().expect("nodes"));
    assert_eq!(report.height, mst.height());
    assert_eq!(report.timings.len(), 3);
    let text = report.to_string();
    let keys: Vec<_> = text
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|kv| kv.0)
        .collect();
    assert_eq!(
        keys,
        [
            "workload",
            "runs",
            "build_ms_best",
            "build_ms_median",
            "inserts_per_s",
            "root",
            "nodes",
            "height"
        ]
    );
    assert!(text.starts_with("workload: R(500)\nruns: 3\n"), "{text}");
    assert!(text.contains(&format!("\nroot: {root}\n")), "{text}");
}

#[test]
fn single_writes_insert_then_remove() {
    let (mut mst, root) = build(&Workload::Sequential.entries(300)).expect("build");
    let (key, cid) = Workload::Sequential.entry(300);
    let with = insert_root(&mut mst, &key, cid).expect("insert");
    assert_ne!(with, root);
    assert_eq!(mst.get(&key).expect("get"), Some(cid));
    assert!(insert_root(&mut mst, &key, cid).is_err(), "not a new key");
    assert_eq!(remove_root(&mut mst, &key).expect("remove"), root);
    assert!(remove_root(&mut mst, &key).is_err(), "not there any more");
}

#[test]
fn fresh_keys_are_new_to_the_tree() {
    let s = fresh_entries(100, Workload::Sequential, 3);
    assert_eq!(s, [100, 101, 102].map(|i| Workload::Sequential.entry(i)));
    assert_eq!(
        fresh_entries(100, Workload::Random, 2),
        Workload::Random.entries(2)
    );
}

#[test]
fn write_report_times_every_write_and_keeps_the_root() {
    for keys in [Workload::Sequential, Workload::Random] {
        let report = bench_writes(1000, keys, 20).expect("bench");
        let (_, root): (Mst, Cid) = build(&Workload::Sequential.entries(1000)).expect("build");
        assert_eq!(report.root, root);
        assert_eq!((report.insert.len(), report.remove.len()), (20, 20));
        let text = report.to_string();
        assert!(
            text.starts_with(&format!(
                "tree: S(1000)\nkeys: {}\nwrites: 20\n",
                keys.letter()
            )),
            "{text}"
        );
        for field in [
            "insert_us_median: ",
            "insert_us_p99: ",
            "remove_us_median: ",
            "remove_us_p99: ",
        ] {
            assert!(text.contains(field), "{field} missing in {text}");
        }
        assert!(text.ends_with(&format!("root: {root}")), "{text}");
    }
}
