//! Lexicon validation: `app.bsky.feed.post` records through a validator
//! compiled from the upstream lexicons, and the cost of compiling them.
//!
//! The shared workloads (`../shared/docs/BENCH-WORKLOADS.md`) define no
//! lexicon workload, so this one is defined here: 100,000 varied posts, the
//! same on every run (each post is drawn from a generator seeded with its
//! index). Texts of varying length in several scripts, with emoji (ZWJ
//! sequences, flags, skin tones) and combining marks; facets (mention, link,
//! tag, with byte slices into the text); `langs`; reply refs (strongRef
//! uri + cid); image embeds (alt text, blob refs, aspect ratios) and
//! external embeds (with and without a thumbnail blob). The mix is printed
//! before the timings, and every post is checked to validate first: a bench
//! on records that fail measures error paths, not validation.
//!
//! No peer is measured beside us: the Rust peers (atrium's `atrium-api`,
//! rsky's `rsky-lexicon`) generate typed structs from the lexicons and
//! deserialise into them, but do not validate data against a schema at
//! runtime, so there is nothing equivalent to time.
//!
//! The upstream lexicons are read in place from `ATPROTO_LEXICONS` (else
//! `lexicons/` beside `ATPROTO_INTEROP_TESTS`, else `../shared/lexicons`
//! beside the workspace root), as the atproto-lexicon tests do.
//!
//! Run with `cargo bench --manifest-path benches/Cargo.toml --bench lexicon`.

use std::hint::black_box;
use std::time::Duration;

use atproto_core::data::{BlobRef, Value, dag_cbor_cid, json, raw_cid};
use atproto_lexicon::{Catalog, RecordValidator};
use atproto_repo::workload::{record, tid};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

#[path = "../../atproto-core/tests/it/interop.rs"]
mod interop;

const POST: &str = "app.bsky.feed.post";
/// Posts per timed iteration.
const N: usize = 100_000;
/// Graphemes a post text may hold (`maxGraphemes` of `app.bsky.feed.post`).
/// Texts are kept to this many chars, which bounds graphemes too.
const MAX_CHARS: usize = 300;

/// splitmix64: a small deterministic generator, one per post.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed ^ 0x6c65_7869_636f_6e21)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo)
    }
    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A language a post is written in: its `langs` tags, words (separated by
/// single spaces here), and the separator between words in a post.
struct Lang {
    tags: &'static [&'static str],
    weight: u64,
    sep: &'static str,
    words: &'static str,
}

const LANGS: &[Lang] = &[
    Lang {
        tags: &["en"],
        weight: 55,
        sep: " ",
        words: "just shipped a new release of the validator today coffee first then code \
            reading about protocols and federation really nice weather for a walk \
            anyone else think this is wild lol thread on why schemas matter my cat \
            disagrees with everything I write weekend plans: nothing",
    },
    Lang {
        tags: &["de"],
        weight: 10,
        sep: " ",
        words: "Grüße aus München heute ist schönes Wetter für einen Spaziergang \
            Straßenbahn fährt wieder nicht Käse Brötchen und Kaffee übermorgen \
            Bücher lesen Größe spät",
    },
    Lang {
        tags: &["ja"],
        weight: 10,
        sep: "",
        words: "今日 は いい 天気 です ね 。 新しい リリース を 出しました コーヒー 飲み たい 、 猫 が かわいい プロトコル について 読んで \
            います ！ ありがとう",
    },
    Lang {
        tags: &["pt-BR"],
        weight: 8,
        sep: " ",
        words: "bom dia ação não coração está chovendo em São Paulo café com pão de \
            queijo você já viu isso ótimo",
    },
    Lang {
        tags: &["ru"],
        weight: 7,
        sep: " ",
        words: "Привет мир сегодня хорошая погода новый релиз читаю про протоколы кофе и \
            кот спит весь день",
    },
    Lang {
        tags: &["ar"],
        weight: 5,
        sep: " ",
        words: "مرحبا بالعالم اليوم الطقس جميل قهوة كتاب جديد شكرا على",
    },
    Lang {
        tags: &["en", "fr"],
        weight: 5,
        sep: " ",
        words: "bonjour à tous café crème naïve déjà vu e\u{301}te\u{301} hello from \
            Paris très bien voilà",
    },
];

