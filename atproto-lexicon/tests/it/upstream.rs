//! Every upstream lexicon document parses, passes the document rules, and
//! all of them together resolve every reference.

use atproto_lexicon::{LexiconDoc, json_files};

#[test]
fn every_upstream_document_checks() {
    let files = json_files(crate::interop::lexicons_dir()).unwrap();
    assert!(
        files.len() >= 400,
        "only {} lexicon files found",
        files.len()
    );
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        str::parse::<LexiconDoc>(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
    println!("upstream lexicons: {} documents", files.len());
}

#[test]
fn upstream_catalog_resolves() {
    let c = crate::upstream_catalog();
    assert!(c.docs().len() >= 400);
    assert!(c.record("app.bsky.feed.post").is_ok());
    assert!(c.query("app.bsky.feed.getTimeline").is_ok());
    assert!(c.procedure("com.atproto.repo.createRecord").is_ok());
    assert!(c.subscription("com.atproto.sync.subscribeRepos").is_ok());
    println!(
        "upstream catalog: {} documents, {} defs, {} nodes",
        c.docs().len(),
        c.def_count(),
        c.node_count()
    );
}
