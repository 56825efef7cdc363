//! The catalogue: every check, in run order. Ids are stable; add new
//! checks anywhere but never rename one.

mod concurrency;
mod delete_query_move;
mod dispatch;
mod errors;
mod get;
mod hygiene;
mod lifecycle;
mod list;
mod names;
mod put;

use crate::check::Check;

/// Every check, in the order a run performs them. `hygiene.cleanup` must
/// stay last: it closes the backend under test.
pub(crate) static CHECKS: &[Check] = &[
    // Hygiene and dispatch
    Check::new(
        "list.fresh-prefix-empty",
        "the run's fresh random name prefix is unused before the run",
        list::fresh_prefix_empty,
    ),
    Check::new(
        "dispatch.unknown-scheme",
        "an unknown scheme is refused naming it, the registered schemes and the rejected plugin files",
        dispatch::unknown_scheme,
    ),
    Check::new(
        "dispatch.prefix-chain",
        "a prefix URL resolves through registered prefixes to an inner URL the host can open",
        dispatch::prefix_chain,
    ),
    Check::new(
        "dispatch.optional-ops",
        "each optional operation works or answers a permanent \"unsupported\"",
        dispatch::optional_ops,
    ),
    Check::new(
        "dispatch.credentials-redacted",
        "credentials in the URL appear in no URL shown and no error message",
        dispatch::credentials_redacted,
    ),
    // put
    Check::new(
        "put.roundtrip-sizes",
        "put then get is byte-exact for 0 B, 1 B, 4 KiB, 1 MiB + 1 and three random sizes",
        put::roundtrip_sizes,
    ),
    Check::new(
        "put.roundtrip-64mib",
        "put then get is byte-exact for 64 MiB",
        put::roundtrip_64mib,
    ),
    Check::new(
        "put.query-size",
        "after put, query reports exactly the bytes supplied",
        put::query_size,
    ),
    Check::new(
        "put.overwrite-longer-shorter",
        "put over an existing name replaces it completely, with longer then shorter content",
        put::overwrite_longer_shorter,
    ),
    Check::new(
        "put.missing-local-file",
        "put of a missing (or unreadable) local file fails with the right code and stores nothing",
        put::missing_local_file,
    ),
    Check::new(
        "put.no-partial-or-temporary-visible",
        "while puts replace an object, readers see only complete versions and no temporary names",
        put::no_partial_or_temporary_visible,
    ),
    Check::new(
        "put.local-file-untouched",
        "put leaves the caller's file unchanged, not open, and not linked to the stored object",
        put::local_file_untouched,
    ),
    // get
    Check::new(
        "get.missing-is-not-found",
        "get of a missing name is not found, attempted once, and creates or changes no local file",
        get::missing_is_not_found,
    ),
    Check::new(
        "get.replaces-existing",
        "get over an existing longer or shorter local file leaves exactly the object's content",
        get::replaces_existing,
    ),
    Check::new(
        "get.replace-not-in-place",
        "get replaces an existing local file by a new file, never by writing into the old one",
        get::replace_not_in_place,
    ),
    // list
    Check::new(
        "list.empty-location",
        "a location that does not exist yet lists as empty, without error",
        list::empty_location,
    ),
    Check::new(
        "list.exact-after-puts",
        "after 25 puts, list returns each name exactly once with its size, and nothing else of ours",
        list::exact_after_puts,
    ),
    Check::new(
        "list.exact-after-concurrent-puts",
        "after 64 puts from 8 threads, list returns each name exactly once with its size",
        list::exact_after_concurrent_puts,
    ),
    Check::new(
        "list.many-1000",
        "1,000 names are listed exactly once each, and all are gone after deleting them",
        list::many_1000,
    ),
    Check::new(
        "list.many-100000",
        "100,000 names are listed exactly once each (only with --large)",
        list::many_100000,
    ),
    Check::new(
        "list.reflects-changes",
        "list reflects a put, an overwrite and a delete at once",
        list::reflects_changes,
    ),
    // delete, query, move
    Check::new(
        "delete.only-target",
        "delete removes only its target, also when the name has glob characters",
        delete_query_move::only_target,
    ),
    Check::new(
        "delete.missing",
        "delete of a missing name succeeds or is not found, and is attempted once",
        delete_query_move::delete_missing,
    ),
    Check::new(
        "delete.delete-list",
        "delete_list with present and missing names removes exactly the present ones",
        delete_query_move::delete_list,
    ),
    Check::new(
        "delete.then-missing",
        "after delete, query reports missing, get reports not found, list omits the name",
        delete_query_move::then_missing,
    ),
    Check::new(
        "query.missing",
        "query of a missing name reports missing, not an error",
        delete_query_move::query_missing,
    ),
    Check::new(
        "query.query-list",
        "query_list answers exactly the names asked, in order, each with its size or missing",
        delete_query_move::query_list,
    ),
    Check::new(
        "move.roundtrip",
        "move stores the object with intact content and removes the local source",
        delete_query_move::move_roundtrip,
    ),
    Check::new(
        "move.failed-leaves-source",
        "a failed move leaves the local source in place and stores nothing",
        delete_query_move::move_failed,
    ),
    // Names
    Check::new(
        "names.special-characters",
        "names with spaces, quotes, backslash, glob characters, %46 and : round-trip through put, list, query, get, delete",
        names::special_characters,
    ),
    Check::new(
        "names.leading-dash-dot",
        "names starting with - or . round-trip",
        names::leading_dash_dot,
    ),
    Check::new(
        "names.unicode-nfc-nfd",
        "unicode names round-trip, and NFC and NFD forms of one name stay two objects",
        names::unicode_nfc_nfd,
    ),
    Check::new(
        "names.255-bytes",
        "names of exactly 255 bytes (ASCII and multi-byte) round-trip",
        names::bytes_255,
    ),
    Check::new(
        "names.case-distinct",
        "names differing only in case are two objects (skipped for a case-folding backend)",
        names::case_distinct,
    ),
    Check::new(
        "names.invalid-refused",
        "empty, ., .., /, NUL and 256-byte names are refused by the host as invalid before any plugin call",
        names::invalid_refused,
    ),
    Check::new(
        "names.stay-inside",
        "dot-dot-like and escaped names are stored as flat objects under their exact names",
        names::stay_inside,
    ),
    // Errors and retries
    Check::new(
        "errors.codes-and-retryable",
        "provoked errors carry the right stable code, a message, and retryable = false when permanent",
        errors::codes_and_retryable,
    ),
    Check::new(
        "errors.permanent-attempted-once",
        "permanent errors (not found, unsupported) are attempted once under a retry policy",
        errors::permanent_attempted_once,
    ),
    Check::new(
        "errors.transient-retried",
        "retryable errors are retried with backoff and retry_cleanup in between",
        errors::transient_retried,
    ),
    Check::new(
        "errors.messages-name-context",
        "error messages name the operation, the object and the URL",
        errors::messages_name_context,
    ),
    // Concurrency, lifecycle, durability
    Check::new(
        "concurrency.distinct-names",
        "8 threads put, get, query and delete distinct names through one backend",
        concurrency::distinct_names,
    ),
    Check::new(
        "concurrency.same-name",
        "concurrent puts of 8 versions to one name end with exactly one complete version",
        concurrency::same_name,
    ),
    Check::new(
        "lifecycle.close-twice",
        "close can be called twice",
        lifecycle::close_twice,
    ),
    Check::new(
        "lifecycle.op-after-close",
        "operations after close fail cleanly with an error, and the host goes on",
        lifecycle::op_after_close,
    ),
    Check::new(
        "lifecycle.panic-contained",
        "a plugin panic becomes an error with code panic and poisons that backend only",
        lifecycle::panic_contained,
    ),
    Check::new(
        "lifecycle.durable-after-close",
        "after close, the data is there with intact content through a newly opened backend",
        lifecycle::durable_after_close,
    ),
    Check {
        always: true,
        ..Check::new(
            "hygiene.cleanup",
            "after the run nothing with its prefix is left and the objects of others are untouched",
            hygiene::cleanup,
        )
    },
];
