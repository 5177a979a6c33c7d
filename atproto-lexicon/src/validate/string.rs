//! String constraints: `const`, `enum`, lengths in UTF-8 bytes, lengths in
//! grapheme clusters, and `format`.
//!
//! Graphemes are extended grapheme clusters (UAX #29) as counted by the
//! `unicode-segmentation` crate. Counting them walks the whole string, so the
//! cheap counts decide first: a string has at most as many graphemes as
//! bytes, so `maxGraphemes` holds without counting whenever the byte length
//! is within it, and `minGraphemes` fails without counting when even the
//! byte length is below it (the exact count is then computed for the error).

use alloc::boxed::Box;
use alloc::string::{String, ToString};

use atproto_core::syntax::{
    AtIdentifier, AtUri, CidString, Datetime, Did, Handle, Language, Nsid, RecordKey, Tid, Uri,
};
use unicode_segmentation::UnicodeSegmentation;

use crate::error::ValidationErrorKind as K;
use crate::schema::{StringFormat, StringSchema};

/// A string schema's constraints, ready to check values.
#[derive(Clone, Debug)]
pub(crate) struct StringRules {
    pub(crate) format: Option<StringFormat>,
    pub(crate) min_length: Option<u64>,
    pub(crate) max_length: Option<u64>,
    pub(crate) min_graphemes: Option<u64>,
    pub(crate) max_graphemes: Option<u64>,
    pub(crate) enum_values: Option<Box<[Box<str>]>>,
    pub(crate) const_value: Option<Box<str>>,
    pub(crate) default: Option<Box<str>>,
}

impl StringRules {
    pub(crate) fn from_schema(s: &StringSchema) -> Self {
        StringRules {
            format: s.format,
            min_length: s.min_length,
            max_length: s.max_length,
            min_graphemes: s.min_graphemes,
            max_graphemes: s.max_graphemes,
            enum_values: s
                .enum_values
                .as_ref()
                .map(|e| e.iter().map(|v| Box::from(v.as_str())).collect()),
            const_value: s.const_value.as_deref().map(Box::from),
            default: s.default.as_deref().map(Box::from),
        }
    }

    pub(crate) fn check(&self, s: &str) -> Result<(), K> {
        if let Some(c) = &self.const_value
            && **c != *s
        {
            return Err(K::ConstMismatch);
        }
        if let Some(e) = &self.enum_values
            && !e.iter().any(|v| **v == *s)
        {
            return Err(K::NotInEnum);
        }
        let len = s.len() as u64;
        if let Some(min) = self.min_length
            && len < min
        {
            return Err(K::StringTooShort { len, min });
        }
        if let Some(max) = self.max_length
            && len > max
        {
            return Err(K::StringTooLong { len, max });
        }
        let mut counted = None;
        let mut count = || *counted.get_or_insert_with(|| graphemes(s));
        if let Some(min) = self.min_graphemes
            && (len < min || count() < min)
        {
            return Err(K::TooFewGraphemes {
                count: count(),
                min,
            });
        }
        if let Some(max) = self.max_graphemes
            && len > max
            && count() > max
        {
            return Err(K::TooManyGraphemes {
                count: count(),
                max,
            });
        }
        if let Some(f) = self.format {
            check_format(f, s)?;
        }
        Ok(())
    }
}

fn graphemes(s: &str) -> u64 {
    if s.is_ascii() {
        // In ASCII every character is its own extended grapheme cluster
        // but for CR LF, which is one (UAX #29, GB3).
        let crlf = s.as_bytes().windows(2).filter(|w| w == b"\r\n").count();
        return (s.len() - crlf) as u64;
    }
    s.graphemes(true).count() as u64
}

/// Checks `s` against a string format with atproto-core's syntax types.
pub(crate) fn check_format(format: StringFormat, s: &str) -> Result<(), K> {
    let ok = match format {
        StringFormat::AtIdentifier => AtIdentifier::is_valid(s),
        StringFormat::AtUri => AtUri::is_valid(s),
        StringFormat::Cid => CidString::is_valid(s),
        StringFormat::Datetime => Datetime::is_valid(s),
        StringFormat::Did => Did::is_valid(s),
        StringFormat::Handle => Handle::is_valid(s),
        StringFormat::Nsid => Nsid::is_valid(s),
        StringFormat::Tid => Tid::is_valid(s),
        StringFormat::RecordKey => RecordKey::is_valid(s),
        StringFormat::Uri => Uri::is_valid(s),
        StringFormat::Language => Language::is_valid(s),
    };
    if ok {
        return Ok(());
    }
    // Only on failure: parse again for the syntax error's message.
    let reason: String = match format {
        StringFormat::AtIdentifier => why::<AtIdentifier>(s),
        StringFormat::AtUri => why::<AtUri>(s),
        StringFormat::Cid => why::<CidString>(s),
        StringFormat::Datetime => why::<Datetime>(s),
        StringFormat::Did => why::<Did>(s),
        StringFormat::Handle => why::<Handle>(s),
        StringFormat::Nsid => why::<Nsid>(s),
        StringFormat::Tid => why::<Tid>(s),
        StringFormat::RecordKey => why::<RecordKey>(s),
        StringFormat::Uri => why::<Uri>(s),
        StringFormat::Language => why::<Language>(s),
    };
    Err(K::InvalidFormat { format, reason })
}

fn why<T>(s: &str) -> String
where
    T: core::str::FromStr<Err = atproto_core::SyntaxError>,
{
    match s.parse::<T>() {
        Err(e) => e.to_string(),
        Ok(_) => "invalid".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::graphemes;
    use proptest::prelude::*;
    use unicode_segmentation::UnicodeSegmentation;

    proptest! {
        /// The ASCII shortcut counts what UAX #29 segmentation counts.
        #[test]
        fn ascii_count_matches_segmentation(s in "[\\x00-\\x7f]{0,64}") {
            prop_assert_eq!(graphemes(&s), s.graphemes(true).count() as u64);
        }
    }

    #[test]
    fn crlf_is_one_grapheme() {
        assert_eq!(graphemes("a\r\nb"), 3);
        assert_eq!(graphemes("\r\r\n\n"), 3);
        assert_eq!(graphemes("\u{1F408}\u{200D}\u{2B1B}"), 1);
    }
}
