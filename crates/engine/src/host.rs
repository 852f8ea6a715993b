//! The one door between the engine and the world: external-table storage, output, clock,
//! entropy, and what the `io`, `os` and `package` libraries reach (standard error and input,
//! the environment, files). `crates/wasm` implements [`Host`] over the `js_*` imports; tests
//! use [`MemoryHost`].

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use vm::{HostFile, HostResult, OpenMode};

use crate::codec::{self, Item, Reader};

/// A failure reported by, or detected in what came from, the host. Ends up as error kind 5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError(pub String);

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host error: {}", self.0)
    }
}

impl std::error::Error for HostError {}

/// Storage and services the engine relies on. Keys and values are ABI v1 encodings
/// ([`crate::codec`]); the engine validates everything a host hands back.
pub trait Host {
    /// Stores `value` under `key` in table `id`.
    fn table_set(&self, id: u32, key: &[u8], value: &[u8]) -> Result<(), HostError>;
    /// Replaces `out` with the value under `key`; `Ok(false)` when absent.
    fn table_get(&self, id: u32, key: &[u8], out: &mut Vec<u8>) -> Result<bool, HostError>;
    /// Whether `key` is present, without copying its value.
    fn table_has(&self, id: u32, key: &[u8]) -> Result<bool, HostError> {
        self.table_get(id, key, &mut Vec::new())
    }
    /// Removes `key` from table `id` (absent keys are not an error).
    fn table_delete(&self, id: u32, key: &[u8]) -> Result<(), HostError>;
    /// The number of entries in table `id`.
    fn table_size(&self, id: u32) -> Result<u32, HostError>;
    /// Replaces `out` with one page of entries, `(key, value)` encodings back to back: those
    /// after the entry with key `after` in the host's iteration order (from the first when
    /// `after` is empty), about `limit` bytes (at least one entry). An empty page means the end.
    /// `Ok(false)` when `after` is not a key of the table. A key deleted since it was handed
    /// out still marks its place until the next insertion of a new key.
    fn table_page(
        &self,
        id: u32,
        after: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<bool, HostError>;
    /// Replaces `out` with `u32 count` followed by every key of table `id`.
    fn table_keys(&self, id: u32, out: &mut Vec<u8>) -> Result<(), HostError>;
    /// Receives output (`print`), as raw bytes.
    fn write_output(&self, bytes: &[u8]);
    /// Wall-clock milliseconds since the Unix epoch.
    fn now_ms(&self) -> f64;
    /// Monotonic milliseconds.
    fn clock_ms(&self) -> f64;
    /// Fills `buf` with random bytes.
    fn fill_random(&self, buf: &mut [u8]);

    /// Lua holds host object `id` no longer (its userdata was collected, or the state ended).
    fn release_object(&self, id: u32) {
        let _ = id;
    }
    /// Standard error (`io.stderr`, warnings). Without one, it is dropped.
    fn write_error(&self, bytes: &[u8]) {
        let _ = bytes;
    }
    /// Reads standard input into `buf` (`io.read`): how many bytes came, 0 at its end.
    fn read_input(&self, buf: &mut [u8]) -> HostResult<usize> {
        let _ = buf;
        Ok(0)
    }
    /// An environment variable (`os.getenv`, `LUA_PATH` for `package.path`).
    fn getenv(&self, name: &[u8]) -> Option<Vec<u8>> {
        let _ = name;
        None
    }
    /// Opens a file (`io.open`, `require` of Lua files). Hosts without files keep the VM's
    /// refusal (`not available in this sandbox`).
    fn open(&self, path: &[u8], mode: OpenMode) -> HostResult<Box<dyn HostFile>> {
        let _ = (path, mode);
        Err(vm::HostError::unavailable())
    }
    /// A temporary file for reading and writing, removed when closed (`io.tmpfile`).
    fn tmpfile(&self) -> HostResult<Box<dyn HostFile>> {
        Err(vm::HostError::unavailable())
    }
    /// Deletes a file or an empty directory (`os.remove`).
    fn remove(&self, path: &[u8]) -> HostResult<()> {
        let _ = path;
        Err(vm::HostError::unavailable())
    }
    /// Renames a file (`os.rename`).
    fn rename(&self, from: &[u8], to: &[u8]) -> HostResult<()> {
        let _ = (from, to);
        Err(vm::HostError::unavailable())
    }
    /// The name of a new, empty temporary file (`os.tmpname`).
    fn tmpname(&self) -> HostResult<Vec<u8>> {
        Err(vm::HostError::unavailable())
    }
}

/// A host that keeps tables in memory, for tests and native use.
///
/// Iteration order is insertion order, like the JS host's `Map`s, and pages hold at most
/// `page_entries` entries so tests exercise paging.
pub struct MemoryHost {
    pub tables: RefCell<HashMap<u32, OrderedMap>>,
    pub output: RefCell<Vec<u8>>,
    pub page_entries: usize,
    /// The host objects Lua let go of, in order.
    pub released: RefCell<Vec<u32>>,
}

/// An insertion-ordered map whose deleted keys keep their place for paging until a new key
/// is inserted.
#[derive(Default, Debug, Clone)]
pub struct OrderedMap {
    order: BTreeMap<u64, Vec<u8>>,
    entries: HashMap<Vec<u8>, (u64, Vec<u8>)>,
    deleted: HashMap<Vec<u8>, u64>,
    next_seq: u64,
}

impl OrderedMap {
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.entries.get(key).map(|(_, v)| v.as_slice())
    }
    pub fn insert(&mut self, key: &[u8], value: &[u8]) {
        if let Some((_, v)) = self.entries.get_mut(key) {
            *v = value.to_vec();
        } else {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.deleted.clear();
            self.order.insert(seq, key.to_vec());
            self.entries.insert(key.to_vec(), (seq, value.to_vec()));
        }
    }
    pub fn remove(&mut self, key: &[u8]) {
        if let Some((seq, _)) = self.entries.remove(key) {
            self.order.remove(&seq);
            self.deleted.insert(key.to_vec(), seq);
        }
    }
    /// The entries after key `after` (all when empty); `None` when `after` is not a key.
    pub fn iter_after<'a>(
        &'a self,
        after: &[u8],
    ) -> Option<impl Iterator<Item = (&'a [u8], &'a [u8])>> {
        let from = if after.is_empty() {
            0
        } else {
            let seq = self.entries.get(after).map(|(seq, _)| seq);
            1 + *seq.or_else(|| self.deleted.get(after))?
        };
        Some(
            self.order
                .range(from..)
                .map(|(_, k)| (k.as_slice(), self.entries[k].1.as_slice())),
        )
    }
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.order
            .values()
            .map(|k| (k.as_slice(), self.entries[k].1.as_slice()))
    }
}

