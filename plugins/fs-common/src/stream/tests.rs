//! The store's stream and location extensions through their real
//! extension objects and safe clients.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use stowage_backend_api::{Backend, ErrorCode};
use stowage_location_ext::Location;
use stowage_stream_ext::Stream;

use crate::{is_temp_name, Durability, LocalStore};

fn stream(store: &LocalStore) -> Stream {
    Stream::lookup(|id| store.extension(id).map(|e| e.downcast()).transpose())
        .expect("the layout matches")
        .expect("offered")
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_committed_stream_replaces_the_object_and_reads_back() {
    for durability in [Durability::Each, Durability::Close, Durability::None] {
        let d = tempfile::tempdir().unwrap();
        let store = LocalStore::new(d.path().join("store"), durability);
        let s = stream(&store);
        let mut w = s.writer("obj").unwrap();
        let chunk: Vec<u8> = (0..=255u8).collect();
        for _ in 0..1000 {
            w.write_all(&chunk).unwrap();
        }
        // Nothing under the name before the commit; only a hidden file.
        let names = entries(&d.path().join("store"));
        assert_eq!(names.len(), 1);
        assert!(is_temp_name(names[0].as_bytes()), "{names:?}");
        assert_eq!(w.commit().unwrap(), 256_000);
        assert_eq!(entries(&d.path().join("store")), vec!["obj"]);
        let mut r = s.reader("obj").unwrap();
        assert_eq!(r.size(), Some(256_000));
        let mut back = Vec::new();
        r.read_to_end(&mut back).unwrap();
        assert_eq!(back, chunk.repeat(1000));
        store.close().unwrap();
    }
}

#[test]
fn abort_and_drop_remove_the_temporary_file_and_keep_the_old_object() {
    let d = tempfile::tempdir().unwrap();
    let store = LocalStore::new(d.path().to_path_buf(), Durability::None);
    fs::write(d.path().join("obj"), b"old").unwrap();
    let s = stream(&store);
    let mut w = s.writer("obj").unwrap();
    w.write_all(b"new, unfinished").unwrap();
    w.abort().unwrap();
    let mut w = s.writer("obj").unwrap();
    w.write_all(b"new, dropped").unwrap();
    drop(w);
    assert_eq!(entries(d.path()), vec!["obj"]);
    assert_eq!(fs::read(d.path().join("obj")).unwrap(), b"old");
}

#[test]
fn readers_refuse_what_list_does_not_show() {
    let d = tempfile::tempdir().unwrap();
    let store = LocalStore::new(d.path().to_path_buf(), Durability::None);
    fs::write(d.path().join("target"), b"secret").unwrap();
    std::os::unix::fs::symlink(d.path().join("target"), d.path().join("link")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        d.path().join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    fs::create_dir(d.path().join("dir")).unwrap();
    let s = stream(&store);
    for name in ["link", "fifo", "dir", "missing"] {
        match s.reader(name) {
            Ok(_) => panic!("{name} opened"),
            Err(e) => assert_eq!(e.code(), ErrorCode::NOT_FOUND, "{name}: {e}"),
        }
    }
    let e = s.writer(".stowage-partial-x").err().expect("reserved");
    assert_eq!(e.code(), ErrorCode::INVALID_INPUT);
}

#[test]
fn the_location_exists_once_the_directory_does() {
    let d = tempfile::tempdir().unwrap();
    let store = LocalStore::new(d.path().join("later"), Durability::None);
    let location = Location::lookup(|id| store.extension(id).map(|e| e.downcast()).transpose())
        .unwrap()
        .unwrap();
    assert!(!location.exists().unwrap());
    fs::create_dir(d.path().join("later")).unwrap();
    assert!(location.exists().unwrap());
    fs::write(d.path().join("file"), b"").unwrap();
    let under_a_file = LocalStore::new(d.path().join("file/x"), Durability::None);
    let location =
        Location::lookup(|id| under_a_file.extension(id).map(|e| e.downcast()).transpose())
            .unwrap()
            .unwrap();
    assert!(!location.exists().unwrap());
}

fn descriptor(store: &LocalStore) -> stowage_descriptor_ext::Descriptor {
    stowage_descriptor_ext::Descriptor::lookup(|id| {
        store.extension(id).map(|e| e.downcast()).transpose()
    })
    .expect("the layout matches")
    .expect("offered")
}

/// A put from a descriptor stores what the file holds from its position
/// on, replaces the object whole, leaves no temporary file, and a source
/// that cannot be read stores nothing.
#[test]
fn a_put_from_a_descriptor_stores_the_file_from_its_position() {
    use std::io::{Seek, SeekFrom};
    use std::os::fd::AsFd;
    use std::os::unix::fs::PermissionsExt;

    for durability in [Durability::Each, Durability::Close, Durability::None] {
        let d = tempfile::tempdir().unwrap();
        let store_dir = d.path().join("store");
        let store = LocalStore::new(store_dir.clone(), durability);
        let put = descriptor(&store);
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let src = d.path().join("src");
        fs::write(&src, &data).unwrap();
        fs::create_dir_all(&store_dir).unwrap();
        fs::write(store_dir.join("obj"), b"old").unwrap();

        let file = fs::File::open(&src).unwrap();
        assert_eq!(put.put_from("obj", file.as_fd()).unwrap(), 3_000_000);
        assert_eq!(fs::read(store_dir.join("obj")).unwrap(), data);
        assert_eq!(entries(&store_dir), vec!["obj"]);
        let mode = fs::metadata(store_dir.join("obj"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7000, 0, "{mode:o}");

        // From the position on.
        let mut file = fs::File::open(&src).unwrap();
        file.seek(SeekFrom::Start(1000)).unwrap();
        assert_eq!(put.put_from("tail", file.as_fd()).unwrap(), 2_999_000);
        assert_eq!(fs::read(store_dir.join("tail")).unwrap(), &data[1000..]);

        // A directory cannot be read: an error, the object untouched, no
        // temporary file left.
        let dir = fs::File::open(d.path()).unwrap();
        let err = put.put_from("obj", dir.as_fd()).unwrap_err();
        assert!(err.message().contains("reading the local file"), "{err}");
        assert_eq!(fs::read(store_dir.join("obj")).unwrap(), data);
        assert_eq!(entries(&store_dir), vec!["obj", "tail"]);
        assert_eq!(
            put.put_from(".stowage-partial-x", file.as_fd())
                .unwrap_err()
                .code(),
            ErrorCode::INVALID_INPUT
        );
    }
}
