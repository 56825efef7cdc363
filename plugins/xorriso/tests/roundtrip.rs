//! Round trips through real xorriso: sizes, hostile names, pending-change visibility,
//! replacement, deletes, move, query_list, and an independent reader (isoinfo).

mod common;

use common::*;
use stowage_xorriso::{ErrorKind, XorrisoBackend};

#[test]
fn sizes_round_trip_across_reopen_and_isoinfo_agrees() {
    let Some((d, img)) = image_in(&["xorriso", "isoinfo"], "store.iso") else {
        return;
    };
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("one", vec![0x5a]),
        ("mib-plus-one", bytes((1 << 20) + 1, 1)),
        ("four-k", bytes(4096, 2)),
    ];
    let b = open(&url(&img));
    for (name, data) in &files {
        let src = write(d.path(), &format!("src-{name}"), data);
        b.put(&src, name).unwrap();
    }
    b.close().unwrap();
    b.close().unwrap(); // twice is fine

    let b = open(&url(&img));
    let mut expect: Vec<(String, u64)> = files
        .iter()
        .map(|(n, v)| (n.to_string(), v.len() as u64))
        .collect();
    expect.sort();
    assert_eq!(b.list().unwrap(), expect);
    for (name, data) in &files {
        let out = d.path().join(format!("out-{name}"));
        b.get(name, &out).unwrap();
        assert_eq!(&std::fs::read(&out).unwrap(), data, "{name}");
        assert_eq!(b.query(name).unwrap(), Some(data.len() as u64));
        // Independent reader.
        assert_eq!(
            &isoinfo_extract(&img, &format!("/{name}")),
            data,
            "isoinfo {name}"
        );
    }
    let mut seen: Vec<(String, u64)> = isoinfo_files(&img)
        .into_iter()
        .map(|(dir, n, s)| {
            assert_eq!(dir, "/");
            (n, s)
        })
        .collect();
    seen.sort();
    assert_eq!(seen, expect);
    b.close().unwrap();
    // No staging or temp files left beside the image.
    let names: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

const HOSTILE: &[&str] = &[
    "it's",
    "say \"hi\"",
    "back\\slash",
    "new\nline",
    "tab\tand\u{1}ctl",
    "a*",
    "abc",
    "a1",
    "a[1]",
    "?",
    "-leading-dash",
    "--",
    "-rm",
    " spaced out ",
    ".hidden",
    "%46",
    "ünïcödé €",
    "e\u{301}", // NFD
    "\u{e9}",   // NFC, must stay distinct
    "Case",
    "case",
    "semi;colon&amp|pipe$(x)`y`",
    "@@END-1@@",
];

#[test]
fn hostile_names_round_trip_and_globs_stay_literal() {
    let Some((d, img)) = image_in(&["xorriso", "isoinfo"], "names.iso") else {
        return;
    };
    let long = "n".repeat(255);
    let long_utf8 = "é".repeat(127); // 254 bytes
    let mut names: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    names.push(long.clone());
    names.push(long_utf8);
    let b = open(&format!("{}:/bk%20dir", url(&img)));
    for (i, n) in names.iter().enumerate() {
        let src = write(d.path(), "src", format!("content #{i} of {n:?}").as_bytes());
        b.put(&src, n).unwrap();
    }
    // Visible before the commit, too.
    assert_eq!(b.list().unwrap().len(), names.len());
    b.close().unwrap();

    let b = open(&format!("{}:/bk%20dir", url(&img)));
    let listed: Vec<String> = b.list().unwrap().into_iter().map(|(n, _)| n).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(listed, sorted);
    for (i, n) in names.iter().enumerate() {
        let want = format!("content #{i} of {n:?}");
        let out = d.path().join("out");
        b.get(n, &out).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), want, "{n:?}");
        assert_eq!(b.query(n).unwrap(), Some(want.len() as u64), "{n:?}");
        if !n.contains('\n') {
            assert_eq!(
                isoinfo_extract(&img, &format!("/bk dir/{n}")),
                want.as_bytes(),
                "isoinfo {n:?}"
            );
        }
    }
    // Over-long names are refused, not truncated.
    let src = write(d.path(), "src", b"x");
    let e = b.put(&src, &"n".repeat(256)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);

    // Deleting "a*" removes only "a*".
    b.delete("a*").unwrap();
    b.close().unwrap();
    let b = open(&format!("{}:/bk%20dir", url(&img)));
    let listed: Vec<String> = b.list().unwrap().into_iter().map(|(n, _)| n).collect();
    assert_eq!(listed.len(), names.len() - 1);
    assert!(!listed.contains(&"a*".to_string()));
    for keep in ["abc", "a1", "a[1]"] {
        assert!(listed.contains(&keep.to_string()), "{keep} went missing");
    }
    b.close().unwrap();
}

