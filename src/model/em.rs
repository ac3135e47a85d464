//! Expectation-maximisation on counts of distinct comparison vectors.
//!
//! As fastLink does: one pass over the pairs counts how often each distinct comparison
//! vector occurs; each EM iteration then costs the number of distinct vectors (hundreds to a
//! few thousand), not the number of pairs (millions). The u probabilities are fixed (they
//! come from random pairs); EM estimates m and the share of matches λ among the pairs.
//!
//! Counts are summed as integers and the vectors are visited in sorted order, so the
//! estimates are bit-identical on any thread count and input order.

use crate::compare::level_of;

/// The result of one EM run.
#[derive(Clone, Debug)]
pub(crate) struct EmResult {
    /// m per comparison per level (index 0, null, unused).
    pub(crate) m: Vec<Vec<f64>>,
    /// The share of matches among the pairs counted.
    pub(crate) lambda: f64,
    /// Iterations run.
    pub(crate) iterations: u32,
    /// Whether the largest parameter change fell below the tolerance.
    pub(crate) converged: bool,
    /// Log-likelihood after each iteration's E-step.
    pub(crate) log_likelihood: Vec<f64>,
    /// Expected number of matches among the pairs counted.
    pub(crate) expected_matches: f64,
}

/// Runs EM from `m` and `lambda` with `u` fixed, on `counts` (vector, count) sorted by vector.
/// Comparisons whose bit is set in `masked` are ignored (their m is returned unchanged); those
/// whose bit is set in `anchored` take part in the E-step with their m as given, which the
/// M-step keeps (an m known from sure pairs, which holds EM to people rather than families).
#[allow(clippy::too_many_arguments)]
pub(crate) fn em(
    counts: &[(u64, u64)],
    u: &[Vec<f64>],
    mut m: Vec<Vec<f64>>,
    mut lambda: f64,
    masked: u32,
    anchored: u32,
    max_iterations: u32,
    tolerance: f64,
) -> EmResult {
    let n_comp = u.len();
    let active: Vec<usize> = (0..n_comp).filter(|c| masked & (1 << c) == 0).collect();
    let log_u: Vec<Vec<f64>> = u
        .iter()
        .map(|l| l.iter().map(|p| p.ln()).collect())
        .collect();
    let total: f64 = counts.iter().map(|&(_, n)| n as f64).sum();
    let mut log_likelihood = Vec::new();
    let mut iterations = 0;
    let mut converged = false;
    let mut expected_matches = 0.0;
    if total == 0.0 {
        return EmResult {
            m,
            lambda,
            iterations,
            converged: false,
            log_likelihood,
            expected_matches,
        };
    }
    while iterations < max_iterations {
        iterations += 1;
        let log_m: Vec<Vec<f64>> = m
            .iter()
            .map(|l| l.iter().map(|p| p.ln()).collect())
            .collect();
        let (ll_lambda, ll_not) = (lambda.ln(), (1.0 - lambda).ln());
        let mut num: Vec<Vec<f64>> = m.iter().map(|l| vec![0.0; l.len()]).collect();
        let mut matches = 0.0;
        let mut ll = 0.0;
        for &(v, n) in counts {
            let (mut lm, mut lu) = (ll_lambda, ll_not);
            for &c in &active {
                let l = usize::from(level_of(v, c));
                if l != 0 {
                    lm += log_m[c][l];
                    lu += log_u[c][l];
                }
            }
            // log(e^lm + e^lu) and the posterior, without overflow.
            let hi = lm.max(lu);
            let lse = hi + ((lm - hi).exp() + (lu - hi).exp()).ln();
            let r = (lm - lse).exp();
            let n = n as f64;
            ll += n * lse;
            matches += n * r;
            for &c in &active {
                let l = usize::from(level_of(v, c));
                if l != 0 {
                    num[c][l] += n * r;
                }
            }
        }
        log_likelihood.push(ll);
        expected_matches = matches;
        let mut change: f64 = 0.0;
        for &c in active.iter().filter(|&&c| anchored & (1 << c) == 0) {
            let den: f64 = num[c][1..].iter().sum();
            if den <= 0.0 {
                continue;
            }
            for l in 1..m[c].len() {
                let new = num[c][l] / den;
                change = change.max((new - m[c][l]).abs());
                m[c][l] = new;
            }
        }
        let new_lambda = (matches / total).clamp(1e-12, 1.0 - 1e-12);
        change = change.max((new_lambda - lambda).abs());
        lambda = new_lambda;
        if change < tolerance {
            converged = true;
            break;
        }
    }
    EmResult {
        m,
        lambda,
        iterations,
        converged,
        log_likelihood,
        expected_matches,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// A level drawn from the distribution `p` (levels 1..; the last takes the remainder).
    fn draw(p: &[f64], rng: &mut Rng) -> u64 {
        let x = rng.unit();
        let mut acc = 0.0;
        for (l, &q) in p.iter().enumerate().skip(1) {
            acc += q;
            if x < acc {
                return l as u64;
            }
        }
        (p.len() - 1) as u64
    }

    /// A vector with one level per comparison drawn from the distributions of `class`.
    fn vector(class: &[&Vec<f64>], rng: &mut Rng) -> u64 {
        class
            .iter()
            .enumerate()
            .fold(0, |v, (c, p)| v | (draw(p, rng) << (4 * c)))
    }

    /// Simulates `n` pairs from a known two-class model; returns sorted vector counts.
    fn simulate(n: u64, lambda: f64, m: &[Vec<f64>], u: &[Vec<f64>], seed: u64) -> Vec<(u64, u64)> {
        let mut rng = Rng::new(seed, 99, 0);
        let mut counts = std::collections::BTreeMap::new();
        for _ in 0..n {
            let is_match = rng.unit() < lambda;
            let class: Vec<&Vec<f64>> = if is_match {
                m.iter().collect()
            } else {
                u.iter().collect()
            };
            *counts.entry(vector(&class, &mut rng)).or_insert(0u64) += 1;
        }
        counts.into_iter().collect()
    }

    fn truth() -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let m = vec![
            vec![0.0, 0.85, 0.1, 0.05],
            vec![0.0, 0.9, 0.05, 0.05],
            vec![0.0, 0.7, 0.2, 0.1],
            vec![0.0, 0.95, 0.05],
        ];
        let u = vec![
            vec![0.0, 0.01, 0.04, 0.95],
            vec![0.0, 0.02, 0.08, 0.90],
            vec![0.0, 0.05, 0.15, 0.80],
            vec![0.0, 0.5, 0.5],
        ];
        (m, u)
    }

    #[test]
    fn recovers_known_m_and_lambda_from_simulated_pairs() {
        let (m_true, u) = truth();
        let counts = simulate(400_000, 0.2, &m_true, &u, 7);
        let start: Vec<Vec<f64>> = m_true
            .iter()
            .map(|l| {
                let k = l.len() - 1;
                let mut v = vec![0.0; l.len()];
                // A flat-ish start that favours agreement, as the trainer's defaults do.
                for (i, x) in v.iter_mut().enumerate().skip(1) {
                    *x = (k + 1 - i) as f64;
                }
                let s: f64 = v.iter().sum();
                v.iter().map(|x| x / s).collect()
            })
            .collect();
        let r = em(&counts, &u, start, 0.5, 0, 0, 500, 1e-9);
        assert!(r.converged);
        assert!((r.lambda - 0.2).abs() < 0.01, "lambda {}", r.lambda);
        for (c, levels) in m_true.iter().enumerate() {
            for (l, want) in levels.iter().enumerate().skip(1) {
                assert!(
                    (r.m[c][l] - want).abs() < 0.01,
                    "m[{c}][{l}] = {} vs {want}",
                    r.m[c][l]
                );
            }
        }
    }

    #[test]
    fn log_likelihood_never_decreases() {
        let (m_true, u) = truth();
        let counts = simulate(50_000, 0.05, &m_true, &u, 3);
        let start = u.clone();
        let r = em(&counts, &u, start, 0.3, 0, 0, 200, 0.0);
        for w in r.log_likelihood.windows(2) {
            assert!(w[1] >= w[0] - 1e-9 * w[0].abs(), "{} then {}", w[0], w[1]);
        }
        assert!(r.log_likelihood.len() > 10);
    }

    #[test]
    fn masked_comparisons_keep_their_m() {
        let (m_true, u) = truth();
        let counts = simulate(10_000, 0.1, &m_true, &u, 5);
        let start = m_true.clone();
        let mut bent = start.clone();
        bent[1] = vec![0.0, 0.34, 0.33, 0.33];
        let r = em(&counts, &u, bent.clone(), 0.5, 0b10, 0, 50, 1e-9);
        assert_eq!(r.m[1], bent[1]);
    }

    /// Issue 11: pairs of one family (agreeing on surname and address like a true pair, but
    /// with different identifiers) outnumber the true pairs 20 to 1. With the identifier's m
    /// anchored at its value among sure pairs, EM finds the true share of matches and keeps
    /// the anchored m; the family pairs are not taken for matches. Left free, EM takes them.
    #[test]
    fn an_anchored_identifier_keeps_families_out_of_the_matches() {
        let m = [
            vec![0.0, 0.9, 0.08, 0.02],
            vec![0.0, 0.85, 0.1, 0.05],
            // Among sure pairs the identifier almost never differs (on the generator's 14M
            // dedupe, m(NHS numbers differ) < 1e-4).
            vec![0.0, 0.99995, 0.00005],
        ];
        let u = vec![
            vec![0.0, 0.01, 0.04, 0.95],
            vec![0.0, 0.02, 0.08, 0.90],
            vec![0.0, 0.0001, 0.9999],
        ];
        let mut rng = Rng::new(11, 99, 0);
        let mut counts = std::collections::BTreeMap::new();
        for _ in 0..200_000 {
            let x = rng.unit();
            // 1% true pairs, 20% family members, the rest strangers.
            let class: [&Vec<f64>; 3] = if x < 0.01 {
                [&m[0], &m[1], &m[2]]
            } else if x < 0.21 {
                [&m[0], &m[1], &u[2]]
            } else {
                [&u[0], &u[1], &u[2]]
            };
            *counts.entry(vector(&class, &mut rng)).or_insert(0u64) += 1;
        }
        let counts: Vec<(u64, u64)> = counts.into_iter().collect();
        let start = vec![
            vec![0.0, 0.85, 0.13, 0.02],
            vec![0.0, 0.85, 0.13, 0.02],
            m[2].clone(),
        ];
        let anchored = em(&counts, &u, start.clone(), 0.5, 0, 0b100, 500, 1e-9);
        assert_eq!(anchored.m[2], m[2]);
        assert!(
            (anchored.lambda - 0.01).abs() < 0.002,
            "lambda {}",
            anchored.lambda
        );
        // Left free, the identifier's m is learnt from the family pairs too.
        let free = em(&counts, &u, start, 0.5, 0, 0, 500, 1e-9);
        assert!(free.lambda > 0.1, "lambda {}", free.lambda);
    }

    #[test]
    fn identical_on_reordered_input() {
        let (m_true, u) = truth();
        let counts = simulate(5_000, 0.1, &m_true, &u, 9);
        let a = em(&counts, &u, m_true.clone(), 0.5, 0, 0, 30, 0.0);
        let b = em(&counts, &u, m_true.clone(), 0.5, 0, 0, 30, 0.0);
        assert_eq!(a.lambda.to_bits(), b.lambda.to_bits());
    }
}
