//! External tables: tables whose entries live with the embedder, not in the arena.
//!
//! An external table is a [`Table`] with an id and no entries of its own. Raw access
//! (`rawget`, `rawset`, `next`, `rawlen`, `#`) and access through the interpreter and the
//! library go to the embedder's [`External`] storage, so scripts see an ordinary table.
//!
//! Every external table carries one shared, protected metatable (`getmetatable` gives
//! `"external table"`). Its `__index` and `__newindex` fields are markers, never called: they
//! only turn the interpreter away from a table's own (empty) entries. The table instructions
//! then reach the storage through `get` and `set` without leaving the dispatch loop; the
//! metamethod paths check for an external table first.

use alloc::rc::Rc;

use crate::function::{Upval, UpvalState};
use crate::interp::{Action, Error, NativeCall};
use crate::state::Ctx;
use crate::table::{normalize_key, Table};
use crate::thread::{Thread, ThreadState};
use crate::value::Value;

/// What `getmetatable` answers for an external table.
pub const PROTECTED_NAME: &str = "external table";

/// The thread running when a value is stored, so that the variables a stored closure
/// captures can be read while they still live in its registers.
pub struct Running<'a, 'gc> {
    thread: Thread<'gc>,
    stack: &'a [Value<'gc>],
}

impl<'a, 'gc> Running<'a, 'gc> {
    pub(crate) fn new(thread: Thread<'gc>, ts: &'a ThreadState<'gc>) -> Self {
        Running {
            thread,
            stack: &ts.stack,
        }
    }

    /// The current value of a captured variable.
    pub fn upvalue(&self, u: Upval<'gc>) -> Value<'gc> {
        match u.0.get() {
            UpvalState::Closed(v) => v,
            UpvalState::Open { thread, index } if thread == self.thread => {
                self.stack.get(index).copied().unwrap_or_default()
            }
            UpvalState::Open { thread, index } => thread
                .0
                .borrow()
                .stack
                .get(index)
                .copied()
                .unwrap_or_default(),
        }
    }
}

/// A key or a value handed to the storage: a Lua value, or a short string as its bytes. The
/// interpreter hands over the bytes of a concatenation whose only use is one external-table
/// access, so that no string object is made (interned, then swept) for it.
#[derive(Clone, Copy)]
pub enum Stored<'a, 'gc> {
    Value(Value<'gc>),
    Str(&'a [u8]),
}

impl<'gc> Stored<'_, 'gc> {
    /// As a Lua value (a string object for bytes).
    pub fn value(self, ctx: Ctx<'gc>) -> Value<'gc> {
        match self {
            Stored::Value(v) => v,
            Stored::Str(bytes) => ctx.str_value(bytes),
        }
    }
}

/// The embedder's storage for external tables. Keys arrive normalised (no nil, no NaN, no
/// float with an integral value). Each method may charge fuel for host work with
/// [`Ctx::charge_fuel`]; errors are raised in the running Lua code.
pub trait External {
    /// `t[key]`, nil when absent.
    fn get<'gc>(
        &self,
        ctx: Ctx<'gc>,
        id: u32,
        key: Stored<'_, 'gc>,
    ) -> Result<Value<'gc>, Error<'gc>>;
    /// `t[key] = value`; a nil value deletes. `running` reads what stored closures capture.
    fn set<'gc>(
        &self,
        ctx: Ctx<'gc>,
        running: &Running<'_, 'gc>,
        id: u32,
        key: Stored<'_, 'gc>,
        value: Stored<'_, 'gc>,
    ) -> Result<(), Error<'gc>>;
    /// The entry after `key` (nil: the first), `None` at the end; an error when `key` is not
    /// in the table (`invalid key to 'next'`).
    fn next<'gc>(
        &self,
        ctx: Ctx<'gc>,
        id: u32,
        key: Value<'gc>,
    ) -> Result<Option<(Value<'gc>, Value<'gc>)>, Error<'gc>>;
    /// A border of the table (as `#` defines it). [`border`] finds one in a bounded number
    /// of probes.
    fn length<'gc>(&self, ctx: Ctx<'gc>, id: u32) -> Result<i64, Error<'gc>>;
    /// The storage itself, for the embedder's own library functions to find it again
    /// through [`Ctx::external_storage`].
    fn as_any(&self) -> &dyn core::any::Any;
}

/// The embedder's storage, shared by the state.
pub type Storage = Rc<dyn External>;