#[test]
fn pending_changes_are_visible_and_replace_and_delete_work() {
    let Some((d, img, b)) = image_opened_in(&["xorriso"], "p.iso") else {
        return;
    };
    assert_eq!(b.list().unwrap(), vec![]); // a new image lists as empty
    let src = write(d.path(), "s", b"version one");
    b.put(&src, "x").unwrap();
    // The caller may change or delete its file at once: we staged a copy.
    std::fs::write(&src, b"changed after put, must not be stored").unwrap();
    assert_eq!(b.query("x").unwrap(), Some(11));
    let out = d.path().join("o");
    b.get("x", &out).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"version one");
    std::fs::remove_file(&src).unwrap();
    b.commit().unwrap();
    assert_eq!(b.info().unwrap().sessions, 1);

    // Replace: longer, then shorter.
    let s2 = write(d.path(), "s2", b"version two is longer");
    b.put(&s2, "x").unwrap();
    assert_eq!(b.query("x").unwrap(), Some(21));
    let s3 = write(d.path(), "s3", b"v3");
    b.put(&s3, "x").unwrap();
    b.get("x", &out).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"v3");

    // Delete of a committed name hides it at once.
    b.put(&s2, "y").unwrap();
    b.commit().unwrap();
    b.delete("y").unwrap();
    assert_eq!(b.query("y").unwrap(), None);
    let missing_out = d.path().join("missing-out");
    let e = b.get("y", &missing_out).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(!missing_out.exists());
    // Delete of a missing name succeeds; of a pending-only put forgets it.
    b.delete("never-existed").unwrap();
    b.put(&s2, "tmp").unwrap();
    b.delete("tmp").unwrap();
    assert_eq!(b.query("tmp").unwrap(), None);
    // delete_list with present and missing names.
    b.put(&s2, "p1").unwrap();
    b.put(&s2, "p2").unwrap();
    b.commit().unwrap();
    b.delete_list(&["p1", "nope", "p2"]).unwrap();
    assert_eq!(
        b.query_list(&["p1", "x", "nope"]).unwrap(),
        vec![
            ("p1".to_string(), None),
            ("x".to_string(), Some(2)),
            ("nope".to_string(), None)
        ]
    );
    b.close().unwrap();

    let b = open(&url(&img));
    assert_eq!(b.list().unwrap(), vec![("x".to_string(), 2)]);
    // get of a missing name: NotFound, no file.
    let e = b.get("y", &missing_out).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(!missing_out.exists());
    // A destination with a long name (the temporary file beside it must still fit).
    let long_out = d.path().join("L".repeat(250));
    b.get("x", &long_out).unwrap();
    assert_eq!(std::fs::read(&long_out).unwrap(), b"v3");
    // get over an existing local file replaces it.
    std::fs::write(&out, b"old local content that is long").unwrap();
    b.get("x", &out).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"v3");
    b.close().unwrap();
}

#[test]
fn move_in_consumes_the_source() {
    let Some((d, img, b)) = image_opened_in(&["xorriso"], "m.iso") else {
        return;
    };
    let src = write(d.path(), "vol1", &bytes(10_000, 9));
    b.move_in(&src, "vol1").unwrap();
    assert!(!src.exists());
    assert_eq!(b.query("vol1").unwrap(), Some(10_000));
    let missing = d.path().join("not-there");
    let e = b.move_in(&missing, "z").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    b.close().unwrap();
    let b = open(&url(&img));
    let out = d.path().join("o");
    b.get("vol1", &out).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), bytes(10_000, 9));
    b.close().unwrap();
}

#[test]
fn only_direct_children_of_the_backup_dir_are_listed() {
    let Some((d, img)) = image_in(&["xorriso"], "dirs.iso") else {
        return;
    };
    let f = write(d.path(), "f", b"12345");
    // Build an image with other content using xorriso directly.
    output_of_success(
        std::process::Command::new("xorriso")
            .arg("-dev")
            .arg(format!("stdio:{}", img.display()))
            .args(["-map"])
            .arg(&f)
            .args(["/bk/mine", "-map"])
            .arg(&f)
            .args(["/bk/sub/deeper", "-map"])
            .arg(&f)
            .args(["/elsewhere", "-commit"]),
    );
    let b = open(&format!("{}:/bk", url(&img)));
    assert_eq!(b.list().unwrap(), vec![("mine".to_string(), 5)]);
    assert_eq!(b.query("sub").unwrap(), None); // a directory is not an object
    b.close().unwrap();
    let b = open(&format!("{}:/not/yet", url(&img)));
    assert_eq!(b.list().unwrap(), vec![]);
    b.close().unwrap();
}

#[test]
fn threads_share_one_backend() {
    let Some((d, img)) = image_in(&["xorriso"], "t.iso") else {
        return;
    };
    let b = std::sync::Arc::new(open(&format!("{}?batch=7", url(&img))));
    let mut hs = Vec::new();
    for t in 0..8u64 {
        let b = b.clone();
        let dir = d.path().to_path_buf();
        hs.push(std::thread::spawn(move || {
            for i in 0..6u64 {
                let name = format!("t{t}-{i}");
                let data = bytes(1000 + (t * 10 + i) as usize, t * 100 + i);
                let src = write(&dir, &format!("src-{name}"), &data);
                b.put(&src, &name).unwrap();
                let out = dir.join(format!("out-{name}"));
                b.get(&name, &out).unwrap();
                assert_eq!(std::fs::read(&out).unwrap(), data);
                if i % 3 == 0 {
                    b.delete(&name).unwrap();
                }
            }
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(b.list().unwrap().len(), 8 * 4);
    b.close().unwrap();
    let b2: XorrisoBackend = open(&url(&img));
    assert_eq!(b2.list().unwrap().len(), 8 * 4);
    b2.close().unwrap();
}

#[test]
fn drop_without_close_still_commits_and_close_then_ops_fail() {
    let Some((d, img)) = image_in(&["xorriso"], "drop.iso") else {
        return;
    };
    let src = write(d.path(), "s", b"kept");
    {
        let b = open(&url(&img));
        b.put(&src, "kept").unwrap();
    }
    let b = open(&url(&img));
    assert_eq!(b.list().unwrap(), vec![("kept".to_string(), 4)]);
    b.close().unwrap();
    let e = b.list().unwrap_err();
    assert!(e.to_string().contains("closed"), "{e}");
    assert!(!e.retryable());
    assert!(b.put(&src, "x").is_err());
    assert!(b.get("kept", &d.path().join("o")).is_err());
    b.close().unwrap();
    // An image opened and closed without changes is not created.
    let img2 = d.path().join("untouched.iso");
    let b = open(&url(&img2));
    b.close().unwrap();
    assert!(!img2.exists());
}
