//! The ABI v1 operations of a backend that lives on the other side of the
//! socket, as one side sends them: the host for an isolated backend, the
//! child for a prefix plugin's inner backend (which the host serves).
//! Paths become descriptors here, and answers become ABI values.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use abi_stable::std_types::{ROption, RResult, RSlice, RStr, RVec};
use stowage_backend_api::abi::ListEntry;
use stowage_backend_api::BackendError;

use crate::files::{move_in_via_fd, open_source, publish_get};
use crate::protocol::{Answer, Op};

/// Runs one operation on the other side.
pub(crate) trait OpSender {
    /// Sends `op` with `fds` and waits for its answer.
    fn send_op(&self, op: Op, fds: &[BorrowedFd<'_>]) -> Result<Answer, BackendError>;
}

/// The error for an answer that does not fit the call.
pub(crate) fn unexpected(op: &str, answer: &Answer) -> BackendError {
    BackendError::generic(format!("the plugin child answered {op} with {answer:?}"))
}

fn path_of(bytes: RSlice<'_, u8>) -> &Path {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(bytes.as_slice()))
}

fn names(list: RSlice<'_, RStr<'_>>) -> Vec<String> {
    list.iter().map(|n| n.to_string()).collect()
}

/// An operation answered with [`Answer::Done`].
pub(crate) fn unit(s: &impl OpSender, op: Op, fds: &[BorrowedFd<'_>]) -> Result<(), BackendError> {
    let name = op.name();
    match s.send_op(op, fds)? {
        Answer::Done => Ok(()),
        other => Err(unexpected(name, &other)),
    }
}

/// `put`: the source crosses as a descriptor.
pub(crate) fn put(
    s: &impl OpSender,
    local: RSlice<'_, u8>,
    name: RStr<'_>,
) -> RResult<(), BackendError> {
    send_put(s, local, name, false)
        .and_then(|answer| match answer {
            Answer::Done => Ok(()),
            other => Err(unexpected("put", &other)),
        })
        .into()
}

/// `stowage.put-query/1`: a put, and a query of the object right after
/// it on the other side, in one round trip.
pub(crate) fn put_then_query(
    s: &impl OpSender,
    local: RSlice<'_, u8>,
    name: RStr<'_>,
) -> RResult<RResult<ROption<u64>, BackendError>, BackendError> {
    send_put(s, local, name, true)
        .and_then(|answer| match answer {
            Answer::Stored(queried) => Ok(queried
                .map(ROption::from)
                .map_err(BackendError::from)
                .into()),
            other => Err(unexpected("put", &other)),
        })
        .into()
}

fn send_put(
    s: &impl OpSender,
    local: RSlice<'_, u8>,
    name: RStr<'_>,
    query: bool,
) -> Result<Answer, BackendError> {
    let local = path_of(local);
    let file = open_source(local)?;
    let op = Op::Put {
        name: name.to_string(),
        shown: local.display().to_string(),
        query,
    };
    s.send_op(op, &[file.as_fd()])
}

/// `get`: a private temporary file crosses as a descriptor and is
/// published on this side.
pub(crate) fn get(
    s: &impl OpSender,
    name: RStr<'_>,
    local: RSlice<'_, u8>,
) -> RResult<(), BackendError> {
    let local = path_of(local);
    publish_get(local, |fd| {
        let op = Op::Get {
            name: name.to_string(),
            shown: local.display().to_string(),
        };
        match s.send_op(op, &[fd])? {
            Answer::Got { mode } => Ok(mode),
            other => Err(unexpected("get", &other)),
        }
    })
    .into()
}

/// `list`.
pub(crate) fn list(s: &impl OpSender) -> RResult<RVec<ListEntry>, BackendError> {
    match s.send_op(Op::List, &[]) {
        Ok(Answer::Listed(entries)) => RResult::ROk(
            entries
                .into_iter()
                .map(|(name, size)| ListEntry {
                    name: name.into(),
                    size,
                })
                .collect(),
        ),
        Ok(other) => RResult::RErr(unexpected("list", &other)),
        Err(e) => RResult::RErr(e),
    }
}

/// `delete`.
pub(crate) fn delete(s: &impl OpSender, name: RStr<'_>) -> RResult<(), BackendError> {
    let op = Op::Delete {
        name: name.to_string(),
    };
    unit(s, op, &[]).into()
}

/// `delete_list`.
pub(crate) fn delete_list(
    s: &impl OpSender,
    list: RSlice<'_, RStr<'_>>,
) -> RResult<(), BackendError> {
    unit(s, Op::DeleteList { names: names(list) }, &[]).into()
}

/// `query`.
pub(crate) fn query(s: &impl OpSender, name: RStr<'_>) -> RResult<ROption<u64>, BackendError> {
    let op = Op::Query {
        name: name.to_string(),
    };
    match s.send_op(op, &[]) {
        Ok(Answer::Size(size)) => RResult::ROk(size.into()),
        Ok(other) => RResult::RErr(unexpected("query", &other)),
        Err(e) => RResult::RErr(e),
    }
}

/// `query_list`.
pub(crate) fn query_list(
    s: &impl OpSender,
    list: RSlice<'_, RStr<'_>>,
) -> RResult<RVec<ROption<u64>>, BackendError> {
    match s.send_op(Op::QueryList { names: names(list) }, &[]) {
        Ok(Answer::Sizes(sizes)) => RResult::ROk(sizes.into_iter().map(ROption::from).collect()),
        Ok(other) => RResult::RErr(unexpected("query_list", &other)),
        Err(e) => RResult::RErr(e),
    }
}

/// `move_in`: the other side moves a copy in from the descriptor; the
/// local file is removed here after success.
pub(crate) fn move_in(
    s: &impl OpSender,
    local: RSlice<'_, u8>,
    name: RStr<'_>,
) -> RResult<(), BackendError> {
    let local = path_of(local);
    move_in_via_fd(local, |fd| {
        let op = Op::MoveIn {
            name: name.to_string(),
            shown: local.display().to_string(),
        };
        unit(s, op, &[fd])
    })
    .into()
}
