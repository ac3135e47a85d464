//! Properties of blocking, linkage and clustering, checked against naive versions.

use std::collections::{BTreeMap, BTreeSet};

use carematch::block::{Blocker, Mode, Pair};
use carematch::cluster::PersonChange;
use carematch::normalise::nhs_number::parse_nhs_number;
use carematch::normalise::phonetic::soundex;
use carematch::normalise::postcode::{Postcode, parse_postcode};
use carematch::{BlockingRule, Linker, Records};
use proptest::prelude::*;

const SURNAMES: &[&str] = &["Smith", "Smyth", "Jones", "O'Brien", "Patel", "", "Baby"];
const GIVEN: &[&str] = &["Ann", "Anne", "Bob", "Robert", "Zoë", "", "J"];
const DOBS: &[&str] = &[
    "1980-02-01",
    "01/02/1980",
    "1980-01-02",
    "1981-05-05",
    "",
    "1900-01-01",
];
const POSTCODES: &[&str] = &[
    "LS1 4AP", "ls14ap", "LS1 4AQ", "LS2 7HY", "M1 1AE", "", "ZZ99 3VZ",
];
const NHS: &[&str] = &["9434765919", "943 476 5919", "4010232137", "", "1234567890"];
const SEX: &[&str] = &["M", "F", "1", "", "U"];

fn row() -> impl Strategy<Value = [usize; 6]> {
    [
        0..SURNAMES.len(),
        0..GIVEN.len(),
        0..DOBS.len(),
        0..POSTCODES.len(),
        0..NHS.len(),
        0..SEX.len(),
    ]
}

fn csv(prefix: &str, rows: &[[usize; 6]]) -> String {
    let mut s = String::from("id,surname,given_name,dob,postcode,nhs_number,sex\n");
    for (i, r) in rows.iter().enumerate() {
        s.push_str(&format!(
            "{prefix}{i},{},{},{},{},{},{}\n",
            SURNAMES[r[0]], GIVEN[r[1]], DOBS[r[2]], POSTCODES[r[3]], NHS[r[4]], SEX[r[5]]
        ));
    }
    s
}

fn store(sources: &[(&str, String)]) -> Records {
    let mut b = Records::builder();
    for (name, text) in sources {
        b.add_reader(name, text.as_bytes()).unwrap();
    }
    b.build().unwrap().0
}

/// The keys the oracle knows how to compute from public accessors alone.
const KEYS: &[&str] = &[
    "surname",
    "given_name:initial",
    "dob:year",
    "postcode:district",
    "nhs_number",
    "sex",
    "surname:soundex",
];

fn naive_key(r: &Records, key: &str, row: u32) -> Option<String> {
    match key {
        "surname" => r.surname(row).map(str::to_string),
        "given_name:initial" => r
            .given_name(row)
            .and_then(|g| g.chars().next())
            .map(String::from),
        "dob:year" => r.date_of_birth(row).map(|d| d.year().to_string()),
        "postcode:district" => match r.postcode(row).and_then(parse_postcode) {
            Some(Postcode::Uk(p)) => Some(p.district().to_string()),
            _ => None,
        },
        "nhs_number" => r.nhs_number(row).map(|n| n.to_string()),
        "sex" => r.sex(row).map(|s| format!("{s:?}")),
        "surname:soundex" => r.surname(row).and_then(|s| soundex(s.split(' ').next()?)),
        _ => unreachable!(),
    }
}

fn naive_pairs(r: &Records, rules: &[Vec<&str>], candidates: &[Pair]) -> BTreeSet<Pair> {
    candidates
        .iter()
        .copied()
        .filter(|p| {
            rules.iter().any(|keys| {
                keys.iter().all(|k| {
                    let a = naive_key(r, k, p.left);
                    a.is_some() && a == naive_key(r, k, p.right)
                })
            })
        })
        .collect()
}

fn rules_strategy() -> impl Strategy<Value = Vec<Vec<&'static str>>> {
    prop::collection::vec(prop::sample::subsequence(KEYS, 1..=3), 1..=4)
}

