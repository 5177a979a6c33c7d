//! The `bundled` feature: the embedded upstream documents compile, validate
//! records and XRPC bodies, and are exactly the vendored folder's documents
//! of the bundled namespaces (so the generated list cannot go stale).

use atproto_core::Value;
use atproto_core::data::json;
use atproto_lexicon::bundled::{self, NAMESPACES};
use atproto_lexicon::{LexiconDoc, ValidationErrorKind as K, json_files};

/// The namespace a document path (`app/bsky/feed/post.json`) is in, if bundled.
fn bundled_namespace(path: &str) -> Option<&'static str> {
    NAMESPACES
        .into_iter()
        .find(|ns| path.starts_with(&format!("{}/", ns.replace('.', "/"))))
}

#[test]
fn every_bundled_document_compiles() {
    let docs = bundled::documents();
    assert!(docs.len() >= 390, "only {} bundled documents", docs.len());
    for d in docs {
        let doc: LexiconDoc = d.json.parse().unwrap_or_else(|e| panic!("{}: {e}", d.path));
        let id = doc.id.as_str();
        assert_eq!(
            format!("{}.json", id.replace('.', "/")),
            d.path,
            "a document's path follows its id"
        );
        assert!(
            bundled_namespace(d.path).is_some(),
            "{id} is outside the bundled namespaces"
        );
    }
    for ns in NAMESPACES {
        let n = docs
            .iter()
            .filter(|d| bundled_namespace(d.path) == Some(ns))
            .count();
        assert!(n >= 50, "only {n} documents in {ns}");
    }
    let built = bundled::build().unwrap();
    assert_eq!(built.docs().len(), docs.len());
    let c = bundled::catalog();
    assert_eq!(c.docs().len(), docs.len());
    assert_eq!(c.node_count(), built.node_count());
    assert!(c.query("app.bsky.feed.getTimeline").is_ok());
    assert!(c.query("chat.bsky.convo.listConvos").is_ok());
    assert!(c.procedure("tools.ozone.moderation.emitEvent").is_ok());
    assert!(c.subscription("com.atproto.sync.subscribeRepos").is_ok());
    // Documents of the vendored folder outside the bundled namespaces are not in.
    assert!(c.doc("site.standard.document").is_none());
}

/// Compiled once: every call, from any thread, gets the same catalog.
#[test]
fn catalog_is_built_once_and_shared() {
    let first: *const _ = bundled::catalog();
    let others: Vec<usize> = (0..4)
        .map(|_| std::thread::spawn(|| bundled::catalog() as *const _ as usize))
        .map(|t| t.join().unwrap())
        .collect();
    assert!(others.iter().all(|p| *p == first as usize));
    assert!(std::ptr::eq(first, bundled::catalog()));
}

#[test]
fn bundled_documents_equal_the_vendored_folder() {
    let dir = crate::interop::lexicons_dir();
    let mut on_disk: Vec<(String, String)> = json_files(&dir)
        .unwrap()
        .into_iter()
        .filter_map(|f| {
            let rel = f.strip_prefix(&dir).unwrap();
            let rel: Vec<&str> = rel.iter().map(|c| c.to_str().unwrap()).collect();
            let rel = rel.join("/");
            bundled_namespace(&rel)?;
            Some((rel, std::fs::read_to_string(&f).unwrap()))
        })
        .collect();
    on_disk.sort();
    let mut bundled: Vec<(String, String)> = bundled::documents()
        .iter()
        .map(|d| (d.path.to_owned(), d.json.to_owned()))
        .collect();
    bundled.sort();
    let paths = |v: &[(String, String)]| v.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(
        paths(&bundled),
        paths(&on_disk),
        "the bundled list differs from atproto-lexicon/lexicons: run scripts/refresh-vendored.sh"
    );
    for ((path, bundled), (_, disk)) in bundled.iter().zip(&on_disk) {
        assert!(
            bundled == disk,
            "{path}: bundled text differs from the file"
        );
    }
    // The folder holds other namespaces too; they stay out.
    assert!(json_files(&dir).unwrap().len() > on_disk.len());
}

#[test]
fn records_validate_through_the_bundled_catalog() {
    for nsid in [
        "app.bsky.feed.post",
        "app.bsky.feed.like",
        "app.bsky.graph.follow",
        "app.bsky.actor.profile",
    ] {
        crate::records::run_with(bundled::catalog(), nsid);
    }
    let c = bundled::catalog();
    let like = json::record_from_str(
        r#"{"$type": "app.bsky.feed.like", "createdAt": "2024-11-05T18:31:59.123Z",
            "subject": {"uri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3k43tv4rft22g",
                        "cid": "bafyreihamwexbxhceg5il5qgwy7ogmwuvfjtyi3nrsb4snf4f3m52qdlbq"}}"#,
    )
    .unwrap();
    c.validate_record(&like).unwrap();
    let err = c
        .record("app.bsky.graph.follow")
        .unwrap()
        .validate_json(r#"{"$type": "app.bsky.graph.follow", "subject": "not a did", "createdAt": "2024-11-05T18:31:59Z"}"#)
        .unwrap_err();
    assert_eq!(err.to_string().split(':').next(), Some("/subject"), "{err}");
}

#[test]
fn xrpc_params_and_bodies_through_the_bundled_catalog() {
    let c = bundled::catalog();
    // A query's parameters: coerced from strings, defaults filled in.
    let q = c.query("app.bsky.feed.getAuthorFeed").unwrap();
    let params = q
        .validate_params(&[("actor", "alice.bsky.social"), ("limit", "30")])
        .unwrap();
    assert_eq!(params.get("limit"), Some(&Value::Integer(30)));
    assert_eq!(
        params.get("filter").and_then(Value::as_str),
        Some("posts_with_replies")
    );
    let err = q
        .validate_params(&[("actor", "alice.bsky.social"), ("limit", "0")])
        .unwrap_err();
    assert_eq!(err.path(), "/limit");
    assert_eq!(
        err.kind(),
        &K::IntegerTooSmall {
            value: 0,
            minimum: 1
        }
    );
    assert_eq!(
        q.validate_params(&[]).unwrap_err().kind(),
        &K::MissingRequired
    );

    // A procedure's input and output bodies.
    let p = c.procedure("com.atproto.repo.createRecord").unwrap();
    let input = json::from_str(
        r#"{"repo": "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "collection": "app.bsky.feed.post",
            "record": {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2024-05-01T12:00:00Z"}}"#,
    )
    .unwrap();
    p.validate_input(&input).unwrap();
    let bad = json::from_str(r#"{"repo": "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "collection": "not an nsid", "record": {}}"#).unwrap();
    assert_eq!(p.validate_input(&bad).unwrap_err().path(), "/collection");
    let output = json::from_str(
        r#"{"uri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3k43tv4rft22g",
            "cid": "bafyreihamwexbxhceg5il5qgwy7ogmwuvfjtyi3nrsb4snf4f3m52qdlbq"}"#,
    )
    .unwrap();
    p.validate_output(&output).unwrap();
    let missing =
        json::from_str(r#"{"cid": "bafyreihamwexbxhceg5il5qgwy7ogmwuvfjtyi3nrsb4snf4f3m52qdlbq"}"#)
            .unwrap();
    let err = p.validate_output(&missing).unwrap_err();
    assert_eq!((err.path(), err.kind()), ("/uri", &K::MissingRequired));
}
