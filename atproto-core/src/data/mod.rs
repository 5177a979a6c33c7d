//! The ATProto data model: values, strict DAG-CBOR, ATProto JSON, blob refs and CIDs.
