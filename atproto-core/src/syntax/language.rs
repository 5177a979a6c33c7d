//! [`Language`]: a BCP 47 (RFC 5646) language tag.

use alloc::string::String;

use super::error::{Reason, SyntaxError, SyntaxKind, check_len};

const KIND: SyntaxKind = SyntaxKind::Language;

/// Longest accepted language tag, in bytes. RFC 5646 sets no limit; real
/// tags are far shorter than this.
pub const MAX_LANGUAGE_LEN: usize = 256;

/// RFC 5646 grandfathered tags (irregular and regular), matched case-insensitively.
const GRANDFATHERED: &[&str] = &[
    "en-GB-oed",
    "i-ami",
    "i-bnn",
    "i-default",
    "i-enochian",
    "i-hak",
    "i-klingon",
    "i-lux",
    "i-mingo",
    "i-navajo",
    "i-pwn",
    "i-tao",
    "i-tay",
    "i-tsu",
    "sgn-BE-FR",
    "sgn-BE-NL",
    "sgn-CH-DE",
    "art-lojban",
    "cel-gaulish",
    "no-bok",
    "no-nyn",
    "zh-guoyu",
    "zh-hakka",
    "zh-min",
    "zh-min-nan",
    "zh-xiang",
];

string_newtype!(
    /// A language tag per BCP 47 (RFC 5646): `language[-extlang][-script]
    /// [-region]*(-variant)*(-extension)[-x-privateuse]`, a private-use tag
    /// `x-…`, or a grandfathered tag such as `i-default`.
    ///
    /// Parsing rejects a variant or an extension singleton that appears
    /// twice (case-insensitively), as RFC 5646 §2.2.9 requires;
    /// [`Language::check_syntax`] checks well-formedness only.
    ///
    /// ATProto deviation from RFC 5646 (matching the interop vectors and the
    /// other implementations): the primary language subtag must be
    /// lowercase (`JA` is rejected), and the reserved 4-letter primary
    /// subtags are rejected (`jaja`). The private-use `x`/`X` singleton and
    /// all later subtags are case-insensitive.
    ///
    /// ```
    /// use atproto_core::syntax::Language;
    /// let tag: Language = "hy-Latn-IT-arevela".parse()?;
    /// assert_eq!(tag.primary_language(), Some("hy"));
    /// assert_eq!(tag.script(), Some("Latn"));
    /// assert_eq!(tag.region(), Some("IT"));
    /// assert!("de-DE-1901-1901".parse::<Language>().is_err());
    /// # Ok::<(), atproto_core::syntax::SyntaxError>(())
    /// ```
    Language,
    KIND,
    validate
);

fn validate(s: &str) -> Result<(), SyntaxError> {
    parse(s, true).map(|_| ())
}

/// What a parsed tag is, with byte ranges of its main parts.
#[derive(Debug, Default, Clone, Copy)]
struct Parts {
    grandfathered: bool,
    private_use_only: bool,
    language: Option<(usize, usize)>,
    script: Option<(usize, usize)>,
    region: Option<(usize, usize)>,
}

fn all(t: &str, f: fn(&u8) -> bool) -> bool {
    t.as_bytes().iter().all(f)
}