fn blocked(r: &Records, rules: &[Vec<&str>], mode: &Mode, chunk: usize) -> Vec<Pair> {
    let rules: Vec<BlockingRule> = rules
        .iter()
        .map(|ks| ks.join(" & ").parse().unwrap())
        .collect();
    let b = Blocker::new(r, &rules, mode).unwrap();
    let mut it = b.pairs(chunk);
    let mut out = Vec::new();
    for c in it.by_ref() {
        assert!(c.len() <= chunk);
        out.extend(c);
    }
    let marginal: u64 = it.produced_per_rule().iter().sum();
    assert_eq!(marginal, out.len() as u64);
    let raw: u64 = b.comparisons_per_rule().iter().sum();
    assert!(raw >= marginal);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Link blocking produces exactly the pairs a naive all-pairs filter keeps, each once.
    #[test]
    fn link_blocking_equals_naive_all_pairs(
        left in prop::collection::vec(row(), 0..25),
        right in prop::collection::vec(row(), 0..25),
        rules in rules_strategy(),
        chunk in 1usize..50,
    ) {
        let r = store(&[("l", csv("L", &left)), ("r", csv("R", &right))]);
        let (nl, nr) = (left.len() as u32, right.len() as u32);
        let mode = Mode::Link { left: 0..nl, right: nl..nl + nr };
        let got = blocked(&r, &rules, &mode, chunk);
        let set: BTreeSet<Pair> = got.iter().copied().collect();
        prop_assert_eq!(set.len(), got.len(), "a pair came out twice");
        let all: Vec<Pair> = (0..nl)
            .flat_map(|a| (nl..nl + nr).map(move |b| Pair { left: a, right: b }))
            .collect();
        prop_assert_eq!(set, naive_pairs(&r, &rules, &all));
    }

    /// Dedupe blocking: the same, over unordered pairs of one source.
    #[test]
    fn dedupe_blocking_equals_naive_all_pairs(
        rows in prop::collection::vec(row(), 0..30),
        rules in rules_strategy(),
        chunk in 1usize..50,
    ) {
        let r = store(&[("d", csv("D", &rows))]);
        let n = rows.len() as u32;
        let got = blocked(&r, &rules, &Mode::Dedupe { rows: 0..n }, chunk);
        let set: BTreeSet<Pair> = got.iter().copied().collect();
        prop_assert_eq!(set.len(), got.len(), "a pair came out twice");
        prop_assert!(got.iter().all(|p| p.left < p.right));
        let all: Vec<Pair> = (0..n)
            .flat_map(|a| (a + 1..n).map(move |b| Pair { left: a, right: b }))
            .collect();
        prop_assert_eq!(set, naive_pairs(&r, &rules, &all));
    }

    /// Dedupe links and person ids do not depend on the order of the input rows.
    #[test]
    fn dedupe_and_clusters_are_independent_of_row_order(
        rows in prop::collection::vec(row(), 1..30),
        seed in any::<u64>(),
    ) {
        let run = |order: &[usize]| {
            let mut text = String::from("id,surname,given_name,dob,postcode,nhs_number,sex\n");
            let body = csv("D", &rows);
            let lines: Vec<&str> = body.lines().skip(1).collect();
            for &i in order {
                text.push_str(lines[i]);
                text.push('\n');
            }
            let r = store(&[("d", text)]);
            let result = Linker::builder().build().unwrap().dedupe(&r, 0).unwrap();
            let links: Vec<(String, String, Option<u16>)> = result
                .links
                .iter()
                .map(|l| (r.id(l.pair.left).to_string(), r.id(l.pair.right).to_string(), l.rule))
                .collect();
            let clusters = result.clusters(&r);
            let people: BTreeMap<String, String> = (0..r.len() as u32)
                .map(|row| (r.id(row).to_string(), clusters.person_id(row).to_string()))
                .collect();
            (links, people)
        };
        let forward: Vec<usize> = (0..rows.len()).collect();
        let mut shuffled = forward.clone();
        // Fisher-Yates with a tiny LCG: proptest supplies the seed.
        let mut s = seed | 1;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        prop_assert_eq!(run(&forward), run(&shuffled));
    }
}

