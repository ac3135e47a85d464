//! Properties of blocking and clustering, checked against naive versions.
