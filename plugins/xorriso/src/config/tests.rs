use super::*;
use crate::ErrorKind;

fn parse(url: &str) -> Result<Config> {
    Config::parse(url, &EnvSettings::default(), Path::new("/work/cwd"))
}

fn env(pairs: &[(&str, &str)]) -> EnvSettings {
    EnvSettings::from_lookup(|k| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| OsString::from(*v))
    })
}

#[test]
fn absolute_relative_and_dir() {
    let c = parse("xorriso:///srv/b/img.iso").unwrap();
    assert_eq!(c.target, Target::Image("/srv/b/img.iso".into()));
    assert_eq!(c.iso_dir, "/");
    let c = parse("xorriso://rel/img.iso:/dup").unwrap();
    assert_eq!(c.target, Target::Image("/work/cwd/rel/img.iso".into()));
    assert_eq!(c.iso_dir, "/dup");
    let c = parse("XORRISO:///srv/img.iso:dup//x/").unwrap();
    assert_eq!(c.iso_dir, "/dup/x");
    assert_eq!(c.iso_path("n"), "/dup/x/n");
    let c = parse("xorriso:///srv/a%20b%3Ac.iso:/d%20e").unwrap();
    assert_eq!(c.target, Target::Image("/srv/a b:c.iso".into()));
    assert_eq!(c.iso_dir, "/d e");
    assert_eq!(c.iso_path("n"), "/d e/n");
    let c = parse("xorriso:/srv/x.iso").unwrap();
    assert_eq!(c.target, Target::Image("/srv/x.iso".into()));
    // duplicity's docstring form is the *relative* device dev/sr0.
    let c = parse("xorriso://dev/sr0:/p").unwrap();
    assert_eq!(c.target, Target::Image("/work/cwd/dev/sr0".into()));
}

#[test]
fn bad_urls() {
    for u in [
        "file:///x.iso",
        "xorriso:rel.iso",
        "xorriso://",
        "xorriso:///x.iso#frag",
        "xorriso:///x.iso:/a/../b",
        "xorriso:///dir/",
        "xorriso:///x%zz.iso",
        "xorriso:///x.iso?colour=blue",
        "xorriso:///x.iso?batch=0",
        "xorriso:///x.iso?commit=sometimes",
        "xorriso:///x.iso?commit=each&batch=3",
        "xorriso:///x.iso?batch=2&batch=3",
    ] {
        let e = parse(u).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{u}: {e}");
    }
    let e = parse("xorriso:///x.iso?colour=blue").unwrap_err();
    assert!(e.to_string().contains("colour"), "{e}");
}

#[test]
fn query_parameters() {
    let c = parse("xorriso:///x.iso?volid=BKP_1&commit=each").unwrap();
    assert_eq!(c.volid.as_deref(), Some("BKP_1"));
    assert_eq!(c.commit, CommitPolicy::Each);
    let c = parse("xorriso:///x.iso?batch=7&batch_bytes=64M").unwrap();
    assert_eq!(
        c.commit,
        CommitPolicy::Batch {
            max_changes: 7,
            max_bytes: 64 << 20
        }
    );
    let c = parse("xorriso:///x.iso").unwrap();
    assert_eq!(
        c.commit,
        CommitPolicy::Batch {
            max_changes: DEFAULT_BATCH_CHANGES,
            max_bytes: DEFAULT_BATCH_BYTES
        }
    );
    let long = "A".repeat(33);
    let e = parse(&format!("xorriso:///x.iso?volid={long}")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("33"), "{e}");
    assert!(parse(&format!("xorriso:///x.iso?volid={}", "A".repeat(32))).is_ok());
}

