//! `json_files`: the one recursive walk over a folder of documents.

use std::error::Error as _;
use std::path::PathBuf;

use atproto_lexicon::{Catalog, LexiconError, json_files};

/// A fresh temporary directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("atproto-lexicon-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn lists_json_files_recursively_in_path_order() {
    let dir = temp_dir("walk");
    for rel in [
        "b.json",
        "a/z.json",
        "a/deep/er/x.json",
        "a/notes.txt",
        "a/upper.JSON",
        "c.json.bak",
        "empty/.keep",
        "a-b/y.json",
    ] {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{}").unwrap();
    }
    // A directory named like a document is walked into, not listed.
    std::fs::create_dir_all(dir.join("d.json/inner")).unwrap();
    std::fs::write(dir.join("d.json/inner/w.json"), "{}").unwrap();

    let found = json_files(&dir).unwrap();
    let rel: Vec<String> = found
        .iter()
        .map(|p| {
            p.strip_prefix(&dir)
                .unwrap()
                .to_str()
                .unwrap()
                .replace('\\', "/")
        })
        .collect();
    assert_eq!(
        rel,
        [
            "a/deep/er/x.json",
            "a/z.json",
            "a-b/y.json",
            "b.json",
            "d.json/inner/w.json"
        ]
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_missing_directory_is_a_typed_error_with_its_cause() {
    let dir = temp_dir("missing").join("no-such-dir");
    let err = json_files(&dir).unwrap_err();
    assert_eq!(err.path(), dir);
    assert_eq!(err.io_error().kind(), std::io::ErrorKind::NotFound);
    assert!(
        err.to_string()
            .starts_with(&format!("cannot read directory {}: ", dir.display())),
        "{err}"
    );
    let source = err.source().expect("the I/O error is the source");
    assert!(source.downcast_ref::<std::io::Error>().is_some());

    // Through the catalog it stays an I/O error with its source.
    let err = Catalog::from_dir(&dir).unwrap_err();
    match &err {
        LexiconError::Io { path, error } => {
            assert_eq!(path, &dir);
            assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert!(err.source().is_some_and(|s| s.is::<std::io::Error>()));
}
