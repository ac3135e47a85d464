//! Charts as inline SVG, drawn by hand: bars and lines, every data mark carrying its value
//! in `data-v` (for the tooltip and for tests), no script needed to draw them.

use std::fmt::Write as _;

/// Escapes text for HTML and SVG.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A number for display: thousands separated when whole, else up to 4 significant places.
pub(crate) fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        let s = format!("{}", x.abs() as u64);
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if x < 0.0 { format!("-{out}") } else { out }
    } else if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.4}")
    }
}

/// Palette: present/ok, missing, invalid/bad, and two series colours.
pub(crate) const GREEN: &str = "#2e7d32";
pub(crate) const GREY: &str = "#b0bec5";
pub(crate) const RED: &str = "#c62828";
pub(crate) const BLUE: &str = "#1565c0";
pub(crate) const ORANGE: &str = "#ef6c00";
pub(crate) const PURPLE: &str = "#6a1b9a";

/// One series of a bar chart.
pub(crate) struct Series<'a> {
    pub name: &'a str,
    pub colour: &'a str,
    pub values: Vec<f64>,
}

/// Horizontal bars, one row per label; series stacked (`stacked`) or side by side. Values
/// may be negative when not stacked (bars go left of zero).
pub(crate) fn hbars(labels: &[String], series: &[Series<'_>], stacked: bool, unit: &str) -> String {
    let row_h = if stacked {
        18.0
    } else {
        8.0 + 10.0 * series.len() as f64
    };
    let label_w = label_width(labels);
    let plot_w = 520.0;
    let top = 24.0;
    let h = top + row_h * labels.len() as f64 + 30.0;
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for i in 0..labels.len() {
        if stacked {
            hi = hi.max(series.iter().map(|s| s.values[i].max(0.0)).sum());
        } else {
            for s in series {
                lo = lo.min(s.values[i]);
                hi = hi.max(s.values[i]);
            }
        }
    }
    if hi - lo <= 0.0 {
        hi = lo + 1.0;
    }
    let x = |v: f64| label_w + (v - lo) / (hi - lo) * plot_w;
    let marks: usize = labels.len() * series.len();
    let mut s = open(label_w + plot_w + 90.0, h, marks);
    legend(&mut s, series.iter().map(|s| (s.name, s.colour)), label_w);
    for (i, label) in labels.iter().enumerate() {
        let y0 = top + row_h * i as f64;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end" class="lbl">{}</text>"#,
            label_w - 6.0,
            y0 + row_h / 2.0 + 4.0,
            esc(label)
        );
        let mut acc = 0.0;
        for (k, ser) in series.iter().enumerate() {
            let v = ser.values[i];
            let (a, b, y, bh) = if stacked {
                let a = acc;
                acc += v.max(0.0);
                (a, acc, y0 + 2.0, row_h - 4.0)
            } else {
                (v.min(0.0), v.max(0.0), y0 + 4.0 + 10.0 * k as f64, 9.0)
            };
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{bh:.1}" fill="{}" data-v="{v}"><title>{}: {}: {}{}</title></rect>"#,
                x(a),
                (x(b) - x(a)).max(0.5),
                ser.colour,
                esc(label),
                esc(ser.name),
                num(v),
                unit
            );
        }
    }
    // Zero line and axis ends.
    let _ = write!(
        s,
        r##"<line x1="{0:.1}" x2="{0:.1}" y1="{1}" y2="{2}" stroke="#555"/><text x="{3}" y="{4}" class="ax">{5}</text><text x="{6}" y="{4}" class="ax" text-anchor="end">{7}{8}</text>"##,
        x(0.0),
        top - 4.0,
        h - 26.0,
        label_w,
        h - 10.0,
        num(lo),
        label_w + plot_w,
        num(hi),
        unit
    );
    s.push_str("</svg>");
    s
}