/// u comes out of random pairs as the known share of agreement among non-matches: two
/// sources of people with sex drawn 30% M / 70% F, no one in both, so u(agree) is
/// 0.3² + 0.7² = 0.58.
#[test]
fn u_from_random_pairs_recovers_a_known_agreement_rate() {
    let make = |prefix: &str, seed: u64| {
        let mut s = String::from("id,sex,dob\n");
        let mut x = seed;
        for i in 0..2000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let sex = if (x >> 33) % 10 < 3 { "M" } else { "F" };
            s.push_str(&format!("{prefix}{i},{sex},19{:02}-01-01\n", 10 + i % 80));
        }
        s
    };
    let r = store(&[("l", make("L", 1)), ("r", make("R", 2))]);
    let mode = carematch::block::Mode::link(&r, 0, 1).unwrap();
    let comparisons = vec![carematch::compare::Comparison::for_field("sex").unwrap()];
    let options = carematch::model::TrainOptions {
        sessions: vec!["dob".parse().unwrap()],
        ..Default::default()
    };
    let model = carematch::Model::train(&r, &mode, &comparisons, &options).unwrap();
    let t = model.training().unwrap();
    assert!(!t.u_exhaustive, "4M pairs: u must be sampled");
    assert!(
        (model.u(0, 1) - 0.58).abs() < 0.01,
        "u(agree) = {}",
        model.u(0, 1)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// No input makes reading panic: any bytes after a valid header give records or an
    /// error, and any bytes at all give an error or records.
    #[test]
    fn arbitrary_bytes_never_panic_the_reader(
        body in prop::collection::vec(any::<u8>(), 0..400),
        with_header in any::<bool>(),
    ) {
        let mut input = if with_header {
            b"id,given_name,surname,dob,sex,postcode,nhs_number,address\n".to_vec()
        } else {
            Vec::new()
        };
        input.extend(body);
        let mut b = Records::builder();
        if b.add_reader("fuzz.csv", input.as_slice()).is_ok()
            && let Ok((r, q)) = b.build() {
                prop_assert_eq!(q.sources[0].rows as usize, r.len());
            }
    }

    /// Arbitrary field values (any Unicode, huge, empty) go through the whole pipeline,
    /// model included, without a panic, and every written probability is a number in 0..=1.
    #[test]
    fn arbitrary_values_never_panic_the_pipeline(
        rows in prop::collection::vec(prop::collection::vec("\\PC{0,12}", 7), 2..12),
    ) {
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut left = String::from("id,given_name,surname,dob,sex,postcode,nhs_number\n");
        let mut right = left.clone();
        for (i, r) in rows.iter().enumerate() {
            let line: Vec<String> = r.iter().map(|v| quote(v)).collect();
            left.push_str(&format!("L{i},{}\n", line[..6].join(",")));
            right.push_str(&format!("R{i},{}\n", line[1..].join(",")));
        }
        let r = store(&[("l", left), ("r", right)]);
        let mode = carematch::block::Mode::link(&r, 0, 1).unwrap();
        let model = carematch::Model::train(
            &r,
            &mode,
            &carematch::compare::Comparison::defaults(),
            &carematch::model::TrainOptions::default(),
        )
        .unwrap();
        let mut b = Linker::builder();
        b.model(Some(model));
        let result = b.build().unwrap().link(&r, 0, 1).unwrap();
        for l in &result.links {
            let p = l.probability().unwrap().get();
            prop_assert!((0.0..=1.0).contains(&p));
        }
    }
}

