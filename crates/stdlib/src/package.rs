//! The `package` library and `require`, as lua5.4 has them: `package.loaded` (the
//! registry's `_LOADED`), `package.preload`, paths from `LUA_PATH_5_4`/`LUA_PATH` (and the
//! `CPATH` pair) through [`Host::getenv`] with `;;` standing for the default, and the four
//! searchers. Lua modules load through [`Host::open`]; C modules cannot load here, so the C
//! searchers report any library they find as unloadable and `package.loadlib` fails.
//!
//! `require` runs searchers and loaders as calls the interpreter makes (a loader may
//! yield), keeping its state in its argument slots.
//!
//! [`Host::getenv`]: vm::Host::getenv
//! [`Host::open`]: vm::Host::open

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use vm::function::NativeClosure;
use vm::host::OpenMode;
use vm::lib::{at, bug, Action, Cont, Error, NativeCall, NativeFn, Outcome};
use vm::state::Ctx;
use vm::table::Table;
use vm::value::Value;

use super::load_file::load_file;
use super::{register_lib, set_field};

type R<'gc> = Result<Action<'gc>, Error<'gc>>;

/// `package.path` without `LUA_PATH`, as Debian's lua5.4 has it.
pub const DEFAULT_PATH: &str =
    "/usr/local/share/lua/5.4/?.lua;/usr/local/share/lua/5.4/?/init.lua;\
/usr/local/lib/lua/5.4/?.lua;/usr/local/lib/lua/5.4/?/init.lua;\
/usr/share/lua/5.4/?.lua;/usr/share/lua/5.4/?/init.lua;./?.lua;./?/init.lua";

/// `package.cpath` without `LUA_CPATH`, as Debian's lua5.4 (x86-64) has it.
pub const DEFAULT_CPATH: &str =
    "/usr/local/lib/lua/5.4/?.so;/usr/lib/x86_64-linux-gnu/lua/5.4/?.so;\
/usr/lib/lua/5.4/?.so;/usr/local/lib/lua/5.4/loadall.so;./?.so";

/// Why a C module found on `package.cpath` does not load.
const NO_C_MODULES: &str = "C modules are not supported";

/// Registry keys: preloaded loaders, and the flag `lua -E` sets.
const PRELOAD: &[u8] = b"_PRELOAD";
const NO_ENV: &[u8] = b"LUA_NOENV";

pub fn open<'gc>(ctx: Ctx<'gc>) {
    let package = register_lib(
        ctx,
        "package",
        &[("loadlib", loadlib), ("searchpath", searchpath)],
    );
    let with_package = |name: &'static str, f: NativeFn| {
        Value::from(NativeClosure::with_upvals(
            ctx.mc,
            name,
            f,
            Box::new([Value::Table(package)]),
        ))
    };
    let searchers = ctx.new_table();
    let searcher_fns: [(&'static str, NativeFn); 4] = [
        ("searcher_preload", search_preload),
        ("searcher_Lua", search_lua),
        ("searcher_C", search_c),
        ("searcher_Croot", search_c_root),
    ];
    for (i, (name, f)) in searcher_fns.into_iter().enumerate() {
        searchers.set_int(ctx.mc, i as i64 + 1, with_package(name, f));
    }
    set_field(ctx, package, b"searchers", Value::Table(searchers));
    set_field(ctx, package, b"config", ctx.str_value(b"/\n;\n?\n!\n-\n"));
    set_field(ctx, package, b"loaded", ctx.loaded_table());
    let preload = ctx.new_table();
    set_field(ctx, ctx.registry(), PRELOAD, Value::Table(preload));
    set_field(ctx, package, b"preload", Value::Table(preload));
    set_paths(ctx, package);
    set_field(
        ctx,
        ctx.globals(),
        b"require",
        with_package("require", require),
    );
}

