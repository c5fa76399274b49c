//! Background compaction: folds a document's many small change chunks into one snapshot, on a
//! thread with its own connection, so that loading stays fast and edits never wait for it.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

use automerge::{AutoCommit, LoadOptions, OnPartialLoad, TextEncoding, VerificationMode};

use crate::error::{Error, Result};
use crate::ids::DocumentId;
use crate::store::{self, Chunk, Store, StoreKey};

/// A document is compacted once it has this many chunks. Loading concatenates chunks, so fewer
/// is faster; each compaction rewrites the whole document, so not after every edit.
pub const COMPACT_AFTER_CHUNKS: i64 = 64;

/// Runs compactions on a background thread, started on first use. In the browser
/// (wasm32-unknown-unknown has no threads) the documents wait instead, and the host compacts
/// them on the device's own connection when it is idle ([`Compactor::take_waiting`]).
pub(crate) struct Compactor {
    /// The store file the thread opens its own connection to, and its key.
    #[cfg_attr(browser, allow(dead_code))]
    path: PathBuf,
    #[cfg_attr(browser, allow(dead_code))]
    key: StoreKey,
    /// Where documents to compact are sent; `None` until the thread starts.
    queue: Option<mpsc::Sender<DocumentId>>,
    /// The thread, joined on drop so that no compaction is cut off by a clean exit.
    thread: Option<JoinHandle<()>>,
    /// Documents asked for where no thread can run them.
    waiting: std::collections::BTreeSet<DocumentId>,
}

impl Compactor {
    pub(crate) fn new(path: PathBuf, key: StoreKey) -> Self {
        Self {
            path,
            key,
            queue: None,
            thread: None,
            waiting: std::collections::BTreeSet::new(),
        }
    }

    /// Asks for `doc` to be compacted soon.
    #[cfg(browser)]
    pub(crate) fn request(&mut self, doc: DocumentId) {
        self.waiting.insert(doc);
    }

    /// Asks for `doc` to be compacted soon.
    #[cfg(not(browser))]
    pub(crate) fn request(&mut self, doc: DocumentId) {
        if self.queue.is_none() {
            let (tx, rx) = mpsc::channel();
            let (path, key) = (self.path.clone(), self.key.clone());
            match std::thread::Builder::new()
                .name("groundwork-compactor".into())
                .spawn(move || run(path, key, rx))
            {
                Ok(handle) => {
                    self.queue = Some(tx);
                    self.thread = Some(handle);
                }
                Err(e) => {
                    // Compaction is an optimisation; the chunks stay loadable without it.
                    tracing::warn!(error = %e, "could not start the compaction thread");
                    return;
                }
            }
        }
        if let Some(queue) = &self.queue {
            let _ = queue.send(doc);
        }
    }

    /// The documents waiting for the host to compact them (always none where a thread runs).
    pub(crate) fn take_waiting(&mut self) -> Vec<DocumentId> {
        std::mem::take(&mut self.waiting).into_iter().collect()
    }
}

impl Drop for Compactor {
    fn drop(&mut self) {
        self.queue = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg_attr(browser, allow(dead_code))]
fn run(path: PathBuf, key: StoreKey, rx: mpsc::Receiver<DocumentId>) {
    let mut store = match Store::open(&path, &key) {
        Ok(store) => store,
        Err(e) => {
            tracing::warn!(error = %e, "compaction thread could not open the store");
            return;
        }
    };
    while let Ok(first) = rx.recv() {
        let mut pending = vec![first];
        pending.extend(rx.try_iter());
        pending.sort();
        pending.dedup();
        for doc in pending {
            if let Err(e) = compact(&mut store, &doc) {
                tracing::warn!(%doc, error = %e, "compaction failed; the chunks are kept");
            }
        }
    }
}

/// Replaces every chunk of `doc` by one snapshot. Safe against concurrent writers: chunks that
/// arrive meanwhile have higher seqs and are kept; if the chunks it read changed, it does nothing.
pub(crate) fn compact(store: &mut Store, doc: &DocumentId) -> Result<bool> {
    let chunks = store::chunks_after(store.conn(), doc, 0)?;
    let Some(last) = chunks.last() else {
        return Ok(false);
    };
    if chunks.len() < 2 {
        return Ok(false);
    }
    let upto = last.seq;
    let count = chunks.len() as i64;
    let mut loaded = load(doc, &chunks)?;
    let snapshot = loaded.save();
    let tx = store.begin()?;
    let replaced = store::replace_with_snapshot(&tx, doc, upto, count, &snapshot)?;
    tx.commit()?;
    tracing::debug!(%doc, chunks = count, bytes = snapshot.len(), replaced, "compacted");
    Ok(replaced)
}

/// Loads a document from its chunks. Any chunk automerge cannot read is an error naming the
/// chunk: a partial load would silently hide someone's edits.
pub(crate) fn load(doc: &DocumentId, chunks: &[Chunk]) -> Result<AutoCommit> {
    let options = || {
        LoadOptions::new()
            .text_encoding(TextEncoding::Utf8CodeUnit)
            .on_partial_load(OnPartialLoad::Error)
            .verification_mode(VerificationMode::Check)
    };
    let all: Vec<u8> = chunks
        .iter()
        .flat_map(|c| c.bytes.iter().copied())
        .collect();
    match AutoCommit::load_with_options(&all, options()) {
        Ok(loaded) => Ok(loaded),
        Err(e) => {
            // Find the first chunk whose prefix no longer loads, to name it.
            let mut prefix = Vec::new();
            for chunk in chunks {
                prefix.extend_from_slice(&chunk.bytes);
                if let Err(e) = AutoCommit::load_with_options(&prefix, options()) {
                    return Err(Error::CorruptChunk {
                        doc: doc.to_string(),
                        seq: chunk.seq,
                        reason: e.to_string(),
                    });
                }
            }
            Err(Error::CorruptChunk {
                doc: doc.to_string(),
                seq: chunks.last().map_or(0, |c| c.seq),
                reason: e.to_string(),
            })
        }
    }
}