fn parse(s: &str, check_duplicates: bool) -> Result<Parts, SyntaxError> {
    check_len(KIND, s, MAX_LANGUAGE_LEN)?;
    if let Some(i) = s
        .bytes()
        .position(|c| !(c.is_ascii_alphanumeric() || c == b'-'))
    {
        return Err(SyntaxError::invalid_char(KIND, s, i));
    }
    // On the stack: a check must not allocate. Subtags are at least one
    // character plus a `-`, so the length limit bounds their count.
    let mut buf = [(0usize, ""); MAX_LANGUAGE_LEN / 2 + 1];
    let mut count = 0;
    let mut at = 0;
    for t in s.split('-') {
        if t.is_empty() {
            return Err(SyntaxError::at(KIND, at, Reason::Invalid("empty subtag")));
        }
        if t.len() > 8 {
            return Err(SyntaxError::at(
                KIND,
                at,
                Reason::Invalid("subtag longer than 8 characters"),
            ));
        }
        // `check_len` bounded the length, so the buffer has room.
        if let Some(slot) = buf.get_mut(count) {
            *slot = (at, t);
            count += 1;
        }
        at += t.len() + 1;
    }
    let tags = &buf[..count];
    let Some(&(_, first)) = tags.first() else {
        return Err(SyntaxError::new(KIND, Reason::Empty));
    };

    if first.eq_ignore_ascii_case("x") {
        if tags.len() < 2 {
            return Err(SyntaxError::at(
                KIND,
                s.len(),
                Reason::Expected("a private-use subtag"),
            ));
        }
        return Ok(Parts {
            private_use_only: true,
            ..Parts::default()
        });
    }
    if let Some(i) = first.bytes().position(|c| c.is_ascii_uppercase()) {
        return Err(SyntaxError::at(
            KIND,
            i,
            Reason::Invalid("primary language subtag must be lowercase"),
        ));
    }
    if GRANDFATHERED.iter().any(|g| g.eq_ignore_ascii_case(s)) {
        return Ok(Parts {
            grandfathered: true,
            ..Parts::default()
        });
    }
    if let Some(i) = first.bytes().position(|c| !c.is_ascii_alphabetic()) {
        return Err(SyntaxError::invalid_char(KIND, s, i));
    }
    let mut parts = Parts {
        language: Some((0, first.len())),
        ..Parts::default()
    };
    let mut idx = 1;
    match first.len() {
        2 | 3 => {
            // Up to three extended language subtags.
            while idx < tags.len()
                && idx <= 3
                && tags[idx].1.len() == 3
                && all(tags[idx].1, u8::is_ascii_alphabetic)
            {
                idx += 1;
            }
        }
        5..=8 => {}
        4 => {
            return Err(SyntaxError::at(
                KIND,
                0,
                Reason::Invalid("4-letter primary language subtags are reserved"),
            ));
        }
        _ => {
            return Err(SyntaxError::at(
                KIND,
                0,
                Reason::Invalid("primary language subtag must be 2-3 or 5-8 letters"),
            ));
        }
    }
    let span = |(o, t): (usize, &str)| Some((o, o + t.len()));
    if let Some(&tag) = tags
        .get(idx)
        .filter(|(_, t)| t.len() == 4 && all(t, u8::is_ascii_alphabetic))
    {
        parts.script = span(tag);
        idx += 1;
    }
    if let Some(&tag) = tags.get(idx).filter(|(_, t)| {
        (t.len() == 2 && all(t, u8::is_ascii_alphabetic))
            || (t.len() == 3 && all(t, u8::is_ascii_digit))
    }) {
        parts.region = span(tag);
        idx += 1;
    }
    let variants_start = idx;
    while let Some(&(o, t)) = tags.get(idx).filter(|(_, t)| {
        (5..=8).contains(&t.len()) || (t.len() == 4 && t.as_bytes()[0].is_ascii_digit())
    }) {
        if check_duplicates
            && tags[variants_start..idx]
                .iter()
                .any(|(_, v)| v.eq_ignore_ascii_case(t))
        {
            return Err(SyntaxError::at(
                KIND,
                o,
                Reason::Duplicate {
                    what: "variant",
                    subtag: String::from(t),
                },
            ));
        }
        idx += 1;
    }
    // The extension singletons seen, as a bit per letter or digit.
    let mut singletons: u64 = 0;
    while let Some(&(o, t)) = tags
        .get(idx)
        .filter(|(_, t)| t.len() == 1 && !t.eq_ignore_ascii_case("x"))
    {
        let c = t.as_bytes()[0].to_ascii_lowercase();
        let bit = 1u64
            << (if c.is_ascii_digit() {
                c - b'0'
            } else {
                c - b'a' + 10
            });
        if check_duplicates && singletons & bit != 0 {
            return Err(SyntaxError::at(
                KIND,
                o,
                Reason::Duplicate {
                    what: "extension singleton",
                    subtag: String::from(t),
                },
            ));
        }
        singletons |= bit;
        idx += 1;
        let ext_start = idx;
        while tags.get(idx).is_some_and(|(_, t)| t.len() >= 2) {
            idx += 1;
        }
        if idx == ext_start {
            return Err(SyntaxError::at(
                KIND,
                o + 1,
                Reason::Expected("an extension subtag (2-8 characters) after the singleton"),
            ));
        }
    }
    if let Some(&(o, _)) = tags.get(idx).filter(|(_, t)| t.eq_ignore_ascii_case("x")) {
        if idx + 1 == tags.len() {
            return Err(SyntaxError::at(
                KIND,
                o + 1,
                Reason::Expected("a private-use subtag after 'x'"),
            ));
        }
        idx = tags.len();
    }
    if let Some(&(o, _)) = tags.get(idx) {
        return Err(SyntaxError::at(
            KIND,
            o,
            Reason::Invalid("subtag out of place"),
        ));
    }
    Ok(parts)
}

impl Language {
    /// Checks well-formedness only: the BCP 47 grammar, without the
    /// duplicate variant / extension check that `FromStr` adds.
    pub fn check_syntax(s: &str) -> Result<(), SyntaxError> {
        parse(s, false).map(|_| ())
    }

    fn parts(&self) -> Parts {
        parse(self.as_str(), false).unwrap_or_default()
    }

    fn slice(&self, range: Option<(usize, usize)>) -> Option<&str> {
        range.and_then(|(a, b)| self.as_str().get(a..b))
    }

    /// The primary language subtag (`"en"` in `en-GB`); `None` for
    /// private-use and grandfathered tags.
    pub fn primary_language(&self) -> Option<&str> {
        self.slice(self.parts().language)
    }

    /// The script subtag (`"Latn"`), if any.
    pub fn script(&self) -> Option<&str> {
        self.slice(self.parts().script)
    }

    /// The region subtag (`"GB"`, `"419"`), if any.
    pub fn region(&self) -> Option<&str> {
        self.slice(self.parts().region)
    }

    /// Whether this is one of the RFC 5646 grandfathered tags.
    pub fn is_grandfathered(&self) -> bool {
        self.parts().grandfathered
    }

    /// Whether the whole tag is private use (`x-…`).
    pub fn is_private_use(&self) -> bool {
        self.parts().private_use_only
    }
}
