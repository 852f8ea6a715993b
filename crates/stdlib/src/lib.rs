//! The Lua 5.4 standard library for lua-persist's VM: one module per Lua library, each
//! registering its functions, all built on [`vm::lib`].
//!
//! Natives hand `NativeCall::ret1` a `Value` (`Value::from(n)`, not `n`): `ret1` is generic,
//! and each other argument type would add a copy of it to the module.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

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

use vm::function::NativeClosure;
use vm::lib::NativeFn;
use vm::state::Ctx;
use vm::table::Table;
use vm::value::Value;

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
