//! Fixed-point decimal text of a number, byte for byte what `format!("{x:.N}")` gives, without
//! its exact big-number path: the pairs file formats three numbers a row, and the standard
//! formatter's exact mode (Grisu, falling back to Dragon) was a tenth of a 1M-record run's
//! writing.

use std::fmt::Write as _;

/// Powers of ten up to the most places [`push`] formats by its fast path.
const TEN: [f64; 10] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// Appends `x` with `places` decimals to `out`, exactly as `write!(out, "{x:.places$}")`.
///
/// The fast path scales `|x|` by `10^places` in one multiplication (exact to half an ulp, as
/// `10^places` is exact) and rounds. The rounding of the true scaled value can differ from the
/// computed one's only when the computed fraction lies within a few ulps of one half; those
/// values, and any too large for the path, go to the standard formatter.
pub(crate) fn push(out: &mut String, x: f64, places: usize) {
    if let Some(n) = scaled(x, places) {
        if x.is_sign_negative() {
            out.push('-');
        }
        let pow = 10u64.pow(places as u32);
        let (int, frac) = (n / pow, n % pow);
        let _ = if places > 0 {
            write!(out, "{int}.{frac:0places$}")
        } else {
            write!(out, "{int}")
        };
    } else {
        let _ = write!(out, "{x:.places$}");
    }
}

/// `|x| * 10^places` rounded to an integer, when the rounding is certain to be the exact
/// value's (see [`push`]).
fn scaled(x: f64, places: usize) -> Option<u64> {
    let p = *TEN.get(places)?;
    let s = x.abs() * p;
    // Below 2^52 an ulp is at most one half, so the integer part is exact.
    if s.is_nan() || s >= 4.0e15 {
        return None;
    }
    let floor = s.floor();
    let frac = s - floor;
    // The true scaled value is within half an ulp of `s`; keep well clear of the tie.
    let margin = s * 4.0 * f64::EPSILON + f64::MIN_POSITIVE;
    if (frac - 0.5).abs() <= margin {
        return None;
    }
    Some(floor as u64 + u64::from(frac > 0.5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fast(x: f64, places: usize) -> String {
        let mut s = String::new();
        push(&mut s, x, places);
        s
    }

    #[test]
    fn edge_values_format_as_the_standard_formatter_does() {
        let values = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            0.000_05,
            0.000_049_999_999,
            -0.000_01,
            1.000_05,
            2.675,
            33.7193,
            0.999_999_995,
            0.999_999_994_9,
            1e15,
            -4.5e15,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for x in values {
            for places in [0, 1, 4, 8, 9, 10] {
                assert_eq!(
                    fast(x, places),
                    format!("{x:.places$}"),
                    "{x:e} to {places}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn any_number_formats_as_the_standard_formatter_does(
            x in prop_oneof![any::<f64>(), -1.0e3..1.0e3f64, 0.0..1.0f64],
            places in 0usize..10,
        ) {
            prop_assert_eq!(fast(x, places), format!("{x:.places$}"));
        }

        #[test]
        fn numbers_on_a_half_of_the_last_place_format_as_the_standard_formatter_does(
            n in -10_000_000i64..10_000_000,
            places in 0usize..9,
        ) {
            // n + 1/2 in units of the last place: the ties and their neighbours.
            let x = (n as f64 + 0.5) / 10f64.powi(places as i32);
            for y in [x, f64::from_bits(x.to_bits() + 1), f64::from_bits(x.to_bits() - 1)] {
                prop_assert_eq!(fast(y, places), format!("{y:.places$}"));
            }
        }
    }
}
