//! The chart font, shared by the benchmarks that draw: plotters' `ab_glyph` text needs a
//! TrueType file at run time (no system font library at build time).

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