const EMOJI: &[&str] = &[
    "👍",
    "🎉",
    "😂",
    "🙏🏽",
    "❤️",
    "🇩🇪",
    "🇯🇵",
    "🇧🇷",
    "👨‍👩‍👧‍👦",
    "🏳️‍🌈",
    "🧑🏿‍💻",
    "1️⃣",
    "🦋",
    "☕",
];
const NAMES: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "blog.example.org",
    "news.example.net",
    "docs.example.dev",
    "www.example.co.uk",
];
const PATHS: &[&str] = &["articles", "posts", "2024/11", "watch", "p", "wiki/Lexicon"];
const TAGS: &[&str] = &[
    "rustlang",
    "atproto",
    "photography",
    "日本語",
    "café",
    "100DaysOfCode",
    "bluesky",
];
const MIME: &[&str] = &["image/jpeg", "image/png", "image/webp"];

fn obj(fields: Vec<(&str, Value)>) -> Value {
    Value::Map(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn did(rng: &mut Rng) -> String {
    const B32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut s = String::from("did:plc:");
    for _ in 0..24 {
        s.push(char::from(B32[rng.below(32) as usize]));
    }
    s
}

/// A `com.atproto.repo.strongRef` to post `j` of some account.
fn strong_ref(rng: &mut Rng) -> Value {
    let j = rng.below(1 << 20);
    obj(vec![
        (
            "uri",
            Value::from(format!("at://{}/{POST}/{}", did(rng), tid(j))),
        ),
        (
            "cid",
            Value::from(dag_cbor_cid(&record(&format!("post {j}"))).to_string()),
        ),
    ])
}

fn blob(rng: &mut Rng, max_size: u64) -> Value {
    let bytes = rng.next().to_le_bytes();
    Value::Blob(BlobRef::new(
        raw_cid(&bytes),
        *rng.pick(MIME),
        rng.range(20_000, max_size),
    ))
}

/// Words of `lang`, `count` of them at most and never past `max_chars`.
fn words(rng: &mut Rng, lang: &Lang, count: u64, max_chars: usize) -> String {
    let vocabulary: Vec<&str> = lang.words.split(' ').collect();
    let mut s = String::new();
    let mut chars = 0;
    for _ in 0..count {
        let w = *rng.pick(&vocabulary);
        let add = w.chars().count() + if s.is_empty() { 0 } else { lang.sep.len() };
        if chars + add > max_chars {
            break;
        }
        if !s.is_empty() {
            s.push_str(lang.sep);
        }
        s.push_str(w);
        chars += add;
    }
    s
}

/// What the generated posts hold, printed before the timings.
#[derive(Default, Debug)]
struct Mix {
    facets: usize,
    mentions: usize,
    links: usize,
    tags: usize,
    langs: usize,
    replies: usize,
    images: usize,
    external: usize,
    emoji: usize,
    non_ascii: usize,
    /// Texts longer in bytes than `maxGraphemes`: only these are segmented.
    segmented: usize,
    text_bytes: usize,
    max_text_bytes: usize,
    json_bytes: usize,
}

/// Post `i` of the workload.
fn post(i: u64, mix: &mut Mix) -> Value {
    let mut rng = Rng::new(i);
    let total: u64 = LANGS.iter().map(|l| l.weight).sum();
    let mut roll = rng.below(total);
    let lang = LANGS
        .iter()
        .find(|l| {
            let hit = roll < l.weight;
            roll = roll.saturating_sub(l.weight);
            hit
        })
        .unwrap_or(&LANGS[0]);

    // Text: words, with facet targets spliced in, and sometimes emoji.
    let word_count = match rng.below(100) {
        0..50 => rng.range(2, 12),
        50..85 => rng.range(12, 35),
        _ => rng.range(35, 90),
    };
    let facet_count = if rng.percent(30) { rng.range(1, 4) } else { 0 };
    let mut text = String::new();
    let mut chars = 0;
    let mut facets = Vec::new();
    let chunks = facet_count + 1;
    for chunk in 0..chunks {
        let budget = MAX_CHARS.saturating_sub(chars + 80);
        let part = words(&mut rng, lang, word_count / chunks + 1, budget);
        if !part.is_empty() {
            if !text.is_empty() {
                text.push(' ');
                chars += 1;
            }
            chars += part.chars().count();
            text.push_str(&part);
        }
        if chunk + 1 == chunks {
            break;
        }
        let (piece, feature) = match rng.below(3) {
            0 => {
                mix.mentions += 1;
                let handle = format!("{}{}.bsky.social", rng.pick(NAMES), rng.below(1000));
                let feature = obj(vec![
                    ("$type", Value::from("app.bsky.richtext.facet#mention")),
                    ("did", Value::from(did(&mut rng))),
                ]);
                (format!("@{handle}"), feature)
            }
            1 => {
                mix.links += 1;
                let host = rng.pick(DOMAINS);
                let path = format!("{}/{}", rng.pick(PATHS), rng.below(1_000_000));
                let feature = obj(vec![
                    ("$type", Value::from("app.bsky.richtext.facet#link")),
                    (
                        "uri",
                        Value::from(format!("https://{host}/{path}?ref=bsky")),
                    ),
                ]);
                (format!("{host}/{path}"), feature)
            }
            _ => {
                mix.tags += 1;
                let tag = *rng.pick(TAGS);
                let feature = obj(vec![
                    ("$type", Value::from("app.bsky.richtext.facet#tag")),
                    ("tag", Value::from(tag)),
                ]);
                (format!("#{tag}"), feature)
            }
        };
        if !text.is_empty() {
            text.push(' ');
            chars += 1;
        }
        let start = text.len();
        text.push_str(&piece);
        chars += piece.chars().count();
        facets.push(obj(vec![
            (
                "index",
                obj(vec![
                    ("byteStart", Value::Integer(start as i64)),
                    ("byteEnd", Value::Integer(text.len() as i64)),
                ]),
            ),
            ("features", Value::Array(vec![feature])),
        ]));
    }
    if rng.percent(20) {
        mix.emoji += 1;
        for _ in 0..rng.range(1, 4) {
            let e = *rng.pick(EMOJI);
            if chars + 1 + e.chars().count() > MAX_CHARS {
                break;
            }
            text.push(' ');
            text.push_str(e);
            chars += 1 + e.chars().count();
        }
    }
    assert!(chars <= MAX_CHARS);
    mix.text_bytes += text.len();
    mix.max_text_bytes = mix.max_text_bytes.max(text.len());
    mix.non_ascii += usize::from(!text.is_ascii());
    mix.segmented += usize::from(text.len() > MAX_CHARS);

    // createdAt: one post every 7 seconds from 2024-11-01, with milliseconds.
    let secs = i * 7;
    let created_at = format!(
        "2024-11-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        1 + secs / 86_400,
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60,
        rng.below(1000)
    );

    let mut fields = vec![
        ("$type", Value::from(POST)),
        ("text", Value::from(text)),
        ("createdAt", Value::from(created_at)),
    ];
    if !facets.is_empty() {
        mix.facets += 1;
        fields.push(("facets", Value::Array(facets)));
    }
    if rng.percent(80) {
        mix.langs += 1;
        let langs = lang.tags.iter().map(|t| Value::from(*t)).collect();
        fields.push(("langs", Value::Array(langs)));
    }
    if rng.percent(35) {
        mix.replies += 1;
        let root = strong_ref(&mut rng);
        let parent = if rng.percent(40) {
            root.clone()
        } else {
            strong_ref(&mut rng)
        };
        fields.push(("reply", obj(vec![("root", root), ("parent", parent)])));
    }
    match rng.below(100) {
        0..15 => {
            mix.images += 1;
            let images = (0..rng.range(1, 5))
                .map(|_| {
                    let alt = if rng.percent(70) {
                        let count = rng.range(3, 30);
                        words(&mut rng, lang, count, 200)
                    } else {
                        String::new()
                    };
                    let mut image = vec![
                        ("image", blob(&mut rng, 2_000_000)),
                        ("alt", Value::from(alt)),
                    ];
                    if rng.percent(80) {
                        let ratio = obj(vec![
                            ("width", Value::Integer(rng.range(1, 4000) as i64)),
                            ("height", Value::Integer(rng.range(1, 4000) as i64)),
                        ]);
                        image.push(("aspectRatio", ratio));
                    }
                    obj(image)
                })
                .collect();
            let embed = obj(vec![
                ("$type", Value::from("app.bsky.embed.images")),
                ("images", Value::Array(images)),
            ]);
            fields.push(("embed", embed));
        }
        15..25 => {
            mix.external += 1;
            let mut external = vec![
                (
                    "uri",
                    Value::from(format!(
                        "https://{}/{}/{}",
                        rng.pick(DOMAINS),
                        rng.pick(PATHS),
                        rng.below(1_000_000)
                    )),
                ),
                ("title", Value::from(words(&mut rng, lang, 8, 100))),
                (
                    "description",
                    Value::from(if rng.percent(80) {
                        words(&mut rng, lang, 30, 300)
                    } else {
                        String::new()
                    }),
                ),
            ];
            if rng.percent(60) {
                external.push(("thumb", blob(&mut rng, 1_000_000)));
            }
            let embed = obj(vec![
                ("$type", Value::from("app.bsky.embed.external")),
                ("external", obj(external)),
            ]);
            fields.push(("embed", embed));
        }
        _ => {}
    }
    obj(fields)
}

/// The workload: every post as a value and as ATProto JSON, checked to
/// validate and to read back from its JSON unchanged.
fn posts(validator: RecordValidator<'_>) -> (Vec<Value>, Vec<String>) {
    let mut mix = Mix::default();
    let values: Vec<Value> = (0..N as u64).map(|i| post(i, &mut mix)).collect();
    let texts: Vec<String> = values.iter().map(json::to_string).collect();
    for (i, (v, t)) in values.iter().zip(&texts).enumerate() {
        if let Err(e) = validator.validate(v) {
            panic!("generated post {i} does not validate: {e}\n{t}");
        }
        let back = json::record_from_str(t).expect("generated JSON parses");
        assert_eq!(&back, v, "post {i} does not read back from its JSON");
    }
    mix.json_bytes = texts.iter().map(String::len).sum();
    println!(
        "workload: {N} app.bsky.feed.post records, all valid; {} with facets \
         ({} mentions, {} links, {} tags), {} with langs, {} replies, {} image \
         embeds, {} external embeds, {} with emoji, {} non-ASCII texts, {} texts over 300 bytes \
         (grapheme-counted); text {} bytes mean / {} max; JSON {:.1} MB ({} bytes mean)",
        mix.facets,
        mix.mentions,
        mix.links,
        mix.tags,
        mix.langs,
        mix.replies,
        mix.images,
        mix.external,
        mix.emoji,
        mix.non_ascii,
        mix.segmented,
        mix.text_bytes / N,
        mix.max_text_bytes,
        mix.json_bytes as f64 / 1e6,
        mix.json_bytes / N,
    );
    (values, texts)
}

fn validation(c: &mut Criterion) {
    let catalog = Catalog::from_dir(interop::lexicons_dir()).unwrap_or_else(|e| panic!("{e}"));
    let validator = catalog
        .record(POST)
        .expect("app.bsky.feed.post in the catalog");
    println!(
        "catalog: {} documents, {} defs, {} compiled nodes",
        catalog.docs().len(),
        catalog.def_count(),
        catalog.node_count()
    );
    let (values, texts) = posts(validator);

    let mut g = c.benchmark_group("lexicon app.bsky.feed.post");
    g.throughput(Throughput::Elements(N as u64));
    // Each iteration takes a fraction of a second: ten samples of a few
    // iterations each, rather than criterion's growing sample sizes.
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("validate 100k posts (Value)", |b| {
        b.iter(|| {
            for v in &values {
                assert!(validator.validate(black_box(v)).is_ok());
            }
        })
    });
    g.bench_function("parse+validate 100k posts (JSON)", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(validator.validate_json(black_box(t)).expect("valid post"));
            }
        })
    });
    // The parse alone, so that the share of validation in the line above shows.
    g.bench_function("parse only 100k posts (JSON, no validation)", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(json::record_from_str(black_box(t)).expect("valid JSON"));
            }
        })
    });
    g.finish();
}

fn catalog_build(c: &mut Criterion) {
    let dir = interop::lexicons_dir();
    let mut files = Vec::new();
    collect(&dir, &mut files);
    files.sort();
    let docs: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("readable lexicon"))
        .collect();
    let mut g = c.benchmark_group("lexicon catalog");
    g.sample_size(20);
    g.bench_function(
        format!("Catalog::from_dir (all {} upstream docs)", docs.len()),
        |b| b.iter(|| black_box(Catalog::from_dir(&dir).expect("upstream catalog"))),
    );
    // The same documents already in memory: parsing, checking and compiling
    // without the file reads.
    g.bench_function(
        format!("Catalog::from_strs (same {} docs, in memory)", docs.len()),
        |b| {
            b.iter(|| {
                black_box(
                    Catalog::from_strs(docs.iter().map(String::as_str)).expect("upstream catalog"),
                )
            })
        },
    );
    g.finish();
}

/// Every `*.json` file under `dir`, as `Catalog::from_dir` reads them.
fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable lexicons folder") {
        let path = entry.expect("readable entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

criterion_group!(benches, validation, catalog_build);
criterion_main!(benches);
