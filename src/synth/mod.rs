//! Synthetic patient data with ground truth.

use std::path::Path;

use crate::Error;

/// Options for [`generate`].
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Number of people in the population.
    pub people: u64,
    /// Seed; the same seed gives byte-identical files.
    pub seed: u64,
    /// Noise multiplier.
    pub noise: f64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            people: 1000,
            seed: 1,
            noise: 1.0,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Clone, Debug)]
pub struct GenerateSummary {
    /// Rows per file written, by file name.
    pub files: Vec<(String, u64)>,
}

/// Generates the synthetic sources and truth files into `out_dir`.
pub fn generate(options: &GenerateOptions, out_dir: &Path) -> Result<GenerateSummary, Error> {
    todo!("{options:?}{out_dir:?}")
}
