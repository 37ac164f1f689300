//! `http::retry_after` on any header value the server may send: never a panic, and a delay
//! only for a whole number of seconds or a date that can be read.

use std::time::Duration;

use marketmedia_core::raw::http::retry_after;
use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

fn headers(value: &[u8]) -> Option<HeaderMap> {
    let value = HeaderValue::from_bytes(value).ok()?;
    let mut h = HeaderMap::new();
    h.insert(RETRY_AFTER, value);
    Some(h)
}

/// Dates shaped like IMF-fixdate with fields of any size, and sign.
fn date_like() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&["Sun", "Mon", "Xyz", ""][..]),
        any::<i64>(),
        prop::sample::select(&["Jan", "Feb", "Mar", "Dec", "Foo"][..]),
        prop_oneof![any::<i64>(), 1900i64..2200],
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        prop::sample::select(&["GMT", "UTC", ""][..]),
    )
        .prop_map(|(wd, d, mon, y, h, m, s, tz)| {
            format!("{wd}, {d:02} {mon} {y} {h:02}:{m:02}:{s:02} {tz}")
        })
}

/// `cases` cases, unless `PROPTEST_CASES` asks for another number (a longer fuzzing run).
fn cases(cases: u32) -> ProptestConfig {
    match std::env::var("PROPTEST_CASES") {
        Ok(_) => ProptestConfig::default(),
        Err(_) => ProptestConfig::with_cases(cases),
    }
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn any_bytes_never_panic(value in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Some(h) = headers(&value) {
            let _ = retry_after(&h);
        }
    }

    #[test]
    fn date_like_values_never_panic(value in date_like()) {
        if let Some(h) = headers(value.as_bytes()) {
            let _ = retry_after(&h);
        }
    }

    #[test]
    fn whole_seconds_are_read(secs in any::<u64>()) {
        let h = headers(secs.to_string().as_bytes()).expect("digits are a valid header value");
        prop_assert_eq!(retry_after(&h), Some(Duration::from_secs(secs)));
    }

    #[test]
    fn text_is_no_delay(value in "[a-zA-Z ]{0,30}") {
        if let Some(h) = headers(value.as_bytes()) {
            prop_assert_eq!(retry_after(&h), None);
        }
    }
}

#[test]
fn a_date_in_the_past_is_no_wait_and_one_in_the_future_a_wait() {
    let past = headers(b"Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
    assert_eq!(retry_after(&past), Some(Duration::ZERO));
    let future = headers(b"Fri, 31 Dec 9999 23:59:59 GMT").unwrap();
    assert!(retry_after(&future).is_some_and(|d| d > Duration::from_secs(3600)));
}