impl Default for MemoryHost {
    fn default() -> Self {
        MemoryHost {
            tables: RefCell::new(HashMap::new()),
            output: RefCell::new(Vec::new()),
            page_entries: 7,
            released: RefCell::new(Vec::new()),
        }
    }
}

impl MemoryHost {
    /// Takes everything printed so far.
    pub fn take_output(&self) -> Vec<u8> {
        std::mem::take(&mut self.output.borrow_mut())
    }

    /// The decoded string keys of table `id`, for assertions.
    pub fn string_keys(&self, id: u32) -> Vec<Vec<u8>> {
        let tables = self.tables.borrow();
        let Some(table) = tables.get(&id) else {
            return Vec::new();
        };
        table
            .iter()
            .filter_map(|(k, _)| match Reader::new(k).item() {
                Ok(Item::String(s)) => Some(s.to_vec()),
                _ => None,
            })
            .collect()
    }
}

impl Host for MemoryHost {
    fn release_object(&self, id: u32) {
        self.released.borrow_mut().push(id);
    }

    fn table_set(&self, id: u32, key: &[u8], value: &[u8]) -> Result<(), HostError> {
        codec::validate_key(key).map_err(|e| HostError(e.to_string()))?;
        self.tables
            .borrow_mut()
            .entry(id)
            .or_default()
            .insert(key, value);
        Ok(())
    }

    fn table_get(&self, id: u32, key: &[u8], out: &mut Vec<u8>) -> Result<bool, HostError> {
        out.clear();
        match self.tables.borrow().get(&id).and_then(|t| t.get(key)) {
            Some(v) => {
                out.extend_from_slice(v);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn table_delete(&self, id: u32, key: &[u8]) -> Result<(), HostError> {
        if let Some(t) = self.tables.borrow_mut().get_mut(&id) {
            t.remove(key);
        }
        Ok(())
    }

    fn table_size(&self, id: u32) -> Result<u32, HostError> {
        Ok(self.tables.borrow().get(&id).map_or(0, |t| t.len() as u32))
    }

    fn table_page(
        &self,
        id: u32,
        after: &[u8],
        _limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<bool, HostError> {
        out.clear();
        let tables = self.tables.borrow();
        let Some(t) = tables.get(&id) else {
            return Ok(after.is_empty());
        };
        let Some(entries) = t.iter_after(after) else {
            return Ok(false);
        };
        for (k, v) in entries.take(self.page_entries) {
            out.extend_from_slice(k);
            out.extend_from_slice(v);
        }
        Ok(true)
    }

    fn table_keys(&self, id: u32, out: &mut Vec<u8>) -> Result<(), HostError> {
        out.clear();
        let tables = self.tables.borrow();
        let count = tables.get(&id).map_or(0, |t| t.len() as u32);
        out.extend_from_slice(&count.to_le_bytes());
        if let Some(t) = tables.get(&id) {
            for (k, _) in t.iter() {
                out.extend_from_slice(k);
            }
        }
        Ok(())
    }

    fn write_output(&self, bytes: &[u8]) {
        self.output.borrow_mut().extend_from_slice(bytes);
    }

    #[cfg(target_arch = "wasm32")]
    fn now_ms(&self) -> f64 {
        0.0
    }

    #[cfg(target_arch = "wasm32")]
    fn clock_ms(&self) -> f64 {
        0.0
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn now_ms(&self) -> f64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn clock_ms(&self) -> f64 {
        thread_local!(static START: std::time::Instant = std::time::Instant::now());
        START.with(|s| s.elapsed().as_secs_f64() * 1000.0)
    }

    fn fill_random(&self, buf: &mut [u8]) {
        // Deterministic in tests; seeding quality is the real hosts' concern.
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(167).wrapping_add(13);
        }
    }
}