/// Person ids carried over from an earlier run: merges and splits are reported, and the
/// survivors are chosen as documented.
#[test]
fn person_ids_carry_over_with_merges_and_splits_reported() {
    let text = "id,surname\nA1,x\nA2,x\nA3,x\nA4,x\nA5,x\n".to_string();
    let r = store(&[("d.csv", text)]);
    let row = |id: &str| (0..r.len() as u32).find(|&x| r.id(x) == id).unwrap();
    let p = |a: &str, b: &str| {
        (
            Pair {
                left: row(a),
                right: row(b),
            },
            0u16,
        )
    };
    let previous = carematch::cluster::PreviousIds::from_triples([
        ("Px", "d.csv", "A1"),
        ("Px", "d.csv", "A2"),
        ("Py", "d.csv", "A3"),
        ("Pz", "d.csv", "A4"),
        ("Pz", "d.csv", "A5"),
    ]);
    let mut c = carematch::Clusters::new(&r, &[p("A1", "A2"), p("A2", "A3")]);
    let changes = c.carry_over(&r, &previous);
    assert_eq!(c.person_id(row("A1")), "Px");
    assert_eq!(c.person_id(row("A3")), "Px", "Py merged into Px");
    let merge = PersonChange::Merge {
        kept: "Px".to_string(),
        absorbed: vec!["Py".to_string()],
    };
    assert_eq!(changes.merges().collect::<Vec<_>>(), [&merge]);
    assert_eq!(
        c.person_id(row("A4")),
        "Pz",
        "the part with the smallest record keeps Pz"
    );
    let a5 = c.person_id(row("A5")).to_string();
    assert!(a5.starts_with('P') && a5 != "Pz");
    let split = PersonChange::Split {
        kept: "Pz".to_string(),
        new: vec![a5],
    };
    assert_eq!(changes.changes, [merge, split], "merges first, then splits");
    assert_eq!((changes.kept, changes.new), (2, 1));
    // Carrying over the ids just made changes nothing.
    let now: Vec<(String, String)> = (0..r.len() as u32)
        .map(|x| (c.person_id(x).to_string(), r.id(x).to_string()))
        .collect();
    let again = carematch::cluster::PreviousIds::from_triples(
        now.iter().map(|(p, id)| (p.as_str(), "d.csv", id.as_str())),
    );
    let mut c2 = carematch::Clusters::new(&r, &[p("A1", "A2"), p("A2", "A3")]);
    let changes = c2.carry_over(&r, &again);
    assert!(changes.changes.is_empty());
    for x in 0..r.len() as u32 {
        assert_eq!(c2.person_id(x), c.person_id(x));
    }
}

// ---------------------------------------------------------------------------------------
// Oracle for the comparisons: the fast path (interned ids, row-major features) against a
// naive version computed from the normalised strings alone.

const O_GIVEN: &[&str] = &[
    "Elizabeth",
    "Liz",
    "Beth",
    "Elisabeth",
    "John",
    "Jon",
    "Jonathan",
    "Smith",
    "",
];
const O_SURNAME: &[&str] = &[
    "Smith", "Smyth", "Smithe", "John", "Jones", "O'Brien", "Obrien", "",
];
const O_DOB: &[&str] = &[
    "1980-02-01",
    "1980-01-02",
    "1980-02-04",
    "1980-02-28",
    "1981-01-15",
    "1990-06-06",
    "",
];
const O_POSTCODE: &[&str] = &[
    "LS1 4AP",
    "LS1 4AQ",
    "LS1 5XX",
    "LS2 7HY",
    "M1 1AE",
    "75008 Paris",
    "",
];
const O_ADDRESS: &[&str] = &[
    "12 High Street, Leeds",
    "12 High St Leeds",
    "14 Low Road",
    "",
];
const O_NHS: &[&str] = &["9434765919", "9434765918", "4010232137", ""];
const O_SEX: &[&str] = &["M", "F", ""];

