//! What the benchmarks that draw share: the chart font (plotters' `ab_glyph` text needs a
//! TrueType file at run time, no system font library at build time) and the legend's style.

use plotters::coord::CoordTranslate;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

/// Where a sans-serif TrueType font is looked for (Debian's `fonts-dejavu-core` first);
/// `MARKETMEDIA_BENCH_FONT` names another.
const FONT_PATHS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// Registers the first font found as `sans-serif`.
pub fn load_font() -> Result<(), String> {
    let candidates: Vec<String> = std::env::var("MARKETMEDIA_BENCH_FONT")
        .into_iter()
        .chain(FONT_PATHS.iter().map(|s| s.to_string()))
        .collect();
    for path in &candidates {
        if let Ok(bytes) = std::fs::read(path) {
            // plotters keeps fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            return register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| format!("{path} is not a usable font"));
        }
    }
    Err(format!(
        "no font found (tried {}); set MARKETMEDIA_BENCH_FONT to a .ttf file",
        candidates.join(", ")
    ))
}

/// Draws `chart`'s series labels in the benchmarks' style (a white box with a black border,
/// sans-serif of `size` points).
pub fn legend<'a, DB, CT>(chart: &mut ChartContext<'a, DB, CT>, size: u32) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", size))
        .draw()
        .map_err(|err| format!("drawing failed: {err:?}"))
}
