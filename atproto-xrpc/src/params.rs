//! Query parameters: encoding and decoding of the URL query string.
//!
//! An array parameter repeats its name once per element (`?tag=a&tag=b`);
//! values are strings, integers or booleans written as text. Decoding yields
//! ordered `(name, value)` pairs, the form
//! `atproto_lexicon`'s `validate_params(&[(&str, &str)])` reads (see
//! [`QueryParams::as_pairs`]); the lexicon then types and checks them.
//!
//! The escaping is `application/x-www-form-urlencoded` as the WHATWG URL
//! standard defines it for query strings: the rules browsers'
//! `URLSearchParams` follow, and so the reference TypeScript client. It is
//! done by the rust-url project's `form_urlencoded` (encoding) and
//! `percent-encoding` (decoding) crates rather than by hand: the rules
//! (which bytes stay literal, `+` for space, UTF-8 before escaping) are easy
//! to get subtly wrong, and those crates are the maintained implementation
//! the `url` crate, reqwest and axum share. Decoding splits on `&` and `=`
//! here only so that a value that is not UTF-8 after unescaping is a typed
//! error instead of being silently replaced with U+FFFD.

use core::fmt;

/// The longest query string [`QueryParams::decode`] reads, in bytes (without
/// the `?`). Servers commonly cap the whole request line at 8 KiB.
pub const MAX_QUERY_LEN: usize = 8 * 1024;

/// The most `name=value` pairs [`QueryParams::decode`] reads.
pub const MAX_PARAM_PAIRS: usize = 256;

/// One parameter value: text, an integer or a boolean.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamValue {
    /// Text, sent as is (then escaped).
    String(String),
    /// An integer, sent in decimal.
    Integer(i64),
    /// A boolean, sent as `true` or `false`.
    Boolean(bool),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::String(s) => f.write_str(s),
            ParamValue::Integer(i) => write!(f, "{i}"),
            ParamValue::Boolean(b) => write!(f, "{b}"),
        }
    }
}

impl From<String> for ParamValue {
    fn from(v: String) -> Self {
        ParamValue::String(v)
    }
}

impl From<&str> for ParamValue {
    fn from(v: &str) -> Self {
        ParamValue::String(v.to_owned())
    }
}

impl From<i64> for ParamValue {
    fn from(v: i64) -> Self {
        ParamValue::Integer(v)
    }
}

impl From<bool> for ParamValue {
    fn from(v: bool) -> Self {
        ParamValue::Boolean(v)
    }
}

/// Query parameters as ordered `(name, value)` text pairs; a repeated name
/// is an array.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one `name=value` pair.
    pub fn push(&mut self, name: &str, value: impl Into<ParamValue>) -> &mut Self {
        self.pairs.push((name.to_owned(), value.into().to_string()));
        self
    }

    /// Appends an array: one `name=value` pair per element, in order. An
    /// empty array adds nothing (the query string cannot express it).
    pub fn push_array<V: Into<ParamValue>>(
        &mut self,
        name: &str,
        values: impl IntoIterator<Item = V>,
    ) -> &mut Self {
        for v in values {
            self.push(name, v);
        }
        self
    }

    /// The pairs, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The pairs as borrowed slices, the argument
    /// `atproto_lexicon`'s `validate_params` takes.
    pub fn as_pairs(&self) -> Vec<(&str, &str)> {
        self.pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The query string, without the leading `?` (empty for no pairs).
    pub fn encode(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.pairs.iter())
            .finish()
    }

    /// Reads a query string (a leading `?` is skipped). Pairs are separated
    /// by `&`; empty pieces (`a=1&&b=2`) are skipped; a piece without `=` is
    /// a name with an empty value; `+` is a space and `%XX` a byte, and a
    /// `%` not followed by two hex digits stays literal (the WHATWG rules).
    ///
    /// # Errors
    /// [`ParamsError::TooLong`] above [`MAX_QUERY_LEN`] bytes,
    /// [`ParamsError::TooManyPairs`] above [`MAX_PARAM_PAIRS`] pairs,
    /// [`ParamsError::NotUtf8`] when a name or value does not unescape to
    /// UTF-8.
    pub fn decode(query: &str) -> Result<Self, ParamsError> {
        let query = query.strip_prefix('?').unwrap_or(query);
        if query.len() > MAX_QUERY_LEN {
            return Err(ParamsError::TooLong {
                len: query.len(),
                max: MAX_QUERY_LEN,
            });
        }
        let mut pairs = Vec::new();
        for (index, piece) in query.split('&').filter(|p| !p.is_empty()).enumerate() {
            if index >= MAX_PARAM_PAIRS {
                return Err(ParamsError::TooManyPairs {
                    max: MAX_PARAM_PAIRS,
                });
            }
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            pairs.push((unescape(name, index)?, unescape(value, index)?));
        }
        Ok(Self { pairs })
    }
}

impl fmt::Display for QueryParams {
    /// The encoded query string ([`QueryParams::encode`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for QueryParams {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self {
            pairs: iter
                .into_iter()
                .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
                .collect(),
        }
    }
}

fn unescape(text: &str, index: usize) -> Result<String, ParamsError> {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ParamsError::NotUtf8 { pair: index })
}

/// Why a query string could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// The query string is longer than [`MAX_QUERY_LEN`].
    #[error("query string is {len} bytes, more than the limit of {max}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The query string has more than [`MAX_PARAM_PAIRS`] pairs.
    #[error("query string has more than {max} parameters")]
    TooManyPairs {
        /// The limit.
        max: usize,
    },
    /// A name or value is not UTF-8 once unescaped.
    #[error("query parameter {pair} (counting from 0) is not UTF-8 once percent-decoded")]
    NotUtf8 {
        /// The index of the pair among the non-empty pieces.
        pair: usize,
    },
}
