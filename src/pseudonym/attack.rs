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

mod pattern_mining;
pub use pattern_mining::{HOLD_SHARE, MIN_SUPPORT, PatternMining, bigrams, pattern_mining_attack};

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
    let labels = filter_clusters(filters, min_dice);
    let mut groups: FxHashMap<u32, Vec<usize>> = FxHashMap::default();
    for (i, &c) in labels.iter().enumerate() {
        groups.entry(c).or_default().push(i);
    }
    aligned_rate(groups.into_iter().collect(), truth, public)
}

/// The clusters of [`cluster_alignment_rate`]: per filter, the index of its cluster.
pub fn filter_clusters(filters: &[Bloom], min_dice: f64) -> Vec<u32> {
    let band_key = |f: &Bloom, band: usize| -> u64 {
        let mut key = band as u64;
        for k in 0..CLUSTER_BAND_BITS {
            // Bands read bit positions spread over the whole filter.
            let pos = (band * CLUSTER_BAND_BITS + k) * 131 % (2 * BLOOM_BITS);
            key = key << 1 | (f.0[pos / 64] >> (pos % 64) & 1);
        }
        key
    };
    let mut buckets: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
    // Per cluster: its first filter's index.
    let mut firsts: Vec<usize> = Vec::new();
    let mut labels = Vec::with_capacity(filters.len());
    for (i, f) in filters.iter().enumerate() {
        let keys: Vec<u64> = (0..CLUSTER_BANDS).map(|b| band_key(f, b)).collect();
        let mut best: Option<(f64, u32)> = None;
        for key in &keys {
            for &c in buckets.get(key).map_or(&[][..], Vec::as_slice) {
                let d = filters[firsts[c as usize]].dice(f);
                if d >= min_dice && best.is_none_or(|(bd, bc)| d > bd || (d == bd && c < bc)) {
                    best = Some((d, c));
                }
            }
        }
        if let Some((_, c)) = best {
            labels.push(c);
        } else {
            let c = firsts.len() as u32;
            firsts.push(i);
            labels.push(c);
            for key in keys {
                buckets.entry(key).or_default().push(c);
            }
        }
    }
    labels
}

/// The share of records whose true value the attack recovers when the attacker first splits
/// the records by a column they can see (`partitions[i]`, e.g. the date-of-birth token that
/// salted the names) and aligns within each part: the i-th largest group of equal
/// `encodings` in a part is labelled with the i-th public value. This is what salting with a
/// written attribute must withstand: within one salt, a name's encodings are equal again.
/// Records with an empty partition value are left out of the count.
pub fn partitioned_alignment_rate(
    encodings: &[String],
    partitions: &[String],
    truth: &[String],
    public: &[String],
) -> f64 {
    let mut parts: FxHashMap<&str, FxHashMap<&str, Vec<usize>>> = FxHashMap::default();
    for (i, (e, p)) in encodings.iter().zip(partitions).enumerate() {
        if !p.is_empty() && !e.is_empty() {
            parts
                .entry(p.as_str())
                .or_default()
                .entry(e.as_str())
                .or_default()
                .push(i);
        }
    }
    let mut parts: Vec<(&str, FxHashMap<&str, Vec<usize>>)> = parts.into_iter().collect();
    parts.sort_unstable_by_key(|(p, _)| *p);
    let (mut hits, mut records) = (0.0, 0usize);
    for (_, groups) in parts {
        let n: usize = groups.values().map(Vec::len).sum();
        hits += aligned_rate(groups.into_iter().collect(), truth, public) * n as f64;
        records += n;
    }
    if records == 0 {
        0.0
    } else {
        hits / records as f64
    }
}

/// The groups a graph attack forms: records that share a non-empty value in any of
/// `columns` (e.g. a name token salted with the date of birth and one salted with the NHS
/// number) are joined, and joined records' groups merge (union-find). Per record, the
/// smallest record index of its group. Aligning these groups by size is the frequency attack
/// on a file whose names carry more than one salt.
pub fn linked_groups(columns: &[Vec<String>]) -> Vec<u32> {
    fn root(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            let up = parent[parent[x as usize] as usize];
            parent[x as usize] = up;
            x = up;
        }
        x
    }
    let n = columns.first().map_or(0, Vec::len);
    let mut parent: Vec<u32> = (0..n as u32).collect();
    for col in columns {
        let mut first: FxHashMap<&str, u32> = FxHashMap::default();
        for (i, v) in col.iter().enumerate() {
            if v.is_empty() {
                continue;
            }
            let j = *first.entry(v.as_str()).or_insert(i as u32);
            let (a, b) = (root(&mut parent, i as u32), root(&mut parent, j));
            if a != b {
                parent[a.max(b) as usize] = a.min(b);
            }
        }
    }
    (0..n as u32).map(|i| root(&mut parent, i)).collect()
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

    /// Salting by a written attribute: aligning across the whole file finds nothing, within
    /// each salt value it finds the names again.
    #[test]
    fn partitions_undo_a_salt_the_attacker_can_see() {
        let names: Vec<String> = ["smith", "smith", "jones", "smith", "smith", "jones"]
            .map(String::from)
            .to_vec();
        let salts: Vec<String> = ["a", "a", "a", "b", "b", "b"].map(String::from).to_vec();
        let enc: Vec<String> = names
            .iter()
            .zip(&salts)
            .map(|(n, s)| format!("{n}|{s}"))
            .collect();
        let public: Vec<String> = ["smith", "jones"].map(String::from).to_vec();
        // Whole file: two groups of two (ties broken by encoding) and two of one.
        let whole = frequency_alignment_rate(&enc, &names, &public);
        assert!(whole <= 0.34, "{whole}");
        assert_eq!(
            partitioned_alignment_rate(&enc, &salts, &names, &public),
            1.0
        );
        // A record with no salt value is not counted.
        let mut unsalted = salts.clone();
        unsalted[5] = String::new();
        let r = partitioned_alignment_rate(&enc, &unsalted, &names, &public);
        assert!((r - 1.0).abs() < 1e-12, "{r}");
    }

    #[test]
    fn linked_groups_join_records_through_any_shared_value() {
        let col = |v: [&str; 5]| v.map(String::from).to_vec();
        // 0-1 share a value in the first column, 1-2 in the second; 3 and 4 share nothing.
        let groups = linked_groups(&[col(["x", "x", "y", "", "z"]), col(["", "p", "p", "q", ""])]);
        assert_eq!(groups, vec![0, 0, 0, 3, 4]);
    }
}
