//! Lua strings: immutable byte strings. Short ones are interned (one object per content, so
//! equality and hashing are pointer operations); long ones are hashed only when first used as
//! a table key, so building a long string piece by piece never rehashes it.

use core::cell::Cell;
use core::fmt;

use alloc::boxed::Box;
use alloc::vec::Vec;

use gc_arena::allocator_api::MetricsAlloc;
use gc_arena::lock::RefLock;
use gc_arena::metrics::Metrics;
use gc_arena::{Collect, Gc, GcWeak, Mutation};
use hashbrown::hash_table::{Entry, VacantEntry};
use hashbrown::HashTable;

use crate::checked::borrow_mut;

/// Strings up to this length are interned.
pub const MAX_SHORT_LEN: usize = 40;

#[derive(Collect)]
#[collect(no_drop)]
pub struct StrData<'gc> {
    /// 0 until computed (a computed 0 is stored as 1).
    #[collect(require_static)]
    hash: Cell<u32>,
    #[collect(require_static)]
    bytes: Bytes,
    #[collect(require_static)]
    _gc: core::marker::PhantomData<&'gc ()>,
}

/// Strings up to this length keep their bytes in the string object: one allocation, and no
/// bigger an object than a pointer to a buffer of them would take with the buffer.
const INLINE_LEN: usize = 22;

/// A string's bytes. A buffer of them is counted in the arena's metrics while it lives (so the
/// collector's pacing and the memory limit see it), and built with one copy: allocator-api2's
/// buffers would need a zero fill first.
enum Bytes {
    Inline { len: u8, data: [u8; INLINE_LEN] },
    Heap { data: Box<[u8]>, metrics: Metrics },
}

impl Drop for Bytes {
    fn drop(&mut self) {
        if let Bytes::Heap { data, metrics } = self {
            metrics.mark_external_deallocation(data.len());
        }
    }
}

impl core::ops::Deref for Bytes {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Inline { len, data } => &data[..*len as usize],
            Bytes::Heap { data, .. } => data,
        }
    }
}

/// A Lua string.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub struct LuaStr<'gc>(pub(crate) Gc<'gc, StrData<'gc>>);

impl<'gc> LuaStr<'gc> {
    /// Kept out of line: it is called from hundreds of places, and inlined its branch on the
    /// representation would cost more module size than the call costs time.
    #[inline(never)]
    pub fn as_bytes(self) -> &'gc [u8] {
        &Gc::as_ref(self.0).bytes
    }

    #[inline]
    pub fn len(self) -> usize {
        self.as_bytes().len()
    }

    #[inline]
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn is_short(self) -> bool {
        self.len() <= MAX_SHORT_LEN
    }

    /// The content hash, computed on first use for long strings.
    #[inline]
    pub fn hash(self) -> u32 {
        let h = self.0.hash.get();
        if h != 0 {
            return h;
        }
        self.first_hash()
    }

    /// Out of line, so that table lookups, which inline [`LuaStr::hash`], need few registers.
    #[cold]
    #[inline(never)]
    fn first_hash(self) -> u32 {
        let h = hash_bytes(self.as_bytes());
        self.0.hash.set(h);
        h
    }

    pub(crate) fn addr(self) -> usize {
        Gc::as_ptr(self.0) as *const () as usize
    }

    /// The content as UTF-8 text, lossily.
    pub fn to_str_lossy(self) -> alloc::borrow::Cow<'gc, str> {
        alloc::string::String::from_utf8_lossy(self.as_bytes())
    }
}

impl<'gc> PartialEq for LuaStr<'gc> {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        if Gc::ptr_eq(self.0, other.0) {
            return true;
        }
        // Hashes, where both are known, tell most strings apart without their bytes.
        let (h, g) = (self.0.hash.get(), other.0.hash.get());
        if h != g && h != 0 && g != 0 {
            return false;
        }
        long_eq(*self, *other)
    }
}

/// Content equality of two distinct string objects, out of line for the same reason as
/// [`LuaStr::first_hash`].
#[inline(never)]
fn long_eq(a: LuaStr<'_>, b: LuaStr<'_>) -> bool {
    // Interning makes equal short strings the same object.
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() > MAX_SHORT_LEN && a == b
}

