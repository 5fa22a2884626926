//! `--plot FILE.svg`: latency against percentile, one curve per histogram, with the
//! percentile on a "nines" axis (x = -log10(1 - p): 1 = p90, 2 = p99, 3 = p99.9) so the tail
//! gets as much room as the median. SVG only: text is emitted as `<text>` elements, so no
//! font files or fontconfig are needed to draw it.

use std::path::Path;

use hdrhistogram::Histogram;
use plotters::prelude::*;

/// Canvas size, in pixels.
const WIDTH_PX: u32 = 1000;
const HEIGHT_PX: u32 = 600;
/// Most nines drawn (p99.9999), whatever the sample count.
const NINES_MAX: f64 = 6.0;
/// Points per curve per nine.
const STEPS_PER_NINE: usize = 40;

/// Writes one latency-percentile curve per `(label, histogram)` to `path` as SVG.
pub fn latency_percentiles(
    path: &Path,
    title: &str,
    series: &[(String, &Histogram<u64>)],
) -> Result<(), String> {
    let curves: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .filter(|(_, h)| !h.is_empty())
        .map(|(label, h)| (label.as_str(), curve(h)))
        .collect();
    if curves.is_empty() {
        return Err("--plot: no latencies were recorded".into());
    }
    let x_max = curves
        .iter()
        .flat_map(|(_, c)| c.last().map(|p| p.0))
        .fold(1.0, f64::max);
    let y_max = curves
        .iter()
        .flat_map(|(_, c)| c.iter().map(|p| p.1))
        .fold(0.0, f64::max)
        * 1.05;
    draw(path, title, &curves, x_max, y_max.max(0.001)).map_err(|e| format!("--plot: {e}"))
}

/// (nines, latency in ms) from p0 up to the nines the sample count supports: a histogram of
/// n values says nothing beyond -log10(1/n).
fn curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let nines = (h.len() as f64).log10().clamp(1.0, NINES_MAX);
    let steps = (nines * STEPS_PER_NINE as f64).ceil() as usize;
    (0..=steps)
        .map(|i| {
            let x = nines * i as f64 / steps as f64;
            let q = 1.0 - 10f64.powf(-x);
            (x, h.value_at_quantile(q) as f64 / 1e6)
        })
        .collect()
}

/// `2.0` → `p99`, `0.30103` → `p50`.
fn percentile_label(nines: &f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-nines));
    let text = format!("{p:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("p{text}")
}

fn draw(
    path: &Path,
    title: &str,
    curves: &[(&str, Vec<(f64, f64)>)],
    x_max: f64,
    y_max: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .x_labels(x_max.ceil() as usize + 1)
        .x_label_formatter(&percentile_label)
        .draw()?;
    for (i, (label, points)) in curves.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(*label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::new_histogram;

    #[test]
    fn labels_and_curve() {
        assert_eq!(percentile_label(&1.0), "p90");
        assert_eq!(percentile_label(&3.0), "p99.9");
        assert_eq!(percentile_label(&0.0), "p0");
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 1_000).unwrap();
        }
        let c = curve(&h);
        // 1000 samples support 3 nines; latency never decreases along the curve.
        assert_eq!(c.last().map(|p| p.0), Some(3.0));
        assert!(c.windows(2).all(|w| w[0].1 <= w[1].1));
        let p99 = c.iter().find(|p| (p.0 - 2.0).abs() < 1e-9).map(|p| p.1);
        assert!(
            p99.is_some_and(|ms| (0.985..=0.995).contains(&ms)),
            "{p99:?}"
        );
    }

    #[test]
    fn writes_an_svg() {
        let mut h = new_histogram();
        for v in 1..=500u64 {
            h.record(v * 10_000).unwrap();
        }
        let path =
            std::env::temp_dir().join(format!("vexfs-bench-plot-{}.svg", std::process::id()));
        latency_percentiles(&path, "test", &[("a".into(), &h)]).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("p99"));
        assert!(svg.contains("<polyline") || svg.contains("<path"));
    }
}
