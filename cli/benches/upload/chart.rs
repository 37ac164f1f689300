//! The chart: upload time against parts in flight, one line per platform, drawn to a PNG.

use std::path::Path;

use plotters::prelude::*;

use crate::common_chart::{legend, load_font};
use crate::{Link, SweepPoint, MIB};

/// Draws `sweep` to `path`.
pub fn draw(sweep: &[SweepPoint], link: &Link, path: &Path) -> Result<(), String> {
    load_font()?;
    let max_c = sweep.iter().map(|p| p.concurrency).max().unwrap_or(1) as f64;
    let max_s = sweep.iter().map(|p| p.millis / 1000.0).fold(0.0, f64::max) * 1.1;
    let root = BitMapBackend::new(path, (960, 600)).into_drawing_area();
    let e = |err: DrawingAreaErrorKind<_>| format!("drawing failed: {err:?}");
    root.fill(&WHITE).map_err(e)?;
    let caption = format!(
        "Upload time against parts in flight ({} ms per request, {} MiB/s per connection, {} MiB/s in all)",
        link.latency_ms,
        link.per_conn_bytes_per_sec / MIB,
        link.total_bytes_per_sec / MIB
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..max_c + 1.0, 0.0..max_s.max(1.0))
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("parts in flight")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("seconds")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(e)?;
    let mut platforms: Vec<&str> = sweep.iter().map(|p| p.platform.as_str()).collect();
    platforms.dedup();
    for (i, platform) in platforms.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(f64, f64)> = sweep
            .iter()
            .filter(|p| p.platform == *platform)
            .map(|p| (p.concurrency as f64, p.millis / 1000.0))
            .collect();
        let bytes = sweep
            .iter()
            .find(|p| p.platform == *platform)
            .map_or(0, |p| p.bytes);
        let ideal = link.ideal(bytes, 3).as_secs_f64();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(e)?
            .label(format!("{platform} {} MiB", bytes / MIB))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 4, color.filled())))
            .map_err(e)?;
        chart
            .draw_series(LineSeries::new(
                vec![(0.0, ideal), (max_c + 1.0, ideal)],
                color.mix(0.5).stroke_width(1),
            ))
            .map_err(e)?
            .label(format!("{platform} ideal {ideal:.2} s"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.mix(0.5)));
    }
    legend(&mut chart, 14)?;
    root.present().map_err(e)?;
    Ok(())
}