impl<'gc> Eq for LuaStr<'gc> {}

impl<'gc> fmt::Debug for LuaStr<'gc> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_str_lossy())
    }
}

/// A fast non-cryptographic hash (never 0).
pub fn hash_bytes(bytes: &[u8]) -> u32 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = (bytes.len() as u64).wrapping_mul(K) ^ 0x2545_F491_4F6C_DD1D;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    // The last word is read whole, overlapping bytes already mixed in where it must: short
    // strings take no byte loop. Each form determines the bytes, given the length.
    let n = bytes.len();
    let last = match n {
        0 => None,
        1..=3 => Some(bytes[0] as u64 | (bytes[n / 2] as u64) << 8 | (bytes[n - 1] as u64) << 16),
        4..=7 => Some(le_u32(&bytes[..4]) | le_u32(&bytes[n - 4..]) << 32),
        _ if chunks.remainder().is_empty() => None,
        _ => Some(u64::from_le_bytes(
            bytes[n - 8..].try_into().unwrap_or_default(),
        )),
    };
    if let Some(w) = last {
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    h ^= h >> 32;
    h = h.wrapping_mul(K);
    let h = (h >> 32) as u32;
    if h == 0 {
        1
    } else {
        h
    }
}

fn le_u32(b: &[u8]) -> u64 {
    u32::from_le_bytes(b.try_into().unwrap_or_default()) as u64
}

/// The interner's hash: hashbrown takes its control bits from the top of a `u64`, which a
/// zero-extended `u32` would leave all zero.
#[inline]
fn table_hash(hash: u32) -> u64 {
    (hash as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Where the interner puts a new string.
type Slot<'a, 'gc> = VacantEntry<'a, GcWeak<'gc, StrData<'gc>>, MetricsAlloc<'gc>>;

/// The set of live short strings. Entries are weak: the collector's finalization pass drops
/// the dead ones (see [`Interner::purge_dead`]). Its table counts toward the heap.
#[derive(Collect)]
#[collect(no_drop)]
pub struct Interner<'gc> {
    set: HashTable<GcWeak<'gc, StrData<'gc>>, MetricsAlloc<'gc>>,
}

impl<'gc> Interner<'gc> {
    pub fn new(mc: &Mutation<'gc>) -> Self {
        Interner {
            set: HashTable::new_in(MetricsAlloc::new(mc)),
        }
    }

    /// The interned string with these bytes (short, hashing to `hash`), or the slot for it
    /// when there is none: one probe finds either.
    fn find_or_slot(
        &mut self,
        mc: &Mutation<'gc>,
        bytes: &[u8],
        hash: u32,
    ) -> Result<LuaStr<'gc>, Slot<'_, 'gc>> {
        let mut found = None;
        let entry = self.set.entry(
            table_hash(hash),
            |w| {
                found = w.upgrade(mc).filter(|s| &*s.bytes == bytes);
                found.is_some()
            },
            // Rehashing only ever sees live entries: dead ones are purged before sweeping.
            |w| w.upgrade(mc).map_or(0, |s| table_hash(s.hash.get())),
        );
        match (entry, found) {
            (_, Some(s)) => Ok(LuaStr(s)),
            (Entry::Vacant(slot), None) => Err(slot),
            // Only a match, which `found` holds, makes an occupied entry.
            (Entry::Occupied(e), None) => Err(e.remove().1),
        }
    }

    /// Forgets strings the collector is about to free. Called between marking and sweeping.
    pub fn purge_dead(&mut self, fc: &gc_arena::Finalization<'gc>) {
        self.set.retain(|w| !w.is_dead(fc));
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

/// The string with these bytes: the interned one for short strings, a new one otherwise.
pub(crate) fn intern<'gc>(
    strings: Gc<'gc, RefLock<Interner<'gc>>>,
    mc: &Mutation<'gc>,
    bytes: &[u8],
) -> LuaStr<'gc> {
    if bytes.len() > MAX_SHORT_LEN {
        return new_string(mc, bytes, 0);
    }
    let hash = hash_bytes(bytes);
    // The state always has a weak table, so `Lua::collect_debt` marks all in one pause and the
    // write barrier here never re-traces the set.
    let mut set = borrow_mut(strings, mc);
    set.find_or_slot(mc, bytes, hash).unwrap_or_else(|slot| {
        let s = new_string(mc, bytes, hash);
        slot.insert(Gc::downgrade(s.0));
        s
    })
}

