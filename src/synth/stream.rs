//! Stream tags: each kind of random decision draws from its own stream, so adding draws to
//! one kind does not shift the others.

/// Households and people of one chunk of the population.
pub const POPULATION: u64 = 1;
/// One record copy (the source is added to this tag).
pub const RECORD: u64 = 16;
/// Shuffle keys of the records of a file (the source is added to this tag).
pub const SHUFFLE: u64 = 32;
/// The address a household moved to (or from).
pub const MOVE: u64 = 48;
/// The key of the NHS-number permutation.
pub const NHS: u64 = 64;
