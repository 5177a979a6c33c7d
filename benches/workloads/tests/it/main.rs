//! The one integration-test binary of atproto-workloads.

mod mst;
mod timing;
mod workload;