/// A border of a table whose integer keys `present` reports, starting from `hint` (a border
/// found before, or 0), and the number of probes made: at most about 130 whatever the keys,
/// so a table built to defeat the search cannot make `#` run long.
pub fn border<E>(
    hint: i64,
    mut present: impl FnMut(i64) -> Result<bool, E>,
) -> Result<(i64, u32), E> {
    let mut probes = 0u32;
    let mut has = |i: i64| {
        probes += 1;
        present(i)
    };
    // `lo` is 0 or present, `hi` is absent (or past the integers).
    let (mut lo, mut hi): (i64, Option<i64>);
    if hint > 0 && has(hint)? {
        if hint == i64::MAX || !has(hint + 1)? {
            return Ok((hint, probes));
        }
        lo = hint + 1;
        hi = None;
    } else {
        if !has(1)? {
            return Ok((0, probes));
        }
        lo = 1;
        hi = None;
    }
    // Doubling until a key is absent or the integers end.
    while hi.is_none() {
        let next = lo.checked_mul(2).unwrap_or(i64::MAX);
        if has(next)? {
            if next == i64::MAX {
                return Ok((i64::MAX, probes));
            }
            lo = next;
        } else {
            hi = Some(next);
        }
    }
    let mut hi = hi.unwrap_or(i64::MAX);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if has(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok((lo, probes))
}

#[inline]
fn storage<'gc>(ctx: Ctx<'gc>) -> Result<&'gc dyn External, Error<'gc>> {
    ctx.external_storage()
        .ok_or_else(|| Error::runtime("external tables are not available in this state"))
}

/// `t[key]` without metamethods, for any table.
pub fn raw_get<'gc>(
    ctx: Ctx<'gc>,
    t: Table<'gc>,
    key: Value<'gc>,
) -> Result<Value<'gc>, Error<'gc>> {
    match t.external_id() {
        None => Ok(t.get(key)),
        Some(id) => get(ctx, id, key),
    }
}

/// `t[key]` for external table `id`; a key no table can hold (nil, NaN) reads nil.
pub(crate) fn get<'gc>(ctx: Ctx<'gc>, id: u32, key: Value<'gc>) -> Result<Value<'gc>, Error<'gc>> {
    match normalize_key(key) {
        Ok(key) => storage(ctx)?.get(ctx, id, Stored::Value(key)),
        Err(_) => Ok(Value::Nil),
    }
}

/// `t[key] = value` without metamethods, for any table, with Lua's errors for bad keys.
pub fn raw_set<'gc>(
    ctx: Ctx<'gc>,
    running: &Running<'_, 'gc>,
    t: Table<'gc>,
    key: Value<'gc>,
    value: Value<'gc>,
) -> Result<(), Error<'gc>> {
    match t.external_id() {
        None => crate::interp::raw_set(ctx, t, key, value),
        Some(id) => set(ctx, running, id, key, value),
    }
}

/// `t[key] = value` for external table `id`, with Lua's errors for bad keys.
pub(crate) fn set<'gc>(
    ctx: Ctx<'gc>,
    running: &Running<'_, 'gc>,
    id: u32,
    key: Value<'gc>,
    value: Value<'gc>,
) -> Result<(), Error<'gc>> {
    store(ctx, running, id, Stored::Value(key), Stored::Value(value))
}

/// [`set`] where the key or the value may be a short string's bytes.
pub(crate) fn store<'gc>(
    ctx: Ctx<'gc>,
    running: &Running<'_, 'gc>,
    id: u32,
    key: Stored<'_, 'gc>,
    value: Stored<'_, 'gc>,
) -> Result<(), Error<'gc>> {
    let key = match key {
        Stored::Value(k) => {
            Stored::Value(normalize_key(k).map_err(|e| Error::runtime(e.message()))?)
        }
        bytes => bytes,
    };
    storage(ctx)?.set(ctx, running, id, key, value)
}

/// [`get`] of a short string key given as its bytes.
pub(crate) fn get_str<'gc>(ctx: Ctx<'gc>, id: u32, key: &[u8]) -> Result<Value<'gc>, Error<'gc>> {
    storage(ctx)?.get(ctx, id, Stored::Str(key))
}

/// `next(t, key)` for any table.
pub fn next<'gc>(
    ctx: Ctx<'gc>,
    t: Table<'gc>,
    key: Value<'gc>,
) -> Result<Option<(Value<'gc>, Value<'gc>)>, Error<'gc>> {
    let invalid = || Error::runtime("invalid key to 'next'");
    match t.external_id() {
        None => t.next(key).map_err(|()| invalid()),
        Some(id) => {
            let key = match key {
                Value::Nil => Value::Nil,
                other => normalize_key(other).map_err(|_| invalid())?,
            };
            storage(ctx)?.next(ctx, id, key)
        }
    }
}

/// The base library's `next`. The interpreter knows it: `pairs` loops over a table of the
/// state run it in place, without a call.
pub fn next_native<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
) -> Result<Action<'gc>, Error<'gc>> {
    let t = call.check_table(ctx, 0)?;
    match next(ctx, t, call.arg(1))? {
        Some((k, v)) => call.ret(&[k, v]),
        None => call.ret1(Value::Nil),
    }
}

/// `rawlen(t)`: a border, for any table.
pub fn length<'gc>(ctx: Ctx<'gc>, t: Table<'gc>) -> Result<i64, Error<'gc>> {
    match t.external_id() {
        None => Ok(t.length()),
        Some(id) => storage(ctx)?.length(ctx, id),
    }
}