/// Where a short string built in place ends (see [`intern_built`]): room before it for the
/// longest one and an integer written before its length is checked.
pub(crate) const BUILD_END: usize = MAX_SHORT_LEN + 20;

/// The size of a buffer to build a short string in, right to left so that integers are
/// written where they end; past [`BUILD_END`] it has room to copy an inline string's bytes
/// whole.
pub(crate) const BUILD_LEN: usize = BUILD_END + INLINE_LEN;

/// The interned string of `buf[start..BUILD_END]` (at most [`MAX_SHORT_LEN`] bytes), whose
/// bytes move into a new string as one fixed-size copy.
pub(crate) fn intern_built<'gc>(
    strings: Gc<'gc, RefLock<Interner<'gc>>>,
    mc: &Mutation<'gc>,
    buf: &[u8; BUILD_LEN],
    start: usize,
) -> LuaStr<'gc> {
    let bytes = &buf[start..BUILD_END];
    let hash = hash_bytes(bytes);
    let mut set = borrow_mut(strings, mc);
    set.find_or_slot(mc, bytes, hash).unwrap_or_else(|slot| {
        let s = match buf[start..].first_chunk() {
            Some(&data) if bytes.len() <= INLINE_LEN => {
                let len = bytes.len() as u8;
                with_bytes(mc, Bytes::Inline { len, data }, hash)
            }
            _ => new_string(mc, bytes, hash),
        };
        slot.insert(Gc::downgrade(s.0));
        s
    })
}

fn new_string<'gc>(mc: &Mutation<'gc>, bytes: &[u8], hash: u32) -> LuaStr<'gc> {
    from_parts(mc, &[bytes], bytes.len(), hash)
}

/// A string of the concatenated `parts` (`len` bytes in all), copied once. A short one must be
/// interned instead: this one would be unequal to it.
pub(crate) fn from_parts<'gc>(
    mc: &Mutation<'gc>,
    parts: &[&[u8]],
    len: usize,
    hash: u32,
) -> LuaStr<'gc> {
    let bytes = if len <= INLINE_LEN {
        let mut data = [0u8; INLINE_LEN];
        let mut at = 0;
        for p in parts {
            data[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        Bytes::Inline {
            len: len as u8,
            data,
        }
    } else {
        let mut data = Vec::with_capacity(len);
        for p in parts {
            data.extend_from_slice(p);
        }
        let metrics = mc.metrics().clone();
        metrics.mark_external_allocation(len);
        Bytes::Heap {
            data: data.into_boxed_slice(),
            metrics,
        }
    };
    with_bytes(mc, bytes, hash)
}

fn with_bytes<'gc>(mc: &Mutation<'gc>, bytes: Bytes, hash: u32) -> LuaStr<'gc> {
    LuaStr(Gc::new(
        mc,
        StrData {
            hash: Cell::new(hash),
            bytes,
            _gc: core::marker::PhantomData,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::hash_bytes;

    #[test]
    fn short_strings_hash_apart() {
        // Every string of up to 9 bytes over a small alphabet (the tail forms for 1-3, 4-7
        // and 8+ bytes all covered): distinct hashes, so the tail reads lose no byte.
        let mut hashes = alloc::vec::Vec::new();
        for len in 0..=9u32 {
            for n in 0..3u32.pow(len) {
                let s: alloc::vec::Vec<u8> = (0..len)
                    .map(|i| b"a0\xff"[(n / 3u32.pow(i) % 3) as usize])
                    .collect();
                hashes.push(hash_bytes(&s));
            }
        }
        let total = hashes.len();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), total);
    }
}
