//! Words and numbers for people: sizes in binary units, counted nouns.

/// A size for people: bytes below 1 KiB, then KiB, MiB or GiB with one decimal
/// (`19 bytes`, `1.5 KiB`, `30.0 MiB`).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if bytes < 1024 {
        return format!("{bytes} {}", plural(bytes, "byte", "bytes"));
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Two sizes for people, exact bytes added when the rounded values would read the same
/// (`30.0 MiB (31457300 bytes)` against `30.0 MiB (31457280 bytes)`).
pub fn human_sizes(a: u64, b: u64) -> (String, String) {
    let (ha, hb) = (human_size(a), human_size(b));
    if ha == hb && a != b && a >= 1024 {
        (format!("{ha} ({a} bytes)"), format!("{hb} ({b} bytes)"))
    } else {
        (ha, hb)
    }
}

/// `one` when `n` is 1, else `many`.
pub fn plural<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// `n` and its noun: `1 marketplace`, `3 marketplaces`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", plural(n, one, many))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_plurals() {
        assert_eq!(human_size(1), "1 byte");
        assert_eq!(human_size(19), "19 bytes");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(31_457_280), "30.0 MiB");
        assert_eq!(human_size(3 << 30), "3.0 GiB");
        assert_eq!(
            human_sizes(31_457_300, 31_457_280),
            (
                "30.0 MiB (31457300 bytes)".to_owned(),
                "30.0 MiB (31457280 bytes)".to_owned()
            )
        );
        assert_eq!(count(1, "image", "images"), "1 image");
        assert_eq!(count(0, "image", "images"), "0 images");
    }
}
