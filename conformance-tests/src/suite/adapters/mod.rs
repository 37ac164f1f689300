//! [`SimHandle`](super::SimHandle) for the bundled simulators, written only against their
//! public accessors. Each starts its simulator in-process with settings suited to a fast
//! suite (short processing delays) and keeps it serving while the handle lives.

mod ebay;
mod lazada;
mod shopee;
mod shopify;
mod smh;
mod tiktok;
mod wechat;

pub use ebay::EbayHandle;
pub use lazada::LazadaHandle;
pub use shopee::ShopeeHandle;
pub use shopify::ShopifyHandle;
pub use smh::SmhHandle;
pub use tiktok::TiktokHandle;
pub use wechat::WechatHandle;

use std::collections::BTreeMap;

/// Flattens a JSON object into `a.b` keys (strings unquoted), for completion fields.
pub(crate) fn flatten(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// A wire record's parameters, with JSON-object values flattened (`report_data.upload_cost`).
pub(crate) fn fields_of(params: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in params {
        match serde_json::from_str::<serde_json::Value>(v) {
            Ok(obj @ serde_json::Value::Object(_)) => flatten(k, &obj, &mut out),
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}