/// What `lua -E` does: `package.path` and `package.cpath` ignore `LUA_PATH` and the like.
pub fn ignore_environment(ctx: Ctx<'_>) {
    ctx.registry()
        .set_str(ctx.mc, ctx.intern(NO_ENV), Value::Boolean(true));
    if let Value::Table(loaded) = ctx.loaded_table() {
        if let Value::Table(package) = loaded.get_str(ctx.intern(b"package")) {
            set_paths(ctx, package);
        }
    }
}

fn set_paths<'gc>(ctx: Ctx<'gc>, package: Table<'gc>) {
    let ignore_env = ctx.registry().get_str(ctx.intern(NO_ENV)).is_truthy();
    for (field, versioned, var, default) in [
        ("path", "LUA_PATH_5_4", "LUA_PATH", DEFAULT_PATH),
        ("cpath", "LUA_CPATH_5_4", "LUA_CPATH", DEFAULT_CPATH),
    ] {
        let from_env = (!ignore_env)
            .then(|| {
                ctx.with_host(|h| {
                    h.getenv(versioned.as_bytes())
                        .or_else(|| h.getenv(var.as_bytes()))
                })
            })
            .flatten();
        let path = match from_env {
            Some(p) => with_default(&p, default.as_bytes()),
            None => default.as_bytes().to_vec(),
        };
        set_field(ctx, package, field.as_bytes(), ctx.str_value(&path));
    }
}

/// A path from the environment with its first `;;` replaced by the default path.
fn with_default(path: &[u8], default: &[u8]) -> Vec<u8> {
    let Some(at) = path.windows(2).position(|w| w == b";;") else {
        return path.to_vec();
    };
    let mut out = Vec::new();
    if at > 0 {
        out.extend_from_slice(&path[..at]);
        out.push(b';');
    }
    out.extend_from_slice(default);
    if at + 2 < path.len() {
        out.push(b';');
        out.extend_from_slice(&path[at + 2..]);
    }
    out
}

/// Whether the host can open `path` for reading.
fn readable(ctx: Ctx<'_>, path: &[u8]) -> bool {
    match ctx.with_host(|h| h.open(path, OpenMode::Read)) {
        Ok(f) => {
            let _ = f.close();
            true
        }
        Err(_) => false,
    }
}

/// The first readable file among `path`'s templates with `?` replaced by `name` (whose
/// `sep`s become `dir_sep`s), or the list of files tried as `require` reports them.
fn search_path(
    ctx: Ctx<'_>,
    name: &[u8],
    path: &[u8],
    sep: &[u8],
    dir_sep: &[u8],
) -> Result<Vec<u8>, Vec<u8>> {
    let name = if sep.is_empty() {
        name.to_vec()
    } else {
        replace(name, sep, dir_sep)
    };
    let candidates = replace(path, b"?", &name);
    let mut tried = b"no file '".to_vec();
    for (i, candidate) in candidates.split(|&c| c == b';').enumerate() {
        if readable(ctx, candidate) {
            return Ok(candidate.to_vec());
        }
        if i > 0 {
            tried.extend_from_slice(b"'\n\tno file '");
        }
        tried.extend_from_slice(candidate);
    }
    tried.push(b'\'');
    Err(tried)
}

/// `text` with every `from` replaced by `to` (`luaL_gsub`).
fn replace(text: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(at(rest, ..pos));
        out.extend_from_slice(to);
        rest = at(rest, pos + from.len()..);
    }
    out.extend_from_slice(rest);
    out
}

fn searchpath<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let name = call.check_bytes(ctx, 0)?;
    let path = call.check_bytes(ctx, 1)?;
    let sep = call.opt_string(ctx, 2)?.map_or(&b"."[..], |s| s.as_bytes());
    let dir_sep = call.opt_string(ctx, 3)?.map_or(&b"/"[..], |s| s.as_bytes());
    match search_path(ctx, name, path, sep, dir_sep) {
        Ok(file) => call.ret1(ctx.str_value(&file)),
        Err(tried) => call.ret(&[Value::Nil, ctx.str_value(&tried)]),
    }
}