#[test]
fn environment_is_strict() {
    let u = "xorriso:///x.iso";
    let cwd = Path::new("/");
    let c = Config::parse(u, &env(&[("XORRISO_WRITE_SPEED", "max")]), cwd).unwrap();
    assert_eq!(c.write_speed, WriteSpeed::Max);
    let e = Config::parse(u, &env(&[("XORRISO_WRITE_SPEED", "8x")]), cwd).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("8x"), "{e}");
    let c = Config::parse(u, &env(&[("XORRISO_WRITE_SPEED", "")]), cwd).unwrap();
    assert_eq!(c.write_speed, WriteSpeed::Min);
    let c = Config::parse(
        u,
        &env(&[("XORRISO_ARGS", "-md5 all -application_id 'my app'")]),
        cwd,
    )
    .unwrap();
    assert_eq!(c.extra_args, ["-md5", "all", "-application_id", "my app"]);
    let e = Config::parse(u, &env(&[("XORRISO_ARGS", "-x 'open")]), cwd).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let c = Config::parse(u, &env(&[("XORRISO_PATH", "/opt/x/xorriso")]), cwd).unwrap();
    assert_eq!(c.xorriso, PathBuf::from("/opt/x/xorriso"));
    assert!(c.xorriso_from_env);
}

#[test]
fn drive_arguments() {
    // No drive exists here: /dev/sr0 is still recognised by its name.
    let e = env(&[
        ("XORRISO_WRITE_SPEED", "max"),
        ("XORRISO_ASSERT_VOLID", "BKP*"),
        ("XORRISO_ARGS", "-md5 all"),
    ]);
    let c = Config::parse("xorriso:///dev/sr0:/backups", &e, Path::new("/")).unwrap();
    assert_eq!(c.target, Target::Drive("/dev/sr0".into()));
    assert_eq!(c.iso_dir, "/backups");
    let start = c.start_args();
    assert_eq!(&start[..2], ["-abort_on", "NEVER"]);
    assert_eq!(&start[start.len() - 4..], ["-md5", "all", "-dialog", "on"]);
    assert!(start.windows(2).any(|w| w == ["-iso_rr_pattern", "off"]));
    assert!(start.windows(2).any(|w| w == ["-backslash_codes", "on"]));
    assert_eq!(
        c.load_commands(),
        [
            "-assert_volid 'BKP*' FAILURE",
            "-speed max",
            "-dev '/dev/sr0'"
        ]
    );
    // A wildcard assertion is not a usable volume id for a new disc.
    assert_eq!(c.volid_for_new_medium(), None);
    let c = Config::parse(
        "xorriso:///dev/cdrom",
        &EnvSettings::default(),
        Path::new("/"),
    )
    .unwrap();
    assert_eq!(c.target, Target::Drive("/dev/cdrom".into()));
    assert_eq!(c.load_commands(), ["-speed min", "-dev '/dev/cdrom'"]);
    // Image files are stdio: pseudo-drives, also under /dev.
    let c = parse("xorriso:///dev/shm/b%20k.iso").unwrap();
    assert_eq!(c.target, Target::Image("/dev/shm/b k.iso".into()));
    assert_eq!(c.load_commands()[1], "-dev 'stdio:/dev/shm/b\\x20k.iso'");
    let c = Config::parse(
        "xorriso:///i.iso",
        &env(&[("XORRISO_ASSERT_VOLID", "BKP1")]),
        Path::new("/"),
    )
    .unwrap();
    assert_eq!(c.volid_for_new_medium(), Some("BKP1"));
}

#[test]
fn classify_by_metadata() {
    let dev = |p: &str| classify(PathBuf::from(p), |_| Err(std::io::Error::other("absent")));
    assert!(matches!(dev("/dev/sr0"), Target::Drive(_)));
    assert!(matches!(dev("/dev/sr12"), Target::Drive(_)));
    assert!(matches!(dev("/dev/dvd"), Target::Drive(_)));
    assert!(matches!(dev("/dev/srx"), Target::Image(_)));
    assert!(matches!(dev("/dev/shm/sr0"), Target::Image(_)));
    assert!(matches!(dev("/srv/sr0"), Target::Image(_)));
    // An existing character device is a drive whatever its name.
    assert!(matches!(
        classify(PathBuf::from("/dev/null"), |p| std::fs::metadata(p)),
        Target::Drive(_)
    ));
}

#[test]
fn sizes() {
    assert_eq!(parse_size("10"), Some(10));
    assert_eq!(parse_size("2K"), Some(2048));
    assert_eq!(parse_size("1g"), Some(1 << 30));
    assert_eq!(parse_size("0"), None);
    assert_eq!(parse_size("5x"), None);
}
