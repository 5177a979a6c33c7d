//! The directory's limits on a submitted operation, before it is checked
//! against the log: size, entry counts and lengths, key syntax. The numbers
//! are the reference directory's.

use std::collections::BTreeSet;

use atproto_core::PublicKey;
use atproto_core::cid::multibase::{self, Base};
use atproto_xrpc::identity::plc::{Operation, PlcOperation};

/// Largest operation, in bytes of DAG-CBOR.
pub const MAX_OP_BYTES: usize = 4000;
/// Most `alsoKnownAs` entries.
pub const MAX_AKA_ENTRIES: usize = 10;
/// Longest `alsoKnownAs` entry: a 253-character handle plus `at://`.
pub const MAX_AKA_LENGTH: usize = 258;
/// Most rotation keys.
pub const MAX_ROTATION_ENTRIES: usize = 10;
/// Most services.
pub const MAX_SERVICE_ENTRIES: usize = 10;
/// Longest service type.
pub const MAX_SERVICE_TYPE_LENGTH: usize = 256;
/// Longest service endpoint.
pub const MAX_SERVICE_ENDPOINT_LENGTH: usize = 512;
/// Most verification methods.
pub const MAX_VERIFICATION_METHOD_ENTRIES: usize = 10;
/// Longest service or verification-method id.
pub const MAX_ID_LENGTH: usize = 32;
/// Longest verification-method `did:key`.
pub const MAX_DID_KEY_LENGTH: usize = 256;

/// Why a submitted operation breaks a limit; the message is the answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConstraintError {
    /// A legacy `create` operation (read in old logs, never accepted), or
    /// a type this build does not know.
    #[error("only plc_operation and plc_tombstone operations are accepted")]
    NotAccepted,
    /// Over [`MAX_OP_BYTES`].
    #[error("operation too large ({size} bytes of DAG-CBOR, at most {MAX_OP_BYTES})")]
    TooLarge {
        /// The operation's DAG-CBOR size.
        size: usize,
    },
    /// Too many entries in a list or map.
    #[error("too many {what} entries ({count}, at most {max})")]
    TooMany {
        /// Which field.
        what: &'static str,
        /// The number found.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A string over its limit.
    #[error("{what} too long (at most {max} characters): {value}")]
    TooLong {
        /// Which field.
        what: &'static str,
        /// The limit.
        max: usize,
        /// The value, cut to its first 64 characters.
        value: String,
    },
    /// The same `alsoKnownAs` entry twice.
    #[error("duplicate alsoKnownAs entry: {0}")]
    DuplicateAka(String),
    /// A rotation key that is not a supported `did:key` (k256 or p256).
    #[error("invalid rotation key: {0}")]
    RotationKey(String),
    /// A verification method that is not a `did:key` in base58btc.
    #[error("invalid verification method key: {0}")]
    VerificationMethod(String),
}

fn shown(value: &str) -> String {
    value.chars().take(64).collect()
}

fn at_most(what: &'static str, count: usize, max: usize) -> Result<(), ConstraintError> {
    if count > max {
        return Err(ConstraintError::TooMany { what, count, max });
    }
    Ok(())
}

fn not_longer(what: &'static str, value: &str, max: usize) -> Result<(), ConstraintError> {
    if value.len() > max {
        return Err(ConstraintError::TooLong {
            what,
            max,
            value: shown(value),
        });
    }
    Ok(())
}

/// Checks `op` against the limits. Tombstones have only their size to check.
///
/// # Errors
/// The first [`ConstraintError`] found.
pub fn check(op: &Operation) -> Result<(), ConstraintError> {
    let size = op.signed_cbor().len();
    if size > MAX_OP_BYTES {
        return Err(ConstraintError::TooLarge { size });
    }
    match op {
        Operation::Plc(op) => check_plc(op),
        Operation::Tombstone(_) => Ok(()),
        _ => Err(ConstraintError::NotAccepted),
    }
}