fn loadlib<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    call.check_bytes(ctx, 0)?;
    call.check_bytes(ctx, 1)?;
    call.ret(&[
        Value::Nil,
        ctx.str_value(NO_C_MODULES.as_bytes()),
        ctx.str_value(b"absent"),
    ])
}

/// `package[field]` as a path (`package.path` must be a string).
fn package_path<'gc>(
    ctx: Ctx<'gc>,
    call: &NativeCall<'_, 'gc>,
    field: &str,
) -> Result<Vec<u8>, Error<'gc>> {
    let Value::Table(package) = call.upval(0) else {
        bug() // searchers keep the package table
    };
    match package.get_str(ctx.intern(field.as_bytes())) {
        v @ (Value::String(_) | Value::Integer(_) | Value::Float(_)) => {
            Ok(vm::lib::tostring_plain(ctx, v))
        }
        _ => Err(Error::runtime(format!(
            "'package.{field}' must be a string"
        ))),
    }
}

fn load_error<'gc>(name: &[u8], file: &[u8], why: &[u8]) -> Error<'gc> {
    Error::runtime(format!(
        "error loading module '{}' from file '{}':\n\t{}",
        String::from_utf8_lossy(name),
        String::from_utf8_lossy(file),
        String::from_utf8_lossy(why)
    ))
}

fn search_preload<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let name = call.check_string(ctx, 0)?;
    let loader = match ctx.registry().get_str(ctx.intern(PRELOAD)) {
        Value::Table(preload) => preload.get_str(name),
        _ => Value::Nil,
    };
    if loader.is_nil() {
        let msg = format!("no field package.preload['{}']", name.to_str_lossy());
        return call.ret1(ctx.str_value(msg.as_bytes()));
    }
    call.ret(&[loader, ctx.str_value(b":preload:")])
}

fn search_lua<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let name = call.check_bytes(ctx, 0)?;
    let path = package_path(ctx, call, "path")?;
    let file = match search_path(ctx, name, &path, b".", b"/") {
        Ok(file) => file,
        Err(tried) => return call.ret1(ctx.str_value(&tried)),
    };
    match load_file(ctx, Some(&file), b"bt", None) {
        Ok(f) => call.ret(&[Value::from(f), ctx.str_value(&file)]),
        Err(why) => Err(load_error(name, &file, &why)),
    }
}

fn search_c<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let name = call.check_bytes(ctx, 0)?;
    let path = package_path(ctx, call, "cpath")?;
    match search_path(ctx, name, &path, b".", b"/") {
        Ok(file) => Err(load_error(name, &file, NO_C_MODULES.as_bytes())),
        Err(tried) => call.ret1(ctx.str_value(&tried)),
    }
}

/// The C searcher for `a.b.c` looking for the library of its root `a`.
fn search_c_root<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let name = call.check_bytes(ctx, 0)?;
    let Some(dot) = name.iter().position(|&c| c == b'.') else {
        return call.ret0();
    };
    let path = package_path(ctx, call, "cpath")?;
    match search_path(ctx, &name[..dot], &path, b".", b"/") {
        Ok(file) => Err(load_error(name, &file, NO_C_MODULES.as_bytes())),
        Err(tried) => call.ret1(ctx.str_value(&tried)),
    }
}

/// `require`'s slots while it works: the name, the searchers, the message so far, then the
/// loader data.
const NAME: usize = 0;
const SEARCHERS: usize = 1;
const MESSAGE: usize = 2;
const DATA: usize = 3;

fn loaded<'gc>(ctx: Ctx<'gc>) -> Result<Table<'gc>, Error<'gc>> {
    match ctx.loaded_table() {
        Value::Table(t) => Ok(t),
        _ => Err(Error::runtime("'package.loaded' must be a table")),
    }
}

