//! The client and the service wrapper against an in-memory store, through
//! the real extension object (layout check included).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex, PoisonError};

use stowage_backend_api::{BackendError, ErrorCode};

use crate::{serve, Stream, StreamRead, StreamService, StreamWrite};

type Objects = Arc<Mutex<BTreeMap<String, Vec<u8>>>>;

#[derive(Default)]
struct Memory {
    objects: Objects,
    aborted: Arc<Mutex<Vec<String>>>,
}

struct Writer {
    name: String,
    data: Vec<u8>,
    objects: Objects,
    aborted: Arc<Mutex<Vec<String>>>,
}

struct Reader {
    data: Vec<u8>,
    at: usize,
}

impl StreamService for Memory {
    type Writer = Writer;
    type Reader = Reader;

    fn open_writer(&self, name: &str) -> Result<Writer, BackendError> {
        Ok(Writer {
            name: name.to_owned(),
            data: Vec::new(),
            objects: Arc::clone(&self.objects),
            aborted: Arc::clone(&self.aborted),
        })
    }

    fn open_reader(&self, name: &str) -> Result<Reader, BackendError> {
        let objects = self.objects.lock().unwrap_or_else(PoisonError::into_inner);
        let data = objects
            .get(name)
            .cloned()
            .ok_or_else(|| BackendError::not_found(name.to_owned()))?;
        Ok(Reader { data, at: 0 })
    }
}

impl StreamWrite for Writer {
    fn write(&mut self, chunk: &[u8]) -> Result<(), BackendError> {
        if chunk == b"panic" {
            panic!("asked to");
        }
        self.data.extend_from_slice(chunk);
        Ok(())
    }

    fn commit(&mut self) -> Result<u64, BackendError> {
        let data = std::mem::take(&mut self.data);
        let size = data.len() as u64;
        let mut objects = self.objects.lock().unwrap_or_else(PoisonError::into_inner);
        objects.insert(self.name.clone(), data);
        Ok(size)
    }

    fn abort(&mut self) -> Result<(), BackendError> {
        let mut aborted = self.aborted.lock().unwrap_or_else(PoisonError::into_inner);
        aborted.push(self.name.clone());
        Ok(())
    }
}

impl StreamRead for Reader {
    fn size(&self) -> Option<u64> {
        Some(self.data.len() as u64)
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, BackendError> {
        let n = buf.len().min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn stream_over(memory: Memory) -> Stream {
    let ext = serve(memory);
    Stream::lookup(|_| ext.downcast().map(Some))
        .expect("the layout matches")
        .expect("offered")
}

#[test]
fn a_committed_stream_reads_back_and_nothing_shows_before_commit() {
    let memory = Memory::default();
    let objects = Arc::clone(&memory.objects);
    let stream = stream_over(memory);
    let mut writer = stream.writer("a").expect("opens");
    for _ in 0..1000 {
        writer.write_all(&[7u8; 1000]).expect("takes the chunk");
    }
    assert_eq!(writer.written(), 1_000_000);
    assert!(objects.lock().expect("not poisoned").is_empty());
    assert_eq!(writer.commit().expect("commits"), 1_000_000);

    let mut reader = stream.reader("a").expect("opens");
    assert_eq!(reader.size(), Some(1_000_000));
    let mut back = Vec::new();
    reader.read_to_end(&mut back).expect("reads");
    assert_eq!(back, vec![7u8; 1_000_000]);
}

#[test]
fn a_dropped_writer_is_aborted_once_and_stores_nothing() {
    let memory = Memory::default();
    let (objects, aborted) = (Arc::clone(&memory.objects), Arc::clone(&memory.aborted));
    let stream = stream_over(memory);
    let mut writer = stream.writer("half").expect("opens");
    writer.write_all(b"some").expect("takes the chunk");
    drop(writer);
    let explicit = stream.writer("explicit").expect("opens");
    explicit.abort().expect("aborts");
    assert!(objects.lock().expect("not poisoned").is_empty());
    assert_eq!(
        *aborted.lock().expect("not poisoned"),
        vec!["half".to_owned(), "explicit".to_owned()]
    );
}

#[test]
fn a_panic_in_the_plugin_is_an_error_and_a_missing_object_not_found() {
    let stream = stream_over(Memory::default());
    let mut writer = stream.writer("p").expect("opens");
    let err = writer.send(b"panic").expect_err("the plugin panicked");
    assert_eq!(err.code(), ErrorCode::PANIC);
    let err = match stream.reader("missing") {
        Ok(_) => panic!("a missing object opened"),
        Err(e) => e,
    };
    assert_eq!(err.code(), ErrorCode::NOT_FOUND);
    // The typed error survives a trip through `std::io`.
    let mut writer = stream.writer("q").expect("opens");
    let io = writer.write(b"panic").expect_err("the plugin panicked");
    assert_eq!(crate::backend_error(io, "writing").code(), ErrorCode::PANIC);
}
