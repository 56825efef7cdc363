//! `remote add` and `remote remove` edit the configuration file in place:
//! a hand-written file keeps its comments and layout byte for byte.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use stowage_tests::{cli_with, file_url, tempdir};

#[test]
fn comments_and_layout_survive_an_add_and_a_remove() {
    let (_plugins, cli) = cli_with(&["file"]);
    let home = tempdir();
    let dir = home.path().join("stowage");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    let config = dir.join("config.toml");
    let store = file_url(&home.path().join("store"));
    let original = format!(
        "# Backups of this host. Edited by hand; stowage keeps these lines.\n\
         \n\
         # The disk in the basement.\n\
         [remote.basement]\n\
         url   =   \"{store}\"   # aligned on purpose\n"
    );
    fs::write(&config, &original).unwrap();
    fs::set_permissions(&config, fs::Permissions::from_mode(0o600)).unwrap();
    let cli = cli.env("XDG_CONFIG_HOME", home.path());

    cli.run(["remote", "add", "spare", &format!("{store}/spare")])
        .ok();
    let added = fs::read_to_string(&config).unwrap();
    assert!(added.starts_with(&original), "{added}");
    assert!(added.contains("[remote.spare]"), "{added}");
    // The edited file is read back as it was written.
    cli.run(["ls", "spare:"]).ok();

    cli.run(["remote", "remove", "spare"]).ok();
    assert_eq!(fs::read_to_string(&config).unwrap(), original);
    let mode = fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    cli.run(["remote", "remove", "basement"]).ok();
    assert_eq!(
        fs::read_to_string(&config).unwrap(),
        "# Backups of this host. Edited by hand; stowage keeps these lines.\n"
    );
}
