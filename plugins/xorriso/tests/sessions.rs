//! Batching and commit policies, info, and compaction.

mod common;

use common::*;
use stowage_xorriso::{EnvSettings, ErrorKind, XorrisoBackend};

#[test]
fn hundred_puts_make_one_session() {
    let Some((d, img, b)) = image_opened_in(&["xorriso"], "batch.iso") else {
        return;
    };
    for i in 0..100 {
        let src = write(d.path(), "src", &bytes(4096, i));
        b.put(&src, &format!("f{i:03}")).unwrap();
    }
    let info = b.info().unwrap();
    assert_eq!(info.sessions, 0);
    assert_eq!(info.pending_changes, 100);
    assert_eq!(info.pending_bytes, 100 * 4096);
    b.close().unwrap();
    assert_eq!(sessions(&img), 1);
    let b = open(&url(&img));
    let info = b.info().unwrap();
    assert_eq!(info.sessions, 1);
    assert_eq!(info.pending_changes, 0);
    assert_eq!(info.used_bytes, std::fs::metadata(&img).unwrap().len());
    assert!(info.free_bytes > 0);
    assert_eq!(info.volume_id.as_deref(), Some("ISOIMAGE"));
    assert_eq!(b.list().unwrap().len(), 100);
    b.close().unwrap();
}

#[test]
fn batch_limit_and_commit_each() {
    let Some((d, img)) = image_in(&["xorriso"], "b10.iso") else {
        return;
    };
    let b = open(&format!("{}?batch=10&volid=BKP_10", url(&img)));
    for i in 0..25 {
        let src = write(d.path(), "src", &bytes(100, i));
        b.put(&src, &format!("f{i}")).unwrap();
    }
    assert_eq!(b.info().unwrap().sessions, 2);
    assert_eq!(b.info().unwrap().pending_changes, 5);
    b.close().unwrap();
    assert_eq!(sessions(&img), 3);

    let img = d.path().join("each.iso");
    let b = open(&format!("{}?commit=each", url(&img)));
    for i in 0..3 {
        let src = write(d.path(), "src", &bytes(100, i));
        b.put(&src, &format!("f{i}")).unwrap();
        assert_eq!(b.info().unwrap().pending_changes, 0);
    }
    b.delete("f0").unwrap();
    assert_eq!(b.info().unwrap().sessions, 4);
    b.close().unwrap();
    assert_eq!(sessions(&img), 4);

    // batch_bytes: 3 × 40 KiB with a 100 KiB limit commits at the third put.
    let img = d.path().join("bytes.iso");
    let b = open(&format!("{}?batch_bytes=100K", url(&img)));
    for i in 0..3 {
        let src = write(d.path(), "src", &bytes(40 << 10, i));
        b.put(&src, &format!("f{i}")).unwrap();
    }
    assert_eq!(b.info().unwrap().sessions, 1);
    b.close().unwrap();
}

#[test]
fn volume_ids() {
    let Some((d, img)) = image_in(&["xorriso", "isoinfo"], "v.iso") else {
        return;
    };
    let b = open(&format!("{}?volid=BKP1", url(&img)));
    let src = write(d.path(), "s", b"x");
    b.put(&src, "x").unwrap();
    b.close().unwrap();
    let o = std::process::Command::new("isoinfo")
        .args(["-d", "-i"])
        .arg(&img)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("Volume id: BKP1"));

    // Assertion passes for the right id and a matching pattern.
    for pat in ["BKP1", "BKP*"] {
        let env = EnvSettings {
            assert_volid: Some(pat.into()),
            ..Default::default()
        };
        let b = XorrisoBackend::open_with(config(&url(&img), env)).unwrap();
        assert_eq!(b.info().unwrap().volume_id.as_deref(), Some("BKP1"));
        b.close().unwrap();
    }
    // A new image gets the asserted id, so the next open passes.
    let img2 = d.path().join("v2.iso");
    let env = EnvSettings {
        assert_volid: Some("NEWVOL".into()),
        ..Default::default()
    };
    let b = XorrisoBackend::open_with(config(&url(&img2), env.clone())).unwrap();
    b.put(&src, "x").unwrap();
    b.close().unwrap();
    let b = XorrisoBackend::open_with(config(&url(&img2), env)).unwrap();
    assert_eq!(b.info().unwrap().volume_id.as_deref(), Some("NEWVOL"));
    b.close().unwrap();
    // Too long: refused before anything happens.
    let e = XorrisoBackend::open(&format!("{}?volid={}", url(&img), "V".repeat(33))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn compact_reclaims_deleted_and_replaced_data() {
    let Some((d, img)) = image_in(&["xorriso", "isoinfo"], "c.iso") else {
        return;
    };
    let b = open(&format!("{}:/bk?volid=KEEPME", url(&img)));
    for i in 0..4 {
        let src = write(d.path(), "src", &bytes(300_000, i));
        b.put(&src, &format!("big{i}")).unwrap();
    }
    let keep = bytes(5000, 42);
    let src = write(d.path(), "src", &keep);
    b.put(&src, "keep").unwrap();
    b.commit().unwrap();
    b.delete_list(&["big0", "big1", "big2"]).unwrap();
    let src = write(d.path(), "src", &bytes(1000, 7));
    b.put(&src, "big3").unwrap(); // replaced: the old 300 kB stay in the image
    b.commit().unwrap();
    let before = b.info().unwrap();
    assert_eq!(before.sessions, 2);
    let stats = b.compact().unwrap();
    assert_eq!(stats.old_bytes, before.used_bytes);
    assert!(
        stats.new_bytes + 4 * 250_000 < stats.old_bytes,
        "not smaller: {stats:?}"
    );
    let after = b.info().unwrap();
    assert_eq!(after.sessions, 1);
    assert_eq!(after.used_bytes, std::fs::metadata(&img).unwrap().len());
    assert_eq!(after.volume_id.as_deref(), Some("KEEPME"));
    assert_eq!(
        b.list().unwrap(),
        vec![("big3".to_string(), 1000), ("keep".to_string(), 5000)]
    );
    // Still writable and lockable after the rename.
    let e = XorrisoBackend::open(&url(&img)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InUse);
    let src = write(d.path(), "src", b"after");
    b.put(&src, "after").unwrap();
    b.close().unwrap();
    assert_eq!(isoinfo_extract(&img, "/bk/keep"), keep);
    assert_eq!(isoinfo_extract(&img, "/bk/after"), b"after");
    assert_eq!(sessions(&img), 2);
}
