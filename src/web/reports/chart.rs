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
        // Label at most ~12 groups so the text never overlaps.
        let every = labels.len().div_ceil(12).max(1);
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
        let labels_out = labels
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
}
