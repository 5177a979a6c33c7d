//! Validating many records reuses the compiled catalog: after one lookup,
//! validation does no parsing, no name resolution and no allocation at all.

use atproto_core::Value;
use atproto_core::data::json;

/// Post `i` of a varied set: plain text of varying length (ASCII, accents,
/// emoji), and in turn languages, a reply, mention/link/tag facets, an
/// image embed with blobs, an external link card, a quote.
pub fn post(i: u64) -> Value {
    const CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";
    const BLOB: &str = "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy";
    let uri = format!("at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3k{i:011}");
    let text = match i % 4 {
        0 => format!("post {i}"),
        1 => format!("café crème n°{i} — déjà vu ✨"),
        2 => format!("{} {i}", "🐈‍⬛".repeat(20)),
        _ => format!("hello @alice.bsky.social see https://example.com/{i} #rust"),
    };
    let mut fields = vec![
        r#""$type":"app.bsky.feed.post""#.to_string(),
        format!(r#""text":{}"#, serde_json::to_string(&text).unwrap()),
        r#""createdAt":"2024-05-01T12:00:00.000Z""#.to_string(),
    ];
    match i % 6 {
        1 => fields.push(r#""langs":["en","fr-CA"]"#.into()),
        2 => fields.push(format!(
            r#""reply":{{"root":{{"uri":"{uri}","cid":"{CID}"}},"parent":{{"uri":"{uri}","cid":"{CID}"}}}}"#
        )),
        3 if i % 4 == 3 => fields.push(
            r#""facets":[
              {"index":{"byteStart":6,"byteEnd":24},"features":[{"$type":"app.bsky.richtext.facet#mention","did":"did:plc:z72i7hdynmk6r22z27h6tvur"}]},
              {"index":{"byteStart":29,"byteEnd":49},"features":[{"$type":"app.bsky.richtext.facet#link","uri":"https://example.com/"}]},
              {"index":{"byteStart":50,"byteEnd":55},"features":[{"$type":"app.bsky.richtext.facet#tag","tag":"rust"}]}]"#
                .into(),
        ),
        4 => fields.push(format!(
            r#""embed":{{"$type":"app.bsky.embed.images","images":[
              {{"alt":"a cat","image":{{"$type":"blob","ref":{{"$link":"{BLOB}"}},"mimeType":"image/jpeg","size":123456}},"aspectRatio":{{"width":4,"height":3}}}},
              {{"alt":"","image":{{"$type":"blob","ref":{{"$link":"{BLOB}"}},"mimeType":"image/png","size":999}}}}]}}"#
        )),
        5 => fields.push(format!(
            r#""embed":{{"$type":"app.bsky.embed.external","external":{{"uri":"https://example.com/{i}","title":"A page","description":"What it says"}}}}"#
        )),
        _ => fields.push(format!(
            r#""embed":{{"$type":"app.bsky.embed.record","record":{{"uri":"{uri}","cid":"{CID}"}}}}"#
        )),
    }
    json::record_from_str(&format!("{{{}}}", fields.join(","))).unwrap()
}

#[test]
fn validating_100k_posts_reuses_the_compiled_catalog() {
    let catalog = crate::upstream_catalog();
    let posts: Vec<Value> = (0..100_000).map(post).collect();
    // One lookup; the handle is `Copy` and validates through `&self`.
    let validator = catalog.record("app.bsky.feed.post").unwrap();
    for p in &posts[..12] {
        validator
            .validate(p)
            .unwrap_or_else(|e| panic!("{e}: {p:?}"));
    }
    let info = allocation_counter::measure(|| {
        for p in &posts {
            // Errors would allocate (their path), so count them instead.
            assert!(validator.validate(p).is_ok());
        }
    });
    assert_eq!(
        info.count_total, 0,
        "validating 100,000 posts allocated {} times ({} bytes)",
        info.count_total, info.bytes_total
    );

    // The counter sees allocations: a failure builds its error path.
    let mut bad = posts[4].clone();
    if let Value::Map(m) = &mut bad {
        m.insert("text".into(), Value::from("x".repeat(3001)));
    }
    let info = allocation_counter::measure(|| {
        let e = validator.validate(&bad).unwrap_err();
        assert_eq!(e.to_string(), "/text: string too long (3001 > 3000 bytes)");
    });
    assert!(info.count_total > 0);
}
