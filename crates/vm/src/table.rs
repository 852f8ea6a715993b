//! Lua tables: an array part for the keys `1..=n` and an open-addressing hash part for the
//! rest. Deleted entries stay as tombstones (key kept, value nil) until the next rehash, so
//! `next` keeps working when a traversal assigns nil to fields, as Lua allows.

use core::cell::Cell;
use core::mem::size_of;

use allocator_api2::vec::Vec as AVec;
use gc_arena::allocator_api::MetricsAlloc;
use gc_arena::lock::RefLock;
use gc_arena::{Collect, Gc, Mutation};

use crate::checked::{at, at_mut, borrow, borrow_mut};
use crate::number::float_to_int;
use crate::string::LuaStr;
use crate::value::Value;

/// A Lua table.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub struct Table<'gc>(pub(crate) Gc<'gc, RefLock<TableState<'gc>>>);

impl<'gc> PartialEq for Table<'gc> {
    fn eq(&self, other: &Self) -> bool {
        Gc::ptr_eq(self.0, other.0)
    }
}

impl<'gc> Eq for Table<'gc> {}

/// Why a key cannot be stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    Nil,
    NaN,
    /// Storing it would grow the table past the room it was given, or the allocator refused.
    Memory,
}

impl KeyError {
    pub fn message(self) -> &'static str {
        match self {
            KeyError::Nil => "table index is nil",
            KeyError::NaN => "table index is NaN",
            KeyError::Memory => "not enough memory",
        }
    }
}

#[derive(Clone, Copy, Collect, Default)]
#[collect(no_drop)]
pub(crate) struct Node<'gc> {
    key: Value<'gc>,
    value: Value<'gc>,
}

impl<'gc> Node<'gc> {
    /// A slot whose entry was deleted. NaN is never a key, so it matches no lookup, but its
    /// payload keeps the address of a deleted object key (0 for none): `next` can still go
    /// on from that key, yet the slot no longer keeps the object alive, as lua5.4's dead
    /// keys do. Rehashing drops it.
    fn tombstone(addr: usize) -> Self {
        Node {
            key: Value::Float(f64::from_bits(
                TOMBSTONE_NAN | (addr as u64 & TOMBSTONE_PAYLOAD),
            )),
            value: Value::Nil,
        }
    }
}

const TOMBSTONE_NAN: u64 = 0x7FF8_0000_0000_0000;
const TOMBSTONE_PAYLOAD: u64 = 0x0007_FFFF_FFFF_FFFF;

/// Whether `slot_key` is the tombstone `key` left when it was deleted.
#[inline]
fn is_tombstone_of(slot_key: Value<'_>, key: Value<'_>) -> bool {
    match (slot_key, key.addr()) {
        (Value::Float(f), Some(addr)) if f.is_nan() => {
            f.to_bits() & TOMBSTONE_PAYLOAD == addr as u64 & TOMBSTONE_PAYLOAD
        }
        _ => false,
    }
}

#[derive(Collect)]
#[collect(no_drop)]
pub struct TableState<'gc> {
    array: AVec<Value<'gc>, MetricsAlloc<'gc>>,
    /// Empty, or a power-of-two number of slots. A slot with a nil key is free.
    nodes: AVec<Node<'gc>, MetricsAlloc<'gc>>,
    /// Slots with a key (live or tombstone).
    used: usize,
    meta: Option<Table<'gc>>,
    /// Bit `e` set: this table, used as a metatable, is known to lack metamethod `e`.
    #[collect(require_static)]
    absent: Cell<u32>,
    /// `__mode` of its metatable: bit 0 weak keys, bit 1 weak values (see `gc.rs`).
    weak: u8,
    /// The id of an external table (see `external.rs`): its entries live with the embedder.
    external: Option<u32>,
}

/// A position in a table's storage, stable until the next rehash.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Slot {
    Array(usize),
    Node(usize),
}