#[allow(
    clippy::too_many_lines,
    reason = "the naive reference: every comparison written out plainly, one after another"
)]
fn naive_levels(r: &Records, raw_nhs: &[&str], a: u32, b: u32) -> Vec<String> {
    use carematch::compare::jaro_winkler;
    use carematch::normalise::name::{are_nickname_variants, canonical_given_name};
    use carematch::normalise::phonetic::nysiis;
    let first = |s: &str| s.split(' ').next().unwrap_or("").to_string();
    let swapped = match (r.given_name(a), r.surname(a), r.given_name(b), r.surname(b)) {
        (Some(ga), Some(sa), Some(gb), Some(sb)) => {
            let exact = ga == sb && gb == sa && ga != sa;
            // Swapped with a typo: the crossed names similar, starting alike (issue 11).
            let c0 = |s: &str| s.chars().next();
            let fuzzy = ga != gb
                && sa != sb
                && ga != sa
                && c0(ga) == c0(sb)
                && c0(sa) == c0(gb)
                && jaro_winkler(ga, sb) >= 0.9
                && jaro_winkler(sa, gb) >= 0.9;
            exact || fuzzy
        }
        _ => false,
    };
    let phonetic = |x: &str, y: &str| {
        let (x, y) = (first(x), first(y));
        (soundex(&x).is_some() && soundex(&x) == soundex(&y))
            || (nysiis(&x).is_some() && nysiis(&x) == nysiis(&y))
    };
    let jw = |x: &str, y: &str, from: &[&str]| -> Option<String> {
        let s = jaro_winkler(x, y);
        [0.92, 0.88]
            .iter()
            .zip(from)
            .find(|(t, _)| s >= **t)
            .map(|(_, n)| n.to_string())
    };
    let mut out = Vec::new();
    // Given name.
    out.push(match (r.given_name(a), r.given_name(b)) {
        (Some(_), Some(_)) if swapped => "null".into(),
        (Some(x), Some(y)) if x == y => "exact".into(),
        (Some(x), Some(y)) => {
            let (tx, ty) = (first(x), first(y));
            let canon = |t: &str| canonical_given_name(t).map_or(t.to_string(), str::to_string);
            if canon(&tx) == canon(&ty) || are_nickname_variants(&tx, &ty) {
                "nickname".into()
            } else if let Some(l) = jw(x, y, &["jaro_winkler>=0.92", "jaro_winkler>=0.88"]) {
                l
            } else if phonetic(x, y) {
                "phonetic".into()
            } else {
                "else".into()
            }
        }
        _ => "null".into(),
    });
    // Surname.
    out.push(match (r.surname(a), r.surname(b)) {
        (Some(x), Some(y)) if x == y => "exact".into(),
        (Some(_), Some(_)) if swapped => "swapped".into(),
        (Some(x), Some(y)) => jw(x, y, &["jaro_winkler>=0.92", "jaro_winkler>=0.88"])
            .unwrap_or_else(|| {
                if phonetic(x, y) {
                    "phonetic".into()
                } else {
                    "else".into()
                }
            }),
        _ => "null".into(),
    });
    // Date of birth.
    out.push(match (r.date_of_birth(a), r.date_of_birth(b)) {
        (Some(x), Some(y)) => {
            let digits = |d: u32| format!("{d:08}").into_bytes();
            let (dx, dy) = (digits(x.to_u32()), digits(y.to_u32()));
            let diff: Vec<usize> = (0..8).filter(|&i| dx[i] != dy[i]).collect();
            let one = diff.len() == 1
                || (diff.len() == 2
                    && diff[1] == diff[0] + 1
                    && dx[diff[0]] == dy[diff[1]]
                    && dx[diff[1]] == dy[diff[0]]);
            if x == y {
                "exact".into()
            } else if x.year() == y.year() && x.month() == y.day() && x.day() == y.month() {
                "day_month_swapped".into()
            } else if one {
                "one_digit".into()
            } else if x.year() == y.year() && x.month() == y.month() {
                "year_month".into()
            } else if (x.days_since_epoch() - y.days_since_epoch()).abs() <= 365 {
                "within_year".into()
            } else {
                "else".into()
            }
        }
        _ => "null".into(),
    });
    // Location.
    let words = |s: &str| {
        s.split(' ')
            .map(str::to_string)
            .collect::<BTreeSet<String>>()
    };
    let (pa, pb) = (r.postcode(a), r.postcode(b));
    let same_address = match (r.address(a), r.address(b)) {
        (Some(x), Some(y)) => {
            let (wx, wy) = (words(x), words(y));
            let j = wx.intersection(&wy).count() as f64 / wx.union(&wy).count() as f64;
            let differs = matches!((pa, pb), (Some(p), Some(q)) if p != q);
            !differs && (x == y || j >= 0.8)
        }
        _ => false,
    };
    out.push(if same_address {
        "same_address".into()
    } else {
        match (pa.and_then(parse_postcode), pb.and_then(parse_postcode)) {
            (Some(x), Some(y)) if x == y => "unit".into(),
            (Some(Postcode::Uk(x)), Some(Postcode::Uk(y))) => {
                if x.sector() == y.sector() {
                    "sector".into()
                } else if x.district() == y.district() {
                    "district".into()
                } else if x.area() == y.area() {
                    "area".into()
                } else {
                    "else".into()
                }
            }
            (Some(_), Some(_)) => "else".into(),
            // Two addresses, no postcode on either side: the words alone decide.
            _ if pa.is_none()
                && pb.is_none()
                && r.address(a).is_some()
                && r.address(b).is_some() =>
            {
                let (wx, wy) = (words(r.address(a).unwrap()), words(r.address(b).unwrap()));
                let common = wx.intersection(&wy).count();
                if common >= 2 && common * 4 >= wx.len().min(wy.len()) * 3 {
                    "same_address".into()
                } else {
                    "else".into()
                }
            }
            _ => "null".into(),
        }
    });
    // NHS number: valid ones compare; one that failed its check digit counts when one digit
    // (or one adjacent swap) from the other side's.
    out.push(match (r.nhs_number(a), r.nhs_number(b)) {
        (Some(x), Some(y)) => {
            if x == y {
                "exact".into()
            } else {
                "different".into()
            }
        }
        (x, y) => {
            let raw = |row: u32, valid: Option<u64>| -> Option<Vec<u8>> {
                if let Some(v) = valid {
                    Some(format!("{v:010}").into_bytes())
                } else {
                    let s = raw_nhs[row as usize];
                    (s.len() == 10 && parse_nhs_number(s).is_err()).then(|| s.as_bytes().to_vec())
                }
            };
            match (raw(a, x), raw(b, y)) {
                (Some(p), Some(q)) if x.is_none() || y.is_none() => {
                    let diff: Vec<usize> = (0..10).filter(|&i| p[i] != q[i]).collect();
                    let near = diff.len() == 1
                        || (diff.len() == 2
                            && diff[1] == diff[0] + 1
                            && p[diff[0]] == q[diff[1]]
                            && p[diff[1]] == q[diff[0]]);
                    if near {
                        "one_digit".into()
                    } else {
                        "null".into()
                    }
                }
                _ => "null".into(),
            }
        }
    });
    // Sex.
    out.push(match (r.sex(a), r.sex(b)) {
        (Some(x), Some(y)) => {
            if x == y {
                "agree".into()
            } else {
                "disagree".into()
            }
        }
        _ => "null".into(),
    });
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    /// Every level the fast comparer gives equals the naive one, on every pair.
    #[test]
    fn fast_comparisons_equal_naive_ones(
        rows in prop::collection::vec(
            [0..O_GIVEN.len(), 0..O_SURNAME.len(), 0..O_DOB.len(), 0..O_POSTCODE.len(),
             0..O_ADDRESS.len(), 0..O_NHS.len(), 0..O_SEX.len()],
            2..14,
        ),
    ) {
        let mut text = String::from("id,given_name,surname,dob,postcode,address,nhs_number,sex\n");
        let mut raw_nhs = Vec::new();
        for (i, v) in rows.iter().enumerate() {
            text.push_str(&format!(
                "R{i},{},{},{},{},\"{}\",{},{}\n",
                O_GIVEN[v[0]], O_SURNAME[v[1]], O_DOB[v[2]], O_POSTCODE[v[3]], O_ADDRESS[v[4]], O_NHS[v[5]], O_SEX[v[6]]
            ));
            raw_nhs.push(O_NHS[v[5]]);
        }
        let r = store(&[("o", text)]);
        let model = crate::index::flat_model();
        let scorer = carematch::model::Scorer::new(&model, &r).unwrap();
        for a in 0..r.len() as u32 {
            for b in 0..r.len() as u32 {
                if a == b { continue; }
                let fast: Vec<String> = scorer
                    .explain(Pair { left: a, right: b })
                    .contributions
                    .into_iter()
                    .map(|c| c.level)
                    .collect();
                prop_assert_eq!(fast, naive_levels(&r, &raw_nhs, a, b), "rows {} and {}", a, b);
            }
        }
    }
}
