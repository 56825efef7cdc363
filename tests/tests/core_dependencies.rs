//! The embeddable library (`stowage`, host/core) depends on no command-line
//! stack: whoever embeds it, or dev-depends on the conformance kit, does not
//! compile clap, indicatif or env_logger.

use stowage_tests::cargo_stdout;

/// The crates only the CLI may pull in.
const CLI_ONLY: [&str; 5] = [
    "clap",
    "clap_complete",
    "clap_mangen",
    "indicatif",
    "env_logger",
];

/// The names of the crates in `cargo tree -p <package> -e normal`.
fn normal_dependencies(package: &str) -> Vec<String> {
    let tree = cargo_stdout(&[
        "tree",
        "--offline",
        "-e",
        "normal",
        "--prefix",
        "none",
        "-p",
        package,
    ]);
    tree.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_library_and_the_kit_have_no_command_line_stack() {
    for package in ["stowage", "stowage-conformance"] {
        let deps = normal_dependencies(package);
        assert!(
            deps.iter().any(|d| d == "abi_stable"),
            "cargo tree -p {package} listed nothing plausible: {deps:?}"
        );
        let bad: Vec<&String> = deps
            .iter()
            .filter(|d| CLI_ONLY.contains(&d.as_str()))
            .collect();
        assert!(bad.is_empty(), "{package} depends on {bad:?}");
    }
    // The check can see such a dependency where there is one.
    assert!(normal_dependencies("stowage-cli")
        .iter()
        .any(|d| d == "clap"));
}
