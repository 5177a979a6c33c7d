//! The trait impls every syntax type shares, generated once.
//!
//! `impl_string_traits!(Type, SyntaxKind::X)` expects the type to have the
//! inherent functions `parse_str(&str)`, `parse_string(String)` and
//! `as_str(&self)`, and adds `FromStr`, `TryFrom<&str>`, `TryFrom<String>`,
//! `Display`, `AsRef<str>`, `PartialEq<str>` and string serde.
//!
//! `string_newtype!` defines a validated `Cow<'static, str>` newtype on top of
//! that, given a validation function.

macro_rules! impl_string_traits {
    ($name:ident, $kind:expr) => {
        impl ::core::str::FromStr for $name {
            type Err = $crate::syntax::SyntaxError;
            fn from_str(s: &str) -> ::core::result::Result<Self, Self::Err> {
                Self::parse_str(s)
            }
        }

        impl ::core::convert::TryFrom<&str> for $name {
            type Error = $crate::syntax::SyntaxError;
            fn try_from(s: &str) -> ::core::result::Result<Self, Self::Error> {
                Self::parse_str(s)
            }
        }

        impl ::core::convert::TryFrom<::alloc::string::String> for $name {
            type Error = $crate::syntax::SyntaxError;
            fn try_from(s: ::alloc::string::String) -> ::core::result::Result<Self, Self::Error> {
                Self::parse_string(s)
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::core::convert::AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl ::core::cmp::PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl ::core::cmp::PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                struct Visitor;
                impl ::serde::de::Visitor<'_> for Visitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        write!(f, "a {} string", $kind)
                    }
                    fn visit_str<E: ::serde::de::Error>(
                        self,
                        v: &str,
                    ) -> ::core::result::Result<$name, E> {
                        $name::parse_str(v).map_err(E::custom)
                    }
                    fn visit_string<E: ::serde::de::Error>(
                        self,
                        v: ::alloc::string::String,
                    ) -> ::core::result::Result<$name, E> {
                        $name::parse_string(v).map_err(E::custom)
                    }
                }
                deserializer.deserialize_string(Visitor)
            }
        }
    };
}

macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident, $kind:expr, $validate:path) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(::alloc::borrow::Cow<'static, str>);

        impl $name {
            fn parse_str(s: &str) -> ::core::result::Result<Self, $crate::syntax::SyntaxError> {
                $validate(s)?;
                Ok(Self(::alloc::borrow::Cow::Owned(s.into())))
            }

            fn parse_string(
                s: ::alloc::string::String,
            ) -> ::core::result::Result<Self, $crate::syntax::SyntaxError> {
                $validate(&s)?;
                Ok(Self(::alloc::borrow::Cow::Owned(s)))
            }

            /// Wraps a string the caller has already validated.
            #[allow(dead_code)]
            pub(crate) fn from_validated(s: ::alloc::string::String) -> Self {
                Self(::alloc::borrow::Cow::Owned(s))
            }

            /// Validates a `'static` string and wraps it without copying.
            pub fn from_static(
                s: &'static str,
            ) -> ::core::result::Result<Self, $crate::syntax::SyntaxError> {
                $validate(s)?;
                Ok(Self(::alloc::borrow::Cow::Borrowed(s)))
            }

            /// Whether `s` is valid for this type (the same check as `FromStr`).
            pub fn is_valid(s: &str) -> bool {
                $validate(s).is_ok()
            }

            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The value as an owned `String` (no copy if it already owns one).
            pub fn into_string(self) -> ::alloc::string::String {
                self.0.into_owned()
            }
        }

        impl ::core::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                self.as_str()
            }
        }

        impl ::core::convert::From<$name> for ::alloc::string::String {
            fn from(value: $name) -> Self {
                value.into_string()
            }
        }

        impl_string_traits!($name, $kind);
    };
}
