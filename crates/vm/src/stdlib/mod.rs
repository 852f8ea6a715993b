//! The standard library: one module per Lua library, each registering its functions.
//!
//! Natives hand `NativeCall::ret1` a `Value` (`Value::from(n)`, not `n`): `ret1` is generic,
//! and each other argument type would add a copy of it to the module.

pub(crate) mod access;
pub mod base;
pub mod coroutine;
pub mod debug;
pub mod dump;
pub mod io;
pub mod load_file;
pub mod math;
pub mod os;
pub mod package;
pub mod string;
pub mod table;
pub mod utf8;

#[cfg(test)]
mod tests;

use alloc::vec::Vec;

use crate::function::NativeClosure;
use crate::interp::{Error, NativeFn};
use crate::state::Ctx;
use crate::table::Table;
use crate::value::Value;

/// Opens every library into the globals and `package.loaded`.
pub fn open(ctx: Ctx<'_>) {
    let loaded = ctx.new_table();
    set_field(ctx, ctx.registry(), b"_LOADED", Value::Table(loaded));
    base::open(ctx);
    load_file::open(ctx);
    package::open(ctx);
    coroutine::open(ctx);
    string::open(ctx);
    table::open(ctx);
    io::open(ctx);
    math::open(ctx);
    os::open(ctx);
    utf8::open(ctx);
    debug::open(ctx);
    dump::open(ctx);
}

/// Sets `t[name] = value`. Out of line: the libraries' set-up sets well over a hundred
/// fields, and inlined each would cost a table write and an interning.
#[inline(never)]
pub fn set_field<'gc>(ctx: Ctx<'gc>, t: Table<'gc>, name: &[u8], value: Value<'gc>) {
    t.set_str(ctx.mc, ctx.intern(name), value);
}

/// Sets `t[name]` to the native function `f` for each pair of `functions`.
pub fn set_fns<'gc>(ctx: Ctx<'gc>, t: Table<'gc>, functions: &[(&'static str, NativeFn)]) {
    for &(name, f) in functions {
        let closure = NativeClosure::new(ctx.mc, name, f);
        set_field(ctx, t, name.as_bytes(), Value::from(closure));
    }
}

/// A library table with `functions`, stored as global `name` and in `package.loaded`.
pub fn register_lib<'gc>(
    ctx: Ctx<'gc>,
    name: &'static str,
    functions: &[(&'static str, NativeFn)],
) -> Table<'gc> {
    let t = ctx.new_table();
    set_fns(ctx, t, functions);
    set_global_lib(ctx, name.as_bytes(), t);
    t
}

/// Stores a library table as global `name` and in `package.loaded`.
fn set_global_lib<'gc>(ctx: Ctx<'gc>, name: &[u8], t: Table<'gc>) {
    set_field(ctx, ctx.globals(), name, Value::Table(t));
    if let Value::Table(loaded) = ctx.loaded_table() {
        set_field(ctx, loaded, name, Value::Table(t));
    }
}

/// Makes room in `buf` for `total` bytes, to become a string of that length. Past the
/// longest string the state allows, or when the buffer and the string made from it would
/// pass the memory limit, or when the allocator refuses, it is lua5.4's memory error
/// rather than an abort. Copying is charged to fuel by its length.
pub(crate) fn reserve<'gc>(
    ctx: Ctx<'gc>,
    buf: &mut Vec<u8>,
    total: usize,
) -> Result<(), Error<'gc>> {
    let more = total.saturating_sub(buf.len());
    if total > ctx.max_string_len()
        || ctx.check_alloc(total.saturating_mul(2)).is_err()
        || buf.try_reserve_exact(more).is_err()
    {
        return Err(ctx.memory_error());
    }
    charge_bytes(ctx, more);
    Ok(())
}

/// Appends to a string being built (see [`grow`]); the caller charges the copying.
#[inline]
pub(crate) fn append<'gc>(
    ctx: Ctx<'gc>,
    buf: &mut Vec<u8>,
    bytes: &[u8],
) -> Result<(), Error<'gc>> {
    grow(ctx, buf, bytes.len())?;
    buf.extend_from_slice(bytes);
    Ok(())
}

/// Makes room for `n` more bytes in a string being built, within the longest string the
/// state allows and the memory limit (counting the buffer and the string it becomes).
#[inline]
pub(crate) fn grow<'gc>(ctx: Ctx<'gc>, buf: &mut Vec<u8>, n: usize) -> Result<(), Error<'gc>> {
    if buf.capacity() - buf.len() < n {
        return grow_buffer(ctx, buf, n);
    }
    Ok(())
}

/// The buffer doubles, but never past the longest string, so its capacity bounds it.
#[cold]
fn grow_buffer<'gc>(ctx: Ctx<'gc>, buf: &mut Vec<u8>, n: usize) -> Result<(), Error<'gc>> {
    let total = buf.len().saturating_add(n);
    let max = ctx.max_string_len();
    let grown = buf.capacity().saturating_mul(2).min(max).max(total);
    if total > max
        || ctx.check_alloc(grown.saturating_add(total)).is_err()
        || buf.try_reserve_exact(grown - buf.len()).is_err()
    {
        return Err(ctx.memory_error());
    }
    Ok(())
}

/// Bytes copied for one instruction's worth of fuel.
const BYTES_PER_FUEL: usize = 64;

/// Charges the copying of `n` bytes to fuel, so that long copies count against the limit.
#[inline]
pub(crate) fn charge_bytes(ctx: Ctx<'_>, n: usize) {
    ctx.charge_fuel((n / BYTES_PER_FUEL) as i64);
}