#[inline]
fn mix(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The key's hash; `key` must be normalised (no nil, no NaN, no integral float).
#[inline]
fn hash_key(key: Value<'_>) -> u64 {
    match key {
        Value::Integer(i) => mix(i as u64),
        Value::String(s) => mix(s.hash() as u64 ^ 0x5555),
        Value::Float(f) => mix(f.to_bits() ^ 0xF10A7),
        Value::Boolean(b) => mix(b as u64 + 0xB001),
        other => mix(other.addr().unwrap_or(0) as u64),
    }
}

/// Keys as tables see them: floats with integral values become integers.
#[inline]
pub fn normalize_key(key: Value<'_>) -> Result<Value<'_>, KeyError> {
    match key {
        Value::Nil => Err(KeyError::Nil),
        Value::Float(f) => match float_to_int(f) {
            Some(i) => Ok(Value::Integer(i)),
            None if f.is_nan() => Err(KeyError::NaN),
            None => Ok(key),
        },
        _ => Ok(key),
    }
}

#[inline]
fn key_eq<'gc>(a: Value<'gc>, b: Value<'gc>) -> bool {
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Boolean(x), Value::Boolean(y)) => x == y,
        (Value::Nil, _) | (_, Value::Nil) => false,
        _ => a.raw_eq(b),
    }
}

impl<'gc> TableState<'gc> {
    fn new(mc: &Mutation<'gc>, array: usize, hash: usize) -> Self {
        // The array part starts at its full size, as lua5.4's constructors size it: this is
        // what makes `#{1, nil, 3}` equal 3.
        let mut array_part = AVec::with_capacity_in(array, MetricsAlloc::new(mc));
        array_part.resize(array, Value::Nil);
        let mut state = TableState {
            array: array_part,
            nodes: AVec::new_in(MetricsAlloc::new(mc)),
            used: 0,
            meta: None,
            absent: Cell::new(0),
            weak: 0,
            external: None,
        };
        if hash > 0 {
            state.resize_nodes(hash);
        }
        state
    }

    #[inline]
    fn slot(&self, hash: u64) -> usize {
        // Fibonacci hashing: the top bits of the mixed hash pick the slot.
        let bits = self.nodes.len().trailing_zeros();
        if bits == 0 {
            0
        } else {
            (hash >> (64 - bits)) as usize
        }
    }

