//! Identity, pure logic: DID documents with their ATProto accessors, and
//! did:plc operations (build, sign, compute the DID, verify a log).
//!
//! Nothing here does I/O: resolvers fetch the bytes, these modules judge them.

pub mod did_doc;
pub mod plc;

pub use did_doc::{DidDocError, DidDocument, Service, VerificationMethod};
pub use plc::{Operation, PlcData, PlcError, PlcService, PlcState};