/// Vertical bars over numbered bins (a histogram), with vertical marker lines.
pub(crate) fn histogram(
    xs: &[f64],
    counts: &[f64],
    markers: &[(f64, &str, &str)],
    x_label: &str,
    log: bool,
) -> String {
    let (w, h, left, bottom, top) = (780.0, 280.0, 60.0, 40.0, 24.0);
    let plot_w = w - left - 20.0;
    let plot_h = h - bottom - top;
    let t = |c: f64| if log { (c + 1.0).log10() } else { c };
    let max = counts.iter().copied().map(t).fold(0.0, f64::max).max(1e-9);
    let (x0, x1) = (
        xs.first().copied().unwrap_or(0.0),
        xs.last().copied().unwrap_or(1.0) + 1.0,
    );
    let x = |v: f64| left + (v - x0) / (x1 - x0).max(1e-9) * plot_w;
    let mut s = open(w, h, counts.len());
    let bw = (plot_w / counts.len().max(1) as f64 - 1.0).max(1.0);
    for (&xv, &c) in xs.iter().zip(counts) {
        let bh = t(c) / max * plot_h;
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="{bw:.1}" height="{bh:.1}" fill="{BLUE}" data-v="{c}"><title>weight {} to {}: {} pairs</title></rect>"#,
            x(xv),
            top + plot_h - bh,
            num(xv),
            num(xv + 1.0),
            num(c)
        );
    }
    draw_markers(&mut s, markers, &x, (top, top + plot_h));
    axis(&mut s, left, top + plot_h, plot_w, x0, x1, x_label);
    let _ = write!(
        s,
        r#"<text x="4" y="{}" class="ax">{}</text></svg>"#,
        top - 8.0,
        if log { "pairs (log scale)" } else { "pairs" }
    );
    s
}

