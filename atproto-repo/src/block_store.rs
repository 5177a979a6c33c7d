//! Content-addressed block storage.
