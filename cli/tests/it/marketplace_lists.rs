//! Every list of marketplaces in the README and the command's docs counts them all: the help
//! texts are built from the registry (unit tests in `args.rs`), and the prose, which cannot
//! be, is checked here against it. A phrase such as "all three marketplaces" or "the three
//! simulators", a list opening with "Shopee, Lazada", or a list of command-line names
//! (`` `shopee`, `lazada` ``) must count or name every marketplace of `marketmedia::registry()`.

use std::path::Path;

/// The newcomer's documents.
const DOCS: [&str; 3] = ["README.md", "docs/cli.md", "docs/batch.md"];

const NUMBERS: [&str; 11] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
];

fn read(doc: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(doc);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{doc}: {e}"))
}

/// The number a word says, in digits or in words.
fn number(word: &str) -> Option<usize> {
    word.parse()
        .ok()
        .or_else(|| NUMBERS.iter().position(|n| *n == word))
}

/// Every "all N marketplaces", "the N simulators", "to N simulated marketplaces", "of N
/// marketplaces": (the phrase, N).
fn counted_phrases(text: &str) -> Vec<(String, usize)> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut found = Vec::new();
    for (i, lead) in words.iter().enumerate() {
        if !["all", "the", "to", "of"].contains(&lead.as_str()) {
            continue;
        }
        let Some(n) = words.get(i + 1).and_then(|w| number(w)) else {
            continue;
        };
        let skip = usize::from(words.get(i + 2).is_some_and(|w| w == "simulated"));
        let end = i + 3 + skip;
        if words
            .get(end - 1)
            .is_some_and(|w| w == "marketplaces" || w == "simulators")
        {
            found.push((words[i..end].join(" "), n));
        }
    }
    found
}

#[test]
fn every_counted_list_counts_every_marketplace() {
    let all = marketmedia::registry().len();
    let mut checked = 0;
    for doc in DOCS {
        for (phrase, n) in counted_phrases(&read(doc)) {
            assert_eq!(
                n, all,
                "{doc}: \"{phrase}\", but there are {all} marketplaces"
            );
            checked += 1;
        }
    }
    // The docs do count them somewhere, so this test can fail.
    assert!(checked > 0);
    assert_eq!(
        counted_phrases(
            "to all three marketplaces, the 3 simulators, of five simulated marketplaces"
        ),
        [
            ("all three marketplaces".to_owned(), 3),
            ("the 3 simulators".to_owned(), 3),
            ("of five simulated marketplaces".to_owned(), 5)
        ]
    );
}

#[test]
fn every_list_of_marketplaces_names_them_all() {
    for doc in DOCS {
        let text = read(doc);
        // Lists in words: "Shopee, Lazada, Tencent SMH, eBay and WeChat".
        for (at, _) in text.match_indices("Shopee, Lazada") {
            let sentence: String = text[at..].chars().take(160).collect();
            let sentence = sentence.split(". ").next().unwrap_or(&sentence);
            for word in ["SMH", "eBay", "WeChat"] {
                assert!(
                    sentence.contains(word),
                    "{doc}: {word} missing from \"{sentence}\""
                );
            }
        }
        // Lists of command-line names: `shopee`, `lazada`, ….
        for (at, _) in text.match_indices("`shopee`, `lazada`") {
            let list: String = text[at..].chars().take(120).collect();
            for p in marketmedia::registry().names() {
                let name = format!("`{p}`");
                assert!(
                    list.contains(&name),
                    "{doc}: {name} missing from \"{list}\""
                );
            }
        }
    }
}