fn require<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let name = call.check_string(ctx, NAME)?;
    call.set_nargs(1);
    let module = loaded(ctx)?.get_str(name);
    if module.is_truthy() {
        return call.ret1(module);
    }
    let Value::Table(package) = call.upval(0) else {
        bug() // require keeps the package table
    };
    let searchers = package.get_str(ctx.intern(b"searchers"));
    if !matches!(searchers, Value::Table(_)) {
        return Err(Error::runtime("'package.searchers' must be a table"));
    }
    call.push(searchers);
    call.push(ctx.str_value(b""));
    call_searcher(call, 1)
}

/// Calls searcher `i`, or fails with every place the searchers looked.
fn call_searcher<'gc>(call: &mut NativeCall<'_, 'gc>, i: i64) -> R<'gc> {
    let (Value::Table(searchers), Value::String(name), Value::String(message)) =
        (call.arg(SEARCHERS), call.arg(NAME), call.arg(MESSAGE))
    else {
        bug() // require keeps its state in its slots
    };
    let searcher = searchers.get_int(i);
    if searcher.is_nil() {
        return Err(Error::runtime(format!(
            "module '{}' not found:{}",
            name.to_str_lossy(),
            message.to_str_lossy()
        )));
    }
    call.set_nargs(DATA);
    call.push(searcher);
    call.push(Value::String(name));
    Ok(Action::Call {
        at: DATA,
        then: Cont::with_state(searcher_done, i),
    })
}

fn searcher_done<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    outcome: Outcome<'gc>,
) -> R<'gc> {
    let Outcome::Returned { at } = outcome else {
        bug() // require does not catch
    };
    let (found, data) = (call.arg(at), call.arg(at + 1));
    call.set_nargs(DATA);
    match found {
        Value::Function(_) => {
            let name = call.arg(NAME);
            call.push(data);
            call.push(found);
            call.push(name);
            call.push(data);
            return Ok(Action::Call {
                at: DATA + 1,
                then: Cont::new(loader_done),
            });
        }
        Value::String(_) | Value::Integer(_) | Value::Float(_) => {
            let Value::String(message) = call.arg(MESSAGE) else {
                bug() // require keeps its message in a slot
            };
            let why = vm::lib::tostring_plain(ctx, found);
            let parts: [&[u8]; 3] = [message.as_bytes(), b"\n\t", &why];
            call.set_arg(MESSAGE, Value::String(ctx.concat(&parts)));
        }
        _ => {}
    }
    call_searcher(call, call.state() + 1)
}

fn loader_done<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    outcome: Outcome<'gc>,
) -> R<'gc> {
    let Outcome::Returned { at } = outcome else {
        bug() // require does not catch
    };
    let result = call.arg(at);
    call.set_nargs(DATA + 1);
    let Value::String(name) = call.arg(NAME) else {
        bug() // require keeps the name in its first slot
    };
    let loaded = loaded(ctx)?;
    if !result.is_nil() {
        loaded.set_str(ctx.mc, name, result);
    }
    let mut module = loaded.get_str(name);
    if module.is_nil() {
        module = Value::Boolean(true);
        loaded.set_str(ctx.mc, name, module);
    }
    call.ret(&[module, call.arg(DATA)])
}

#[cfg(test)]
mod tests {
    use super::{replace, with_default};

    #[test]
    fn a_double_semicolon_stands_for_the_default() {
        let d = b"D";
        assert_eq!(with_default(b"x", d), b"x");
        assert_eq!(with_default(b";;", d), b"D");
        assert_eq!(with_default(b";", d), b";");
        assert_eq!(with_default(b"a;;b", d), b"a;D;b");
        assert_eq!(with_default(b";;b", d), b"D;b");
        assert_eq!(with_default(b"a;;", d), b"a;D");
        assert_eq!(with_default(b"a;b;;c;;", d), b"a;b;D;c;;");
    }

    #[test]
    fn replacing_replaces_every_occurrence() {
        assert_eq!(replace(b"a.b.c", b".", b"/"), b"a/b/c");
        assert_eq!(replace(b"?;./?.lua", b"?", b"m"), b"m;./m.lua");
        assert_eq!(replace(b"a::b", b"::", b"/"), b"a/b");
    }
}