/// Lines over a shared x axis, y from `y0` to `y1`, with vertical marker lines.
pub(crate) fn lines(
    xs: &[f64],
    series: &[Series<'_>],
    (y0, y1): (f64, f64),
    markers: &[(f64, &str, &str)],
    x_label: &str,
) -> String {
    let (w, h, left, bottom, top) = (780.0, 300.0, 60.0, 40.0, 30.0);
    let plot_w = w - left - 20.0;
    let plot_h = h - bottom - top;
    let (x0, x1) = (
        xs.first().copied().unwrap_or(0.0),
        xs.last().copied().unwrap_or(1.0),
    );
    let x = |v: f64| left + (v - x0) / (x1 - x0).max(1e-9) * plot_w;
    let y = |v: f64| top + plot_h - (v.clamp(y0, y1) - y0) / (y1 - y0).max(1e-9) * plot_h;
    let mut s = open(w, h, series.len());
    legend(&mut s, series.iter().map(|s| (s.name, s.colour)), left);
    for ser in series {
        let pts: Vec<String> = xs
            .iter()
            .zip(&ser.values)
            .filter(|(_, v)| v.is_finite())
            .map(|(&a, &b)| format!("{:.1},{:.1}", x(a), y(b)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2" data-v="{}"><title>{}</title></polyline>"#,
            pts.join(" "),
            ser.colour,
            pts.len(),
            esc(ser.name)
        );
    }
    draw_markers(&mut s, markers, &x, (top, top + plot_h));
    for k in 0..=4 {
        let v = y0 + (y1 - y0) * f64::from(k) / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{0}" y1="{1:.1}" y2="{1:.1}" stroke="#eee"/><text x="{2}" y="{3:.1}" class="ax" text-anchor="end">{4}</text>"##,
            left + plot_w,
            y(v),
            left - 4.0,
            y(v) + 4.0,
            tick(v)
        );
    }
    axis(&mut s, left, top + plot_h, plot_w, x0, x1, x_label);
    s.push_str("</svg>");
    s
}

/// A waterfall: the prior, then each comparison's part, running total drawn as floating bars.
pub(crate) fn waterfall(steps: &[(String, f64)]) -> String {
    let labels: Vec<String> = steps.iter().map(|(l, _)| l.clone()).collect();
    let mut acc = 0.0;
    let mut spans = Vec::new();
    for (_, v) in steps {
        spans.push((acc, acc + v));
        acc += v;
    }
    spans.push((0.0, acc));
    let mut all_labels = labels;
    all_labels.push("match weight".into());
    let lo = spans.iter().map(|s| s.0.min(s.1)).fold(0.0, f64::min);
    let hi = spans.iter().map(|s| s.0.max(s.1)).fold(0.0, f64::max);
    let (label_w, plot_w, row_h, top) = (label_width(&all_labels), 480.0, 18.0, 10.0);
    let h = top + row_h * all_labels.len() as f64 + 24.0;
    let span = (hi - lo).max(1.0);
    let x = |v: f64| label_w + (v - lo) / span * plot_w;
    let mut s = open(label_w + plot_w + 80.0, h, all_labels.len());
    for (i, (label, (a, b))) in all_labels.iter().zip(&spans).enumerate() {
        let y0 = top + row_h * i as f64;
        let v = b - a;
        let colour = if i + 1 == all_labels.len() {
            BLUE
        } else if v >= 0.0 {
            GREEN
        } else {
            RED
        };
        let _ = write!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end" class="lbl">{}</text><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{}" fill="{colour}" data-v="{v}"><title>{}: {:+.2} bits</title></rect><text x="{:.1}" y="{:.1}" class="ax">{:+.2}</text>"#,
            label_w - 6.0,
            y0 + 13.0,
            esc(label),
            x(a.min(*b)),
            y0 + 2.0,
            (x(a.max(*b)) - x(a.min(*b))).max(1.0),
            row_h - 4.0,
            esc(label),
            v,
            x(a.max(*b)) + 4.0,
            y0 + 13.0,
            v
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{0:.1}" x2="{0:.1}" y1="{1}" y2="{2}" stroke="#555"/></svg>"##,
        x(0.0),
        top,
        h - 20.0
    );
    s
}

/// Dashed vertical lines at the markers' x, each with its name (names staggered so that
/// close markers stay readable), from `y0` to `y1`.
fn draw_markers(
    s: &mut String,
    markers: &[(f64, &str, &str)],
    x: &dyn Fn(f64) -> f64,
    (y0, y1): (f64, f64),
) {
    for (i, &(m, name, colour)) in markers.iter().enumerate() {
        let _ = write!(
            s,
            r#"<line x1="{0:.1}" x2="{0:.1}" y1="{y0}" y2="{y1}" stroke="{colour}" stroke-width="2" stroke-dasharray="4 3"/><text x="{1:.1}" y="{2}" class="ax" fill="{colour}">{3}</text>"#,
            x(m),
            x(m) + 3.0,
            y0 + 10.0 + 13.0 * i as f64,
            esc(name)
        );
    }
}

/// An axis tick: at most two decimals, trailing zeros dropped.
fn tick(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

/// Room for the longest label at the labels' font size.
fn label_width(labels: &[String]) -> f64 {
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    (longest as f64 * 7.6 + 12.0).clamp(80.0, 460.0)
}

fn open(w: f64, h: f64, marks: usize) -> String {
    format!(
        r#"<svg class="chart" data-points="{marks}" viewBox="0 0 {w:.0} {h:.0}" width="{w:.0}" height="{h:.0}" role="img" xmlns="http://www.w3.org/2000/svg">"#
    )
}

fn legend<'a>(s: &mut String, items: impl Iterator<Item = (&'a str, &'a str)>, x0: f64) {
    let mut x = x0;
    for (name, colour) in items {
        let _ = write!(
            s,
            r#"<rect x="{x:.0}" y="4" width="10" height="10" fill="{colour}"/><text x="{:.0}" y="13" class="ax">{}</text>"#,
            x + 14.0,
            esc(name)
        );
        x += 24.0 + 7.0 * name.chars().count() as f64;
    }
}

fn axis(s: &mut String, left: f64, y: f64, w: f64, x0: f64, x1: f64, label: &str) {
    let _ = write!(
        s,
        r##"<line x1="{left}" x2="{0}" y1="{y}" y2="{y}" stroke="#555"/>"##,
        left + w
    );
    for k in 0..=5 {
        let v = x0 + (x1 - x0) * f64::from(k) / 5.0;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" class="ax" text-anchor="middle">{}</text>"#,
            left + w * f64::from(k) / 5.0,
            y + 14.0,
            tick(v)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" class="ax" text-anchor="middle">{}</text>"#,
        left + w / 2.0,
        y + 30.0,
        esc(label)
    );
}