fn check_plc(op: &PlcOperation) -> Result<(), ConstraintError> {
    at_most("alsoKnownAs", op.also_known_as.len(), MAX_AKA_ENTRIES)?;
    let mut seen = BTreeSet::new();
    for aka in &op.also_known_as {
        not_longer("alsoKnownAs entry", aka, MAX_AKA_LENGTH)?;
        if !seen.insert(aka.as_str()) {
            return Err(ConstraintError::DuplicateAka(shown(aka)));
        }
    }
    at_most("rotationKeys", op.rotation_keys.len(), MAX_ROTATION_ENTRIES)?;
    for key in &op.rotation_keys {
        if PublicKey::from_did_key(key).is_err() {
            return Err(ConstraintError::RotationKey(shown(key)));
        }
    }
    at_most("services", op.services.len(), MAX_SERVICE_ENTRIES)?;
    for (id, service) in &op.services {
        not_longer("service id", id, MAX_ID_LENGTH)?;
        not_longer("service type", &service.type_, MAX_SERVICE_TYPE_LENGTH)?;
        not_longer(
            "service endpoint",
            &service.endpoint,
            MAX_SERVICE_ENDPOINT_LENGTH,
        )?;
    }
    at_most(
        "verificationMethods",
        op.verification_methods.len(),
        MAX_VERIFICATION_METHOD_ENTRIES,
    )?;
    for (id, key) in &op.verification_methods {
        not_longer("verification method id", id, MAX_ID_LENGTH)?;
        not_longer("verification method key", key, MAX_DID_KEY_LENGTH)?;
        // Only the syntax: any key type may be published.
        let base58 = key
            .strip_prefix("did:key:")
            .and_then(|mb| multibase::decode(mb).ok())
            .is_some_and(|(base, bytes)| base == Base::Base58Btc && !bytes.is_empty());
        if !base58 {
            return Err(ConstraintError::VerificationMethod(shown(key)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use atproto_core::{Curve, Keypair};
    use atproto_xrpc::identity::plc::{PlcData, PlcService};

    fn op_with(edit: impl FnOnce(&mut PlcData)) -> Operation {
        let key = Keypair::from_private_bytes(Curve::K256, &[7; 32]).unwrap();
        let mut data = PlcData::atproto(
            &key.public_key(),
            &"a.example.com".parse().unwrap(),
            "https://pds.example.com",
            &[key.public_key()],
        );
        edit(&mut data);
        Operation::genesis(data, &key).0
    }

    #[test]
    fn a_usual_operation_passes() {
        assert_eq!(check(&op_with(|_| {})), Ok(()));
    }

    #[test]
    fn each_limit_is_enforced() {
        let many_aka = op_with(|d| {
            d.also_known_as = (0..11).map(|i| format!("at://h{i}.example")).collect();
        });
        assert!(matches!(
            check(&many_aka),
            Err(ConstraintError::TooMany {
                what: "alsoKnownAs",
                count: 11,
                ..
            })
        ));
        let long_aka = op_with(|d| d.also_known_as = vec![format!("at://{}", "a".repeat(254))]);
        assert!(matches!(
            check(&long_aka),
            Err(ConstraintError::TooLong { .. })
        ));
        let dup = op_with(|d| d.also_known_as = vec!["at://x".into(), "at://x".into()]);
        assert_eq!(
            check(&dup),
            Err(ConstraintError::DuplicateAka("at://x".into()))
        );
        let bad_rot = op_with(|d| d.rotation_keys.push("did:key:zNope".into()));
        assert!(matches!(
            check(&bad_rot),
            Err(ConstraintError::RotationKey(_))
        ));
        let bad_vm = op_with(|d| {
            d.verification_methods
                .insert("atproto".into(), "did:key:mAAAA".into());
        });
        assert!(matches!(
            check(&bad_vm),
            Err(ConstraintError::VerificationMethod(_))
        ));
        let long_id = op_with(|d| {
            d.services.insert(
                "s".repeat(33),
                PlcService {
                    type_: "T".into(),
                    endpoint: "https://e".into(),
                },
            );
        });
        assert!(matches!(
            check(&long_id),
            Err(ConstraintError::TooLong {
                what: "service id",
                ..
            })
        ));
        let long_endpoint = op_with(|d| {
            if let Some(s) = d.services.values_mut().next() {
                s.endpoint = format!("https://{}", "e".repeat(600));
            }
        });
        assert!(matches!(
            check(&long_endpoint),
            Err(ConstraintError::TooLong {
                what: "service endpoint",
                ..
            })
        ));
        let huge = op_with(|d| {
            for i in 0..10 {
                d.services.insert(
                    format!("s{i}"),
                    PlcService {
                        type_: "T".repeat(250),
                        endpoint: format!("https://{}", "e".repeat(500)),
                    },
                );
            }
            d.services.remove("atproto_pds");
        });
        assert!(matches!(
            check(&huge),
            Err(ConstraintError::TooLarge { .. })
        ));
    }
}
