//! The marketplaces the command knows.

use std::fmt;
use std::str::FromStr;

use marketmedia_core::Error;

/// A marketplace the command can upload to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    /// Shopee Open Platform `media_space`.
    Shopee,
    /// Lazada Media Center.
    Lazada,
    /// Tencent Smart Media Hosting.
    Smh,
    /// eBay Media API.
    Ebay,
    /// WeChat Channels Store (微信小店).
    Wechat,
}

impl Platform {
    /// Every marketplace, in the order the command reports them.
    pub const ALL: [Platform; 5] = [
        Platform::Shopee,
        Platform::Lazada,
        Platform::Smh,
        Platform::Ebay,
        Platform::Wechat,
    ];

    /// The name used on the command line, in reports and in the providers' rules.
    pub fn name(self) -> &'static str {
        match self {
            Platform::Shopee => marketmedia_shopee::PLATFORM,
            Platform::Lazada => marketmedia_lazada::PLATFORM,
            Platform::Smh => marketmedia_smh::PLATFORM,
            Platform::Ebay => marketmedia_ebay::PLATFORM,
            Platform::Wechat => marketmedia_wechat::PLATFORM,
        }
    }

    /// The marketplace's name in sentences (help texts, docs): `Shopee`, `Tencent SMH`, ….
    pub fn title(self) -> &'static str {
        match self {
            Platform::Shopee => "Shopee",
            Platform::Lazada => "Lazada",
            Platform::Smh => "Tencent SMH",
            Platform::Ebay => "eBay",
            Platform::Wechat => "WeChat Channels Store",
        }
    }

    /// Every marketplace's [`title`](Self::title) as one English list: `Shopee, Lazada, Tencent
    /// SMH, eBay and WeChat Channels Store`. Help texts say this, so they follow [`Self::ALL`].
    pub fn all_in_words() -> String {
        in_words(&Platform::ALL.map(Platform::title))
    }

    /// The prefix of this marketplace's environment variables (`MARKETMEDIA_SHOPEE_`, …).
    pub fn env_prefix(self) -> &'static str {
        match self {
            Platform::Shopee => "MARKETMEDIA_SHOPEE_",
            Platform::Lazada => "MARKETMEDIA_LAZADA_",
            Platform::Smh => "MARKETMEDIA_SMH_",
            Platform::Ebay => "MARKETMEDIA_EBAY_",
            Platform::Wechat => "MARKETMEDIA_WECHAT_",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Platform {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Platform::ALL
            .into_iter()
            .find(|p| p.name() == wanted)
            .ok_or_else(|| {
                let names = Platform::ALL.map(Platform::name);
                let (last, first) = names.split_last().unwrap_or((&"", &[]));
                Error::invalid_input(format!(
                    "unknown marketplace {s:?}; expected {} or {last}",
                    first.join(", ")
                ))
            })
    }
}

/// `a`, `a and b`, `a, b and c`: a list in words.
pub fn in_words(items: &[&str]) -> String {
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// The largest image (width, height in pixels) a marketplace documents, when it documents
/// one: Lazada's 5000 × 5000 px (`docs/platforms/lazada.md`). Shopee and SMH document no
/// pixel limit, only sizes and formats.
pub fn max_image_dimensions(platform: &str) -> Option<(u32, u32)> {
    let side = marketmedia_lazada::config::MAX_IMAGE_SIDE;
    (platform == Platform::Lazada.name()).then_some((side, side))
}

/// The marketplaces in `list` without repeats, in [`Platform::ALL`] order; all of them when
/// `list` is empty.
pub fn selection(list: &[Platform]) -> Vec<Platform> {
    if list.is_empty() {
        return Platform::ALL.to_vec();
    }
    Platform::ALL
        .into_iter()
        .filter(|p| list.contains(p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_orders_the_selection() {
        assert_eq!("SMH".parse::<Platform>().ok(), Some(Platform::Smh));
        assert!("amazon".parse::<Platform>().is_err());
        assert_eq!(
            selection(&[Platform::Smh, Platform::Shopee, Platform::Smh]),
            vec![Platform::Shopee, Platform::Smh]
        );
        assert_eq!(selection(&[]), Platform::ALL.to_vec());
    }

    #[test]
    fn lists_in_words_name_every_marketplace() {
        assert_eq!(in_words(&[]), "");
        assert_eq!(in_words(&["a"]), "a");
        assert_eq!(in_words(&["a", "b", "c"]), "a, b and c");
        let all = Platform::all_in_words();
        assert_eq!(all.matches(", ").count() + 1, Platform::ALL.len() - 1);
        for p in Platform::ALL {
            assert!(all.contains(p.title()), "{all}");
        }
        let err = "amazon".parse::<Platform>().unwrap_err().to_string();
        for p in Platform::ALL {
            assert!(err.contains(p.name()), "{err}");
        }
        assert!(err.contains("smh, ebay or wechat"), "{err}");
    }
}