    /// The slot holding `key` (live or tombstone).
    #[inline]
    fn find(&self, key: Value<'gc>) -> Option<usize> {
        if self.nodes.is_empty() {
            return None;
        }
        let mask = self.nodes.len() - 1;
        let mut i = self.slot(hash_key(key));
        loop {
            let node = &self.nodes[i];
            if node.key.is_nil() {
                return None;
            }
            if key_eq(node.key, key) || is_tombstone_of(node.key, key) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Raw read of a normalised key.
    #[inline]
    pub fn get(&self, key: Value<'gc>) -> Value<'gc> {
        match key {
            Value::Integer(i) => self.get_int(i),
            Value::String(s) => self.get_str(s),
            Value::Nil => Value::Nil,
            Value::Float(f) => match float_to_int(f) {
                Some(i) => self.get_int(i),
                None => self.get_hashed(key),
            },
            _ => self.get_hashed(key),
        }
    }

    #[inline]
    fn get_hashed(&self, key: Value<'gc>) -> Value<'gc> {
        match self.find(key) {
            Some(i) => at(&self.nodes, i).value,
            None => Value::Nil,
        }
    }

    #[inline]
    pub fn get_int(&self, i: i64) -> Value<'gc> {
        let idx = (i as u64).wrapping_sub(1);
        if idx < self.array.len() as u64 {
            return *at(&self.array, idx as usize);
        }
        if self.nodes.is_empty() {
            return Value::Nil;
        }
        self.get_hashed(Value::Integer(i))
    }

    #[inline]
    pub fn get_str(&self, s: LuaStr<'gc>) -> Value<'gc> {
        if self.nodes.is_empty() {
            return Value::Nil;
        }
        let mask = self.nodes.len() - 1;
        let mut i = self.slot(mix(s.hash() as u64 ^ 0x5555));
        loop {
            let node = &self.nodes[i];
            match node.key {
                Value::String(k) if k == s => return node.value,
                Value::Nil => return Value::Nil,
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Raw write. Assigning nil deletes.
    pub fn set(&mut self, key: Value<'gc>, value: Value<'gc>) -> Result<(), KeyError> {
        self.try_set(key, value, usize::MAX)
    }

    /// Raw write that allocates at most `room` bytes: a table that would grow past it stays
    /// as it was and the write fails with [`KeyError::Memory`]. The interpreter's fast paths
    /// pass 0 (growing is for the slow path, which knows the memory limit).
    #[inline]
    pub fn try_set(
        &mut self,
        key: Value<'gc>,
        value: Value<'gc>,
        room: usize,
    ) -> Result<(), KeyError> {
        match normalize_key(key)? {
            Value::Integer(i) => self.try_set_int(i, value, room),
            key => self.set_hashed(key, value, room),
        }
    }

    /// Writes that cannot fail but for the platform running out of memory (small tables the
    /// VM itself fills).
    #[inline]
    pub fn set_int(&mut self, i: i64, value: Value<'gc>) {
        if self.try_set_int(i, value, usize::MAX).is_err() {
            out_of_memory();
        }
    }

    #[inline]
    pub fn try_set_int(&mut self, i: i64, value: Value<'gc>, room: usize) -> Result<(), KeyError> {
        let idx = (i as u64).wrapping_sub(1);
        let len = self.array.len() as u64;
        if idx < len {
            *at_mut(&mut self.array, idx as usize) = value;
            Ok(())
        } else if idx == len && !value.is_nil() && self.array.len() < MAX_ARRAY {
            if self.nodes.is_empty() && self.array.len() < self.array.capacity() {
                // The common append: room for it, and no hash part to move keys from.
                self.array.push(value);
                return Ok(());
            }
            self.push_array(value, room)
        } else {
            self.set_hashed(Value::Integer(i), value, room)
        }
    }

    #[inline]
    pub fn set_str(&mut self, key: LuaStr<'gc>, value: Value<'gc>) {
        if self.try_set_str(key, value, usize::MAX).is_err() {
            out_of_memory();
        }
    }

    #[inline]
    pub fn try_set_str(
        &mut self,
        key: LuaStr<'gc>,
        value: Value<'gc>,
        room: usize,
    ) -> Result<(), KeyError> {
        self.set_hashed(Value::String(key), value, room)
    }

    /// Room in the array part for one more item, doubling it within `room` bytes.
    fn array_room(&mut self, room: usize) -> Result<(), KeyError> {
        let cap = self.array.capacity();
        if self.array.len() < cap {
            return Ok(());
        }
        let grow = cap.clamp(4, MAX_ARRAY - cap);
        reserve(&mut self.array, grow, room)
    }

    /// Appends at key `#array + 1`, moving following keys out of the hash part so that no
    /// key of the array part also lives in the hash part.
    fn push_array(&mut self, value: Value<'gc>, room: usize) -> Result<(), KeyError> {
        let len = self.array.len();
        let key = Value::Integer(len as i64 + 1);
        // Before doubling, see whether the array part earns it: a queue leaves it mostly
        // nil, and lua5.4 would then rehash, keeping the sparse keys in the hash part.
        // Counting only at capacity keeps appends amortised O(1).
        // (A room of 0, the interpreter's fast path, could not rehash: skip the count.)
        if len == self.array.capacity() && len > 0 && room > 0 && self.live_array() * 2 < len {
            self.rehash(key, room)?;
            return self.set_rehashed(key, value, room);
        }
        self.array_room(room)?;
        self.remove_hashed(key);
        self.array.push(value);
        // Following keys stay in the hash part when the array part has no room for them.
        while !self.nodes.is_empty() && self.array_room(room).is_ok() {
            let key = Value::Integer(self.array.len() as i64 + 1);
            let Some(slot) = self.find(key) else { break };
            let v = self.nodes[slot].value;
            if v.is_nil() {
                break;
            }
            self.nodes[slot].value = Value::Nil;
            self.array.push(v);
        }
        Ok(())
    }

    /// Deletes `key` from the hash part, where an append may find it (a key the array part
    /// had no room for).
    #[inline]
    fn remove_hashed(&mut self, key: Value<'gc>) {
        if !self.nodes.is_empty() {
            if let Some(slot) = self.find(key) {
                self.nodes[slot].value = Value::Nil;
            }
        }
    }

    fn set_hashed(
        &mut self,
        key: Value<'gc>,
        value: Value<'gc>,
        room: usize,
    ) -> Result<(), KeyError> {
        // Any write may add or remove a metamethod of a table used as a metatable.
        self.absent.set(0);
        if let Some(slot) = self.find(key) {
            let node = &mut self.nodes[slot];
            node.value = value;
            match (value.is_nil(), key.addr()) {
                // A deleted object key must not keep its object alive.
                (true, Some(addr)) => *node = Node::tombstone(addr),
                (false, _) => node.key = key,
                (true, None) => {}
            }
            return Ok(());
        }
        if value.is_nil() {
            return Ok(());
        }
        if (self.used + 1) * 8 > self.nodes.len() * 7 {
            self.rehash(key, room)?;
            return self.set_rehashed(key, value, room);
        }
        self.insert_new(key, value);
        Ok(())
    }

    /// Stores `key` after `rehash(key)` sized the parts for it.
    fn set_rehashed(
        &mut self,
        key: Value<'gc>,
        value: Value<'gc>,
        room: usize,
    ) -> Result<(), KeyError> {
        // The rehash may have made room for the key in the array part.
        if let Value::Integer(i) = key {
            let idx = (i as u64).wrapping_sub(1);
            if idx < self.array.len() as u64 {
                *at_mut(&mut self.array, idx as usize) = value;
                return Ok(());
            }
            if idx == self.array.len() as u64 && self.array.len() < MAX_ARRAY {
                return self.push_array(value, room);
            }
        }
        // An append may find its key in the hash part already (see `push_array`).
        match self.find(key) {
            Some(slot) => self.nodes[slot].value = value,
            None => self.insert_new(key, value),
        }
        Ok(())
    }

    /// Inserts a key known to be absent, with room guaranteed.
    fn insert_new(&mut self, key: Value<'gc>, value: Value<'gc>) {
        let mask = self.nodes.len() - 1;
        let mut i = self.slot(hash_key(key));
        while !self.nodes[i].key.is_nil() {
            i = (i + 1) & mask;
        }
        self.nodes[i] = Node { key, value };
        self.used += 1;
    }

    fn resize_nodes(&mut self, entries: usize) {
        let want = node_slots(entries);
        let alloc = self.nodes.allocator().clone();
        let mut nodes = AVec::with_capacity_in(want, alloc);
        nodes.resize(want, Node::default());
        self.replace_nodes(nodes);
    }

    /// Moves the live entries into `nodes` (empty slots, room for them all).
    fn replace_nodes(&mut self, nodes: AVec<Node<'gc>, MetricsAlloc<'gc>>) {
        let old = core::mem::replace(&mut self.nodes, nodes);
        self.used = 0;
        for node in old.iter() {
            if !node.key.is_nil() && !node.value.is_nil() {
                self.insert_new(node.key, node.value);
            }
        }
    }

    /// Resizes both parts for the live entries plus `extra`, choosing the array size as Lua
    /// does: the largest `n` (a power of two) with more than `n/2` of the keys `1..=n` present.
    fn rehash(&mut self, extra: Value<'gc>, room: usize) -> Result<(), KeyError> {
        // counts[b]: integer keys in (2^(b-1), 2^b]
        let mut counts = [0usize; 65];
        let mut total_ints = 0usize;
        let count_int = |i: i64, counts: &mut [usize; 65]| {
            if i >= 1 && (i as u64) <= MAX_ARRAY as u64 {
                let b = 64 - ((i - 1) as u64).leading_zeros() as usize;
                counts[b] += 1;
                true
            } else {
                false
            }
        };
        for (i, v) in self.array.iter().enumerate() {
            if !v.is_nil() && count_int(i as i64 + 1, &mut counts) {
                total_ints += 1;
            }
        }
        let mut live = 0usize;
        for node in self.nodes.iter() {
            if !node.key.is_nil() && !node.value.is_nil() {
                live += 1;
                if let Value::Integer(i) = node.key {
                    if count_int(i, &mut counts) {
                        total_ints += 1;
                    }
                }
            }
        }
        live += 1;
        if let Value::Integer(i) = extra {
            if count_int(i, &mut counts) {
                total_ints += 1;
            }
        }
        let mut array_size = 0usize;
        let mut in_array = 0usize;
        let mut acc = 0usize;
        for (b, &c) in counts.iter().enumerate() {
            let size = 1usize << b;
            if size / 2 >= total_ints {
                break;
            }
            acc += c;
            if acc > size / 2 {
                array_size = size;
                in_array = acc;
            }
        }
        let non_array_live = self.live_array() + live - in_array;
        // Room for half as many again: a table whose keys come and go (a queue in the hash
        // part) then rehashes once per `live / 2` inserts, not on every insert. A growing
        // table gets the same doubling as without it.
        self.resize(array_size, non_array_live + non_array_live / 2, room)
    }

    fn live_array(&self) -> usize {
        self.array.iter().filter(|v| !v.is_nil()).count()
    }

    /// Moves entries so the array part has `array_size` slots and the hash part room for
    /// `hash_entries`. What it needs is allocated first, within `room` bytes, so that a
    /// failure leaves the table as it was.
    fn resize(
        &mut self,
        array_size: usize,
        hash_entries: usize,
        room: usize,
    ) -> Result<(), KeyError> {
        let spilled = self
            .array
            .iter()
            .skip(array_size)
            .filter(|v| !v.is_nil())
            .count();
        let slots = node_slots(hash_entries.max(spilled));
        let grow = array_size.saturating_sub(self.array.len());
        // Growing may copy the array part: count all of it.
        let array_bytes = if array_size > self.array.capacity() {
            array_size * size_of::<Value>()
        } else {
            0
        };
        let bytes = array_bytes + (spilled + slots) * size_of::<Node>();
        if bytes > room {
            return Err(KeyError::Memory);
        }
        reserve(&mut self.array, grow, usize::MAX)?;
        let mut spill = AVec::new_in(self.array.allocator().clone());
        reserve(&mut spill, spilled, usize::MAX)?;
        let mut new_nodes = AVec::new_in(self.nodes.allocator().clone());
        reserve(&mut new_nodes, slots, usize::MAX)?;
        new_nodes.resize(slots, Node::default());
        let old_nodes = core::mem::replace(&mut self.nodes, new_nodes);
        self.used = 0;
        // Array items that no longer fit move to the hash part.
        if self.array.len() > array_size {
            for (i, v) in self.array.iter().enumerate().skip(array_size) {
                if !v.is_nil() {
                    spill.push(Node {
                        key: Value::Integer(i as i64 + 1),
                        value: *v,
                    });
                }
            }
            self.array.truncate(array_size);
            self.array.shrink_to_fit();
        }
        if array_size > self.array.len() {
            self.array.resize(array_size, Value::Nil);
        }
        for node in spill.iter().chain(old_nodes.iter()) {
            if node.key.is_nil() || node.value.is_nil() {
                continue;
            }
            if let Value::Integer(i) = node.key {
                let idx = (i as u64).wrapping_sub(1);
                if idx < array_size as u64 {
                    if idx >= self.array.len() as u64 {
                        self.array.resize(idx as usize + 1, Value::Nil);
                    }
                    self.array[idx as usize] = node.value;
                    continue;
                }
            }
            if (self.used + 1) * 8 > self.nodes.len() * 7 {
                let n = self.used + 1;
                self.resize_nodes(n);
            }
            self.insert_new(node.key, node.value);
        }
        Ok(())
    }

    /// A border: `n` with `t[n] ~= nil` and `t[n+1] == nil` (0 if `t[1]` is nil).
    pub fn length(&self) -> i64 {
        let n = self.array.len();
        if n > 0 && self.array[n - 1].is_nil() {
            // Binary search for a border inside the array part.
            let (mut lo, mut hi) = (0usize, n);
            if n >= 2 && !self.array[n - 2].is_nil() {
                return n as i64 - 1;
            }
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if self.array[mid - 1].is_nil() {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            return lo as i64;
        }
        if self.nodes.is_empty() || self.get_hashed(Value::Integer(n as i64 + 1)).is_nil() {
            return n as i64;
        }
        // Unbounded search in the hash part, then bisection.
        let mut i = n as u64 + 1;
        let mut j = i * 2;
        while !self.get_int(j as i64).is_nil() {
            i = j;
            if j > (i64::MAX as u64) / 2 {
                // Built to defeat the search: count up from 1 (bounded by the entries).
                let mut k = 1i64;
                while !self.get_int(k).is_nil() {
                    k += 1;
                }
                return k - 1;
            }
            j *= 2;
        }
        while j - i > 1 {
            let m = (i + j) / 2;
            if self.get_int(m as i64).is_nil() {
                j = m;
            } else {
                i = m;
            }
        }
        i as i64
    }

    /// The entry after `key` in traversal order (`Nil` starts); `Ok(None)` at the end,
    /// `Err` when `key` is not in the table.
    #[allow(clippy::result_unit_err)]
    pub fn next(&self, key: Value<'gc>) -> Result<Option<(Value<'gc>, Value<'gc>)>, ()> {
        let start_hash = match key {
            Value::Nil => return Ok(self.next_from(0)),
            _ => {
                let key = normalize_key(key).map_err(|_| ())?;
                if let Value::Integer(i) = key {
                    let idx = (i as u64).wrapping_sub(1);
                    if idx < self.array.len() as u64 {
                        return Ok(self.next_from(idx as usize + 1));
                    }
                }
                self.find(key).ok_or(())?
            }
        };
        Ok(self.next_from(self.array.len() + start_hash + 1))
    }

    /// The first entry at or after position `pos` (array slots first, then hash slots).
    fn next_from(&self, mut pos: usize) -> Option<(Value<'gc>, Value<'gc>)> {
        while pos < self.array.len() {
            let v = self.array[pos];
            if !v.is_nil() {
                return Some((Value::Integer(pos as i64 + 1), v));
            }
            pos += 1;
        }
        let mut slot = pos - self.array.len();
        while slot < self.nodes.len() {
            let node = self.nodes[slot];
            if !node.value.is_nil() {
                return Some((node.key, node.value));
            }
            slot += 1;
        }
        None
    }

    pub fn metatable(&self) -> Option<Table<'gc>> {
        self.meta
    }

    pub fn set_metatable(&mut self, meta: Option<Table<'gc>>) {
        self.meta = meta;
    }

    /// Whether metamethod `event` is known to be absent from this table.
    #[inline]
    pub(crate) fn known_absent(&self, event: u32) -> bool {
        self.absent.get() & (1 << event) != 0
    }

    #[inline]
    pub(crate) fn mark_absent(&self, event: u32) {
        self.absent.set(self.absent.get() | (1 << event));
    }

    /// The id of an external table, `None` for a table that holds its own entries.
    #[inline]
    pub fn external_id(&self) -> Option<u32> {
        self.external
    }

    /// Turns this table into external table `id`: its own entries go (the embedder has
    /// taken them) and it gets the shared protected metatable.
    pub(crate) fn make_external(&mut self, id: u32, meta: Table<'gc>) {
        self.array.clear();
        self.array.shrink_to_fit();
        self.nodes.clear();
        self.nodes.shrink_to_fit();
        self.used = 0;
        self.meta = Some(meta);
        self.absent.set(0);
        self.weak = 0;
        self.external = Some(id);
    }

    pub(crate) fn weak_mode(&self) -> u8 {
        self.weak
    }

    pub(crate) fn set_weak_mode(&mut self, mode: u8) {
        self.weak = mode;
    }

    /// Removes the entries `pick` selects, leaving their slots empty (array) or as
    /// tombstones (hash), and returns them with their slots.
    pub(crate) fn take_entries(
        &mut self,
        mut pick: impl FnMut(Value<'gc>, Value<'gc>) -> bool,
    ) -> alloc::vec::Vec<(Slot, Value<'gc>, Value<'gc>)> {
        let mut taken = alloc::vec::Vec::new();
        for (i, v) in self.array.iter_mut().enumerate() {
            if !v.is_nil() && pick(Value::Integer(i as i64 + 1), *v) {
                taken.push((Slot::Array(i), Value::Integer(i as i64 + 1), *v));
                *v = Value::Nil;
            }
        }
        for (i, node) in self.nodes.iter_mut().enumerate() {
            if !node.key.is_nil() && !node.value.is_nil() && pick(node.key, node.value) {
                taken.push((Slot::Node(i), node.key, node.value));
                *node = Node::tombstone(0);
            }
        }
        taken
    }

    /// Puts an entry taken by `take_entries` back (`None`: it died; its slot stays empty).
    pub(crate) fn restore_entry(&mut self, slot: Slot, entry: Option<(Value<'gc>, Value<'gc>)>) {
        match (slot, entry) {
            (Slot::Array(i), Some((_, v))) => self.array[i] = v,
            (Slot::Node(i), Some((k, v))) => self.nodes[i] = Node { key: k, value: v },
            (Slot::Array(i), None) => self.array[i] = Value::Nil,
            (Slot::Node(i), None) => self.nodes[i] = Node::tombstone(0),
        }
    }

    /// The number of entries that are stored in the array part (for `table` library sizing).
    pub fn array_len(&self) -> usize {
        self.array.len()
    }

    /// Makes room for `n` array items (the `NewTable`/`SetList` sizes and `table.move`).
    pub fn reserve_array(&mut self, n: usize) {
        self.array.reserve(n.min(MAX_ARRAY));
    }

    /// `t[start+1], ..., t[start+n] = values` for a table constructor: the array part grows
    /// to hold them all, nils included, as lua5.4 sizes it (so `#{...}` counts them), within
    /// `room` bytes.
    pub fn set_list(
        &mut self,
        start: usize,
        values: &[Value<'gc>],
        room: usize,
    ) -> Result<(), KeyError> {
        let end = start.saturating_add(values.len());
        if start <= self.array.len() && end <= MAX_ARRAY {
            if end > self.array.len() {
                // Doubling, as pushes do: a constructor's SetLists come 50 values at a time.
                let cap = self.array.capacity();
                let more = end.max(cap.saturating_mul(2)).min(MAX_ARRAY) - self.array.len();
                reserve(&mut self.array, more, room)?;
                self.array.resize(end, Value::Nil);
                if !self.nodes.is_empty() {
                    // Keys now in the array part must not stay in the hash part.
                    for k in start + 1..=end {
                        if let Some(slot) = self.find(Value::Integer(k as i64)) {
                            self.nodes[slot].value = Value::Nil;
                        }
                    }
                }
            }
            self.array[start..end].copy_from_slice(values);
        } else {
            for (i, &v) in values.iter().enumerate() {
                self.try_set_int(start as i64 + i as i64 + 1, v, room)?;
            }
        }
        Ok(())
    }
}

/// Hash slots for `entries` entries: a power of two, at most 7/8 full.
fn node_slots(entries: usize) -> usize {
    if entries == 0 {
        0
    } else {
        (entries * 8 / 7 + 1).next_power_of_two().max(4)
    }
}

/// Makes `v` hold `additional` more items, failing when the allocation (counted as the whole
/// new buffer, since growing may copy it) exceeds `room` bytes or the allocator refuses.
fn reserve<T>(
    v: &mut AVec<T, MetricsAlloc<'_>>,
    additional: usize,
    room: usize,
) -> Result<(), KeyError> {
    let total = v.len().saturating_add(additional);
    if total <= v.capacity() {
        return Ok(());
    }
    let bytes = total.saturating_mul(size_of::<T>());
    if bytes > room {
        return Err(KeyError::Memory);
    }
    let old = v.capacity();
    // Probing for the growth first leaves that much free at the end of the heap, where the
    // buffer, if it ends there, grows in place; the headroom is checked once it has grown.
    let growth = (total - old).saturating_mul(size_of::<T>());
    if !crate::state::platform_has(growth) {
        return Err(KeyError::Memory);
    }
    v.try_reserve_exact(additional)
        .map_err(|_| KeyError::Memory)?;
    if !crate::state::platform_keeps_headroom(bytes) {
        v.shrink_to(old);
        return Err(KeyError::Memory);
    }
    Ok(())
}

/// The platform refused memory for a write the VM cannot fail: the same abort as any
/// infallible allocation.
#[cold]
fn out_of_memory() -> ! {
    alloc::alloc::handle_alloc_error(core::alloc::Layout::new::<Node<'static>>())
}

/// Array parts never grow past this many slots; larger keys live in the hash part.
const MAX_ARRAY: usize = 1 << 26;

impl<'gc> Table<'gc> {
    pub fn new(mc: &Mutation<'gc>) -> Table<'gc> {
        Self::with_capacity(mc, 0, 0)
    }

    pub fn with_capacity(mc: &Mutation<'gc>, array: usize, hash: usize) -> Table<'gc> {
        Table(Gc::new(
            mc,
            RefLock::new(TableState::new(
                mc,
                array.min(MAX_ARRAY),
                hash.min(MAX_ARRAY),
            )),
        ))
    }

    #[inline]
    pub fn state(self) -> core::cell::Ref<'gc, TableState<'gc>> {
        borrow(self.0)
    }

    #[inline]
    pub fn state_mut(self, mc: &Mutation<'gc>) -> core::cell::RefMut<'gc, TableState<'gc>> {
        borrow_mut(self.0, mc)
    }

    #[inline]
    pub fn get(self, key: Value<'gc>) -> Value<'gc> {
        borrow(self.0).get(key)
    }

    #[inline]
    pub fn get_int(self, i: i64) -> Value<'gc> {
        borrow(self.0).get_int(i)
    }

    #[inline]
    pub fn get_str(self, key: LuaStr<'gc>) -> Value<'gc> {
        borrow(self.0).get_str(key)
    }

    #[inline]
    pub fn set(
        self,
        mc: &Mutation<'gc>,
        key: Value<'gc>,
        value: Value<'gc>,
    ) -> Result<(), KeyError> {
        borrow_mut(self.0, mc).set(key, value)
    }

    #[inline]
    pub fn set_int(self, mc: &Mutation<'gc>, i: i64, value: Value<'gc>) {
        borrow_mut(self.0, mc).set_int(i, value)
    }

    #[inline]
    pub fn set_str(self, mc: &Mutation<'gc>, key: LuaStr<'gc>, value: Value<'gc>) {
        borrow_mut(self.0, mc).set_str(key, value)
    }

    pub fn length(self) -> i64 {
        borrow(self.0).length()
    }

    #[allow(clippy::result_unit_err)]
    pub fn next(self, key: Value<'gc>) -> Result<Option<(Value<'gc>, Value<'gc>)>, ()> {
        borrow(self.0).next(key)
    }

    pub fn metatable(self) -> Option<Table<'gc>> {
        borrow(self.0).meta
    }

    pub fn set_metatable(self, mc: &Mutation<'gc>, meta: Option<Table<'gc>>) {
        borrow_mut(self.0, mc).meta = meta;
    }

    /// The id of an external table, `None` for a table that holds its own entries.
    #[inline]
    pub fn external_id(self) -> Option<u32> {
        borrow(self.0).external
    }

    pub(crate) fn addr(self) -> usize {
        Gc::as_ptr(self.0) as *const () as usize
    }
}
