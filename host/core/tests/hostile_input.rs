//! Property tests: URL parsing, prefix splitting, redaction and name
//! validation never panic and keep their promises on arbitrary input.
//! The case count is bounded (CI runs these on every change).

use proptest::prelude::*;
use stowage::{validate_name, Target, MAX_NAME_BYTES};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 2000,
        ..ProptestConfig::default()
    }
}

/// What the name rules say, written independently of the implementation.
fn name_is_valid(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.contains('\0')
        && name.len() <= MAX_NAME_BYTES
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn name_validation_matches_the_rules(name in any::<String>()) {
        prop_assert_eq!(validate_name(&name).is_ok(), name_is_valid(&name));
    }

    #[test]
    fn names_from_hostile_alphabets(name in "[./\\x00 *?\\[\\]'\"\\\\%a-zA-Zé-]{0,300}") {
        prop_assert_eq!(validate_name(&name).is_ok(), name_is_valid(&name));
    }

    #[test]
    fn url_parsing_never_panics(url in any::<String>()) {
        let _ = Target::parse(&url);
    }

    #[test]
    fn handler_chains_split_and_strip_consistently(
        prefixes in proptest::collection::vec("[a-zA-Z][a-zA-Z0-9.-]{0,8}", 0..4),
        scheme in "[a-zA-Z][a-zA-Z0-9.-]{0,8}",
        path in "[a-z0-9/]{0,20}",
    ) {
        let mut chain = prefixes.clone();
        chain.push(scheme.clone());
        let url = format!("{}:///{}", chain.join("+"), path);
        let target = Target::parse(&url).expect("a well-formed chain parses");
        let lower: Vec<String> = chain.iter().map(|h| h.to_ascii_lowercase()).collect();
        prop_assert_eq!(target.handlers(), lower.as_slice());
        let mut t = target;
        for _ in 0..prefixes.len() {
            t = t.strip_first_handler().expect("one handler per prefix can be stripped");
        }
        prop_assert_eq!(t.as_str(), format!("{}:///{}", scheme, path));
        prop_assert!(t.strip_first_handler().is_none());
    }

    #[test]
    fn credentials_never_survive_redaction(
        user in "[a-z]{1,8}",
        password in "[A-Za-z0-9]{6,12}",
        host in "[a-z]{1,8}",
    ) {
        let url = format!("sftp://{user}:{password}@{host}/p");
        if let Ok(t) = Target::parse(&url) {
            prop_assert!(!t.redacted().contains(&password));
            let debug = format!("{:?}", t);
            prop_assert!(!debug.contains(&password));
            prop_assert!(!t.to_string().contains(&password));
        }
    }
}
