//! Server-rendered bar charts: the geometry is computed here, the SVG is
//! written by an askama macro (`templates/reports/_charts.html`), so every
//! label is escaped like any other text and no JavaScript or charting
//! crate is needed. Colours come from the page's CSS variables, so a chart
//! follows light and dark mode; every chart has its numbers in a table
//! beside it.

/// One bar, in SVG user units.
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// `s0`…`s3`: the series' colour class.
    pub class: &'static str,
    /// The tooltip: "2026-11-02 · opened: 12".
    pub tip: String,
}

pub struct Label {
    pub x: f64,
    pub text: String,
}

pub struct Legend {
    pub name: String,
    pub class: &'static str,
}

pub struct Bars {
    pub title: String,
    pub width: f64,
    pub height: f64,
    /// The bottom of the plot (the x axis), in user units.
    pub base: f64,
    pub bars: Vec<Bar>,
    pub labels: Vec<Label>,
    pub legend: Vec<Legend>,
    /// The top of the scale, as a person reads it.
    pub max_label: String,
    pub empty: bool,
}

const CLASSES: [&str; 4] = ["s0", "s1", "s2", "s3"];
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 48.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 40.0;

/// A named series of values, one per label.
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

impl Bars {
    /// Grouped bars: one group per label, one bar per series.
    pub fn grouped(
        title: &str,
        labels: &[String],
        series: &[Series],
        fmt: impl Fn(f64) -> String,
    ) -> Self {
        let max = series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .filter(|v| v.is_finite())
            .fold(0.0_f64, f64::max);
        let plot_w = WIDTH - LEFT - 8.0;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let base = TOP + plot_h;
        let groups = labels.len().max(1) as f64;
        let group_w = plot_w / groups;
        let n = series.len().max(1) as f64;
        let bar_w = (group_w * 0.8 / n).max(1.0);
        // Weeks read as "08-03" under a bar; label only as many groups as
        // fit side by side (about 7 units a character at the 12px font).
        let short: Vec<String> = labels.iter().map(|l| short_label(l)).collect();
        let widest = short.iter().map(|l| l.chars().count()).max().unwrap_or(1) as f64;
        let every = ((widest * 7.0 + 8.0) / group_w).ceil().max(1.0) as usize;
        let mut bars = Vec::new();
        for (i, label) in labels.iter().enumerate() {
            let gx = LEFT + i as f64 * group_w + group_w * 0.1;
            for (j, s) in series.iter().enumerate() {
                let v = s.values.get(i).copied().unwrap_or(0.0);
                let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
                let h = if max > 0.0 { v / max * plot_h } else { 0.0 };
                bars.push(Bar {
                    x: round(gx + j as f64 * bar_w),
                    y: round(base - h),
                    w: round(bar_w),
                    h: round(h),
                    class: CLASSES[j % CLASSES.len()],
                    tip: format!("{label} · {}: {}", s.name, fmt(v)),
                });
            }
        }
        let labels_out = short
            .iter()
            .enumerate()
            .filter(|(i, _)| i % every == 0)
            .map(|(i, l)| Label {
                x: round(LEFT + (i as f64 + 0.5) * group_w),
                text: l.chars().take(14).collect(),
            })
            .collect();
        Bars {
            title: title.to_owned(),
            width: WIDTH,
            height: HEIGHT,
            base: round(base),
            bars,
            labels: labels_out,
            legend: series
                .iter()
                .enumerate()
                .map(|(j, s)| Legend {
                    name: s.name.clone(),
                    class: CLASSES[j % CLASSES.len()],
                })
                .collect(),
            max_label: fmt(max),
            empty: labels.is_empty() || max <= 0.0,
        }
    }

    pub fn left(&self) -> f64 {
        LEFT
    }

    pub fn top(&self) -> f64 {
        TOP
    }

    pub fn right(&self) -> f64 {
        self.width - 8.0
    }
}

/// "2026-08-03" → "08-03"; anything else at most 14 characters.
fn short_label(label: &str) -> String {
    let is_date = label.len() == 10
        && label.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if is_date {
        label[5..].to_owned()
    } else {
        label.chars().take(14).collect()
    }
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tallest_bar_fills_the_plot_and_zero_is_flat() {
        let c = Bars::grouped(
            "t",
            &["a".to_owned(), "b".to_owned()],
            &[Series {
                name: "n".into(),
                values: vec![0.0, 10.0],
            }],
            |v| format!("{v}"),
        );
        assert_eq!(c.bars.len(), 2);
        assert_eq!(c.bars[0].h, 0.0);
        assert_eq!(c.bars[1].y, TOP);
        assert_eq!(c.max_label, "10");
        assert!(!c.empty);
    }

    #[test]
    fn week_labels_are_short_and_never_crowd() {
        let weeks: Vec<String> = (1..=30).map(|d| format!("2026-08-{d:02}")).collect();
        let c = Bars::grouped(
            "t",
            &weeks,
            &[Series {
                name: "n".into(),
                values: vec![1.0; 30],
            }],
            |v| format!("{v}"),
        );
        assert_eq!(c.labels[0].text, "08-01");
        let gap = c.labels[1].x - c.labels[0].x;
        assert!(gap >= 5.0 * 7.0, "labels {gap} apart");
    }
}
