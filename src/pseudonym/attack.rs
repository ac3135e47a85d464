//! A frequency attack on encodings, to measure what hardening buys.
//!
//! The attack is the frequency alignment of Kuzu et al. (2011) in its simplest form, as used
//! in Christen et al.'s evaluations of Bloom-filter encodings: the attacker holds an encoded
//! file and a public list of names ranked by frequency (a census or electoral-roll table);
//! they group identical encodings, rank the groups by size, and label the i-th largest group
//! with the i-th most frequent public name. Every record in a correctly labelled group is
//! re-identified. It needs no key and works on any deterministic encoding of one field.

use rustc_hash::FxHashMap;

use super::{BLOOM_BITS, Bloom};

/// The share of records whose true value the attack recovers.
///
/// `encodings[i]` is record i's encoding, `truth[i]` its clear value, `public` the
/// attacker's list of values from most to least frequent. Ties between equal-sized groups
/// are broken by the encoding, so the result is deterministic.
pub fn frequency_alignment_rate(encodings: &[String], truth: &[String], public: &[String]) -> f64 {
    if encodings.is_empty() {
        return 0.0;
    }
    let mut groups: FxHashMap<&str, Vec<usize>> = FxHashMap::default();
    for (i, e) in encodings.iter().enumerate() {
        groups.entry(e.as_str()).or_default().push(i);
    }
    aligned_rate(groups.into_iter().collect(), truth, public)
}

/// The alignment itself: `groups` (a key and its records) ranked by size, ties by key, the
/// i-th labelled with the i-th public value; the share of all records labelled right.
fn aligned_rate<K: Ord>(
    mut groups: Vec<(K, Vec<usize>)>,
    truth: &[String],
    public: &[String],
) -> f64 {
    let records: usize = groups.iter().map(|(_, m)| m.len()).sum();
    if records == 0 {
        return 0.0;
    }
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let mut hits = 0usize;
    for ((_, members), guess) in groups.iter().zip(public) {
        hits += members.iter().filter(|&&i| truth[i] == *guess).count();
    }
    hits as f64 / records as f64
}

/// The share of records whose true value the attack recovers when it first clusters
/// near-identical filters, then aligns the clusters by size (Christen et al.'s observation
/// that noise added per record, as BLIP's, only blurs groups that similarity puts back).
///
/// Filters are taken in order; each joins the first earlier cluster whose first filter is
/// at least `min_dice` similar to it, else starts a cluster. Candidate clusters come from
/// [`CLUSTER_BANDS`] bands of [`CLUSTER_BAND_BITS`] bit positions (locality-sensitive
/// hashing: two filters of one name under 3% flips agree on a band with probability about
/// one half, two unrelated names almost never), so the attack runs in seconds on 100,000
/// filters. It needs no key.
pub fn cluster_alignment_rate(
    filters: &[Bloom],
    truth: &[String],
    public: &[String],
    min_dice: f64,
) -> f64 {
    if filters.is_empty() {
        return 0.0;
    }
    let band_key = |f: &Bloom, band: usize| -> u64 {
        let mut key = band as u64;
        for k in 0..CLUSTER_BAND_BITS {
            // Bands read bit positions spread over the whole filter.
            let pos = (band * CLUSTER_BAND_BITS + k) * 131 % (2 * BLOOM_BITS);
            key = key << 1 | (f.0[pos / 64] >> (pos % 64) & 1);
        }
        key
    };
    let mut buckets: FxHashMap<u64, Vec<usize>> = FxHashMap::default();
    // Per cluster: its first filter's index and its members.
    let mut clusters: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, f) in filters.iter().enumerate() {
        let keys: Vec<u64> = (0..CLUSTER_BANDS).map(|b| band_key(f, b)).collect();
        let mut best: Option<(f64, usize)> = None;
        for key in &keys {
            for &c in buckets.get(key).map_or(&[][..], Vec::as_slice) {
                let d = filters[clusters[c].0].dice(f);
                if d >= min_dice && best.is_none_or(|(bd, bc)| d > bd || (d == bd && c < bc)) {
                    best = Some((d, c));
                }
            }
        }
        if let Some((_, c)) = best {
            clusters[c].1.push(i);
        } else {
            let c = clusters.len();
            clusters.push((i, vec![i]));
            for key in keys {
                buckets.entry(key).or_default().push(c);
            }
        }
    }
    aligned_rate(clusters, truth, public)
}

/// Bands of bit positions [`cluster_alignment_rate`] looks candidates up by.
pub const CLUSTER_BANDS: usize = 16;
/// Bit positions per band.
pub const CLUSTER_BAND_BITS: usize = 12;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_encodings_of_skewed_names_are_recovered() {
        let names: Vec<String> = ["smith", "smith", "smith", "jones", "jones", "patel"]
            .map(String::from)
            .to_vec();
        let enc: Vec<String> = names.iter().map(|n| format!("enc-{n}")).collect();
        let public: Vec<String> = ["smith", "jones", "patel"].map(String::from).to_vec();
        assert_eq!(frequency_alignment_rate(&enc, &names, &public), 1.0);
        // All-distinct encodings defeat it.
        let distinct: Vec<String> = (0..names.len()).map(|i| format!("r{i}")).collect();
        assert!(frequency_alignment_rate(&distinct, &names, &public) <= 0.5);
    }

    /// Per-record noise defeats counting identical filters but not clustering them first:
    /// 600 records of three names in skewed numbers.
    #[test]
    fn clustering_noised_filters_recovers_the_names_counting_does_not() {
        use crate::pseudonym::{Key, Pseudonymiser, TokenField};
        let p = Pseudonymiser::new(&Key::from_bytes([3; 32]), "attack-test", 1);
        let names: Vec<String> = (0..600)
            .map(|i| match i % 6 {
                0..=2 => "smith",
                3 | 4 => "jones",
                _ => "patel",
            })
            .map(String::from)
            .collect();
        let public: Vec<String> = ["smith", "jones", "patel"].map(String::from).to_vec();
        let filters: Vec<Bloom> = (names.iter().enumerate())
            .map(|(i, n)| p.bloom_record(TokenField::Surname, n, &format!("r{i}")))
            .collect();
        let hex: Vec<String> = filters.iter().map(Bloom::to_hex).collect();
        assert!(frequency_alignment_rate(&hex, &names, &public) < 0.01);
        let rate = cluster_alignment_rate(&filters, &names, &public, 0.85);
        assert!(rate > 0.95, "clustered: {rate}");
        // With a threshold no two noised filters reach, every cluster is one record.
        assert!(cluster_alignment_rate(&filters, &names, &public, 1.0) < 0.01);
    }
}
